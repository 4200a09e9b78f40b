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
