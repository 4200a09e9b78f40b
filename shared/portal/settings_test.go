package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// An admin changes the settings through the form, as lockbox-settings'
// PUT would: the version read is the If-Match, the change is audited,
// webhook secrets are write-only.
func TestSettingsForm(t *testing.T) {
	e := setup(t)
	ada, csrf := e.As("ada", "contoso", lockbox.RoleAdmin)
	page := ada.Get("/settings")
	require.Equal(t, http.StatusOK, page.Status)
	assert.Contains(t, page.Body, `name="version" value="0"`)
	assert.Contains(t, page.Body, `<label for="document">`)
	assert.Contains(t, page.Body, "&#34;requiredApprovals&#34;: 1")

	doc := `{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example"}],"reminders":["24h"],"requiredApprovals":2,` +
		`"maxDuration":4,"rules":[],"webhooks":[{"id":"soc","url":"https://93.184.215.14/hook","format":"standard","secret":"` + hookSecret + `"}]}`
	p := ada.Post("/settings", url.Values{"csrf": {csrf}, "version": {"0"}, "document": {doc}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/settings", p.Location())
	set, err := e.Store.Settings(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, int64(1), set.Version)
	assert.Equal(t, 2, set.RequiredApprovals)
	assert.Equal(t, "ada", set.UpdatedBy)
	assert.Equal(t, hookSecret, set.Webhooks[0].Secret)
	logged, err := e.Store.ReadEvents(t.Context(), "contoso", "", "", 10)
	require.NoError(t, err)
	last := logged[len(logged)-1].Event
	assert.Equal(t, lockbox.OpUpdateSettings, last.OperationName)
	assert.Equal(t, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, last.Actor)
	assert.Contains(t, last.Reason, "requiredApprovals 1 → 2", "the change is audited, naming what changed")

	page = ada.Get("/settings")
	assert.Contains(t, page.Body, "Settings saved: version 1.")
	assert.Contains(t, page.Body, `name="version" value="1"`)
	assert.NotContains(t, page.Body, hookSecret, "webhook secrets are never shown")

	// Saved again without the secret: the stored one is kept.
	doc2 := strings.Replace(doc, `,"secret":"`+hookSecret+`"`, "", 1)
	doc2 = strings.Replace(doc2, `"requiredApprovals":2`, `"requiredApprovals":3`, 1)
	p = ada.Post("/settings", url.Values{"csrf": {csrf}, "version": {"1"}, "document": {doc2}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	set, _ = e.Store.Settings(t.Context(), "contoso")
	assert.Equal(t, hookSecret, set.Webhooks[0].Secret)
	assert.Equal(t, 3, set.RequiredApprovals)

	// A stale version: 412, the edit shown again, nothing stored.
	before := state(e)
	edited := strings.Replace(doc2, `"requiredApprovals":3`, `"requiredApprovals":5`, 1)
	p = ada.Post("/settings", url.Values{"csrf": {csrf}, "version": {"1"}, "document": {edited}})
	assert.Equal(t, http.StatusPreconditionFailed, p.Status)
	assert.Contains(t, p.Body, "The settings were not saved: the settings changed since they were read")
	assert.Contains(t, p.Body, "&#34;requiredApprovals&#34;:5", "the edit is kept in the form")
	assert.Contains(t, p.Body, `name="version" value="1"`, "still the version read")
	assert.Equal(t, before, state(e))

	// Invalid: 400 naming the field, nothing stored.
	p = ada.Post("/settings", url.Values{"csrf": {csrf}, "version": {"2"}, "document": {strings.Replace(doc2, `"format":"standard"`, `"format":"<b>"`, 1)}})
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Contains(t, p.Body, "webhooks[0].format must be")
	assert.NotContains(t, p.Body, "<b>")
	assert.Equal(t, before, state(e))

	// A private webhook address is refused at save, as lockbox-settings does.
	p = ada.Post("/settings", url.Values{"csrf": {csrf}, "version": {"2"}, "document": {strings.Replace(doc2, "93.184.215.14", "127.0.0.1", 1)}})
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Contains(t, p.Body, "webhooks[0].url")
	assert.Equal(t, before, state(e))
}

// Approvers and readers read the settings; they get no form, and a forged
// save is refused.
func TestSettingsReadOnly(t *testing.T) {
	e := setup(t)
	for _, role := range []lockbox.Role{lockbox.RoleApprover, lockbox.RoleReader} {
		b, csrf := e.As("someone", "contoso", role)
		p := b.Get("/settings")
		require.Equal(t, http.StatusOK, p.Status)
		assert.NotContains(t, p.Body, `name="document"`)
		assert.Contains(t, p.Body, "administrators may change the settings.")
		before := state(e)
		p = b.Post("/settings", url.Values{"csrf": {csrf}, "version": {"0"}, "document": {`{"enabled":false,"approvers":[],"reminders":[],"requiredApprovals":1,"rules":[],"webhooks":[]}`}})
		assert.Equal(t, http.StatusForbidden, p.Status, role)
		assert.Equal(t, before, state(e))
	}
}

// The settings form, without JavaScript: an admin adds and removes an
// approver, adds a rule from its parts and removes another, and sets the
// numbers; the same use case as the JSON document stores it (the version
// read as If-Match, audited, webhook secrets kept), and "In force" says
// it all in words.
func TestSettingsFormFields(t *testing.T) {
	e := setup(t)
	ada, csrf := e.As("ada", "contoso", lockbox.RoleAdmin)
	doc := `{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","displayName":"Alice Approver"},` +
		`{"id":"bob","email":"bob@contoso.example"}],"reminders":["24h","2h"],"requiredApprovals":1,` +
		`"rules":[{"name":"weekday-readonly","effect":"autoApprove","match":{"accessLevels":["ReadOnly"],"schedule":{"timezone":"Europe/Berlin","days":["Mon","Tue","Wed","Thu","Fri"],"from":"08:00","to":"18:00"}}}],` +
		`"webhooks":[{"id":"soc","url":"https://93.184.215.14/hook","format":"slack","secret":"` + hookSecret + `"}]}`
	require.Equal(t, http.StatusSeeOther, ada.Post("/settings", url.Values{"csrf": {csrf}, "version": {"0"}, "document": {doc}}).Status)

	page := ada.Get("/settings")
	require.Equal(t, http.StatusOK, page.Status)
	for _, want := range []string{
		"Auto-approve requests for ReadOnly access, filed within Mon–Fri 08:00–18:00 Europe/Berlin",
		"Longest grant</dt><dd>24 hours (the deployment&#39;s cap)",
		"Alice Approver &lt;alice@contoso.example&gt;",
		"24 hours and 2 hours before the approval window closes",
		"Slack to https://93.184.215.14/hook: every event",
		`action="/function/lockbox-portal/settings/form"`, `name="remove-approver" value="bob"`,
		`<summary>For experts: the settings as a JSON document</summary>`,
	} {
		assert.Contains(t, page.Body, want)
	}
	assert.NotContains(t, page.Body, "Rules</dt><dd>1", "rules are said in words, not counted")

	form := url.Values{"csrf": {csrf}, "version": {"1"}, "enabled": {"on"}, "break-glass": {"deny"},
		"remove-approver": {"bob"}, "approver-name": {"Carol Okafor-Lindqvist"}, "approver-email": {"carol@contoso.example"},
		"required-approvals": {"2"}, "max-duration": {"8"}, "reminders": {"24h, 1h"}, "escalate-after": {"12h"},
		"escalation-contacts": {"oncall@contoso.example"},
		"remove-rule":         {"weekday-readonly"}, "rule-name": {"after-hours"}, "rule-effect": {"autoDeny"}, "rule-when": {"outside"},
		"rule-days": {"Fri", "Mon", "Tue", "Wed", "Thu"}, "rule-from": {"08:00"}, "rule-to": {"18:00"}, "rule-timezone": {"Europe/Berlin"}}
	p := ada.Post("/settings/form", form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/settings", p.Location())
	set, err := e.Store.Settings(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, int64(2), set.Version)
	assert.Equal(t, []lockbox.Approver{{ID: "alice", Email: "alice@contoso.example", DisplayName: "Alice Approver"},
		{ID: "carol@contoso.example", Email: "carol@contoso.example", DisplayName: "Carol Okafor-Lindqvist"}}, set.Approvers)
	assert.Equal(t, 2, set.RequiredApprovals)
	require.NotNil(t, set.MaxDuration)
	assert.Equal(t, 8, *set.MaxDuration)
	assert.Equal(t, []string{"24h", "1h"}, set.Reminders)
	assert.Equal(t, lockbox.BreakGlassDeny, set.BreakGlass)
	require.Len(t, set.Rules, 1)
	assert.Equal(t, "after-hours", set.Rules[0].Name)
	assert.Equal(t, &lockbox.Schedule{Timezone: "Europe/Berlin", Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"}, From: "08:00", To: "18:00", Outside: true},
		set.Rules[0].Match.Schedule)
	assert.Equal(t, hookSecret, set.Webhooks[0].Secret, "the webhook's secret is kept")
	logged, err := e.Store.ReadEvents(t.Context(), "contoso", "", "", 10)
	require.NoError(t, err)
	last := logged[len(logged)-1].Event
	assert.Equal(t, lockbox.OpUpdateSettings, last.OperationName)
	assert.Equal(t, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, last.Actor)
	assert.Contains(t, last.Reason, "requiredApprovals 1 → 2")

	page = ada.Get("/settings")
	for _, want := range []string{"Settings saved: version 2.",
		"Auto-deny every request filed outside Mon–Fri 08:00–18:00 Europe/Berlin",
		"8 hours (this tenant&#39;s limit)", "2 different approvers must approve",
		"after 12 hours without a decision, to oncall@contoso.example", "Carol Okafor-Lindqvist &lt;carol@contoso.example&gt;",
		"Emergency access</dt><dd>Refused: every access waits for your approvers", `id="break-glass-deny" name="break-glass" value="deny" checked`} {
		assert.Contains(t, page.Body, want)
	}
	assert.NotContains(t, page.Body, "bob@contoso.example")
	assert.NotContains(t, page.Body, hookSecret)

	// A stale form (version 1 again): 412, nothing stored, its fields kept.
	before := state(e)
	form.Set("approver-email", "dave@contoso.example")
	p = ada.Post("/settings/form", form)
	assert.Equal(t, http.StatusPreconditionFailed, p.Status)
	assert.Contains(t, p.Body, "The settings were not saved: the settings changed since they were read")
	assert.Contains(t, p.Body, `value="dave@contoso.example"`)
	assert.Equal(t, before, state(e))

	// Refusals: 400 naming the problem, nothing stored.
	for field, value := range map[string]string{"required-approvals": "9", "enabled": "maybe", "rule-timezone": "Mars/Olympus",
		"rule-name": "no spaces allowed", "reminders": "soon", "max-duration": "x", "approver-email": "alice@contoso.example"} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("version", "2")
		bad.Set("approver-email", "erin@contoso.example")
		bad.Set(field, value)
		p := ada.Post("/settings/form", bad)
		assert.Equal(t, http.StatusBadRequest, p.Status, "%s=%s: %s", field, value, between(p.Body, "not saved: ", "<"))
		assert.Equal(t, before, state(e), field)
	}

	// Approvers and readers get no form; a forged one is refused.
	b, bcsrf := e.As("alice", "contoso", lockbox.RoleApprover)
	assert.NotContains(t, b.Get("/settings").Body, `settings/form`)
	form.Set("csrf", bcsrf)
	form.Set("version", "2")
	assert.Equal(t, http.StatusForbidden, b.Post("/settings/form", form).Status)
	assert.Equal(t, before, state(e))
}
