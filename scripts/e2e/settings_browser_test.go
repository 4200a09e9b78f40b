package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// The settings form in a real browser, without JavaScript: a customer's
// admin removes an approver and adds one, removes a rule and adds another
// from its parts, and saves; "In force" says the new rule in words, and the
// activity log records the change (UpdateLockboxSettings, naming what
// changed). The page is saved as settings-phone.png and -desktop.png (the
// top: "In force"), settings-form-phone.png and -desktop.png (the form),
// and settings-saved-phone.png (the new rule in force) into LOCKBOX_PORTAL_SCREENSHOTS (make
// screenshots: docs/portal/), or a temporary folder.
func TestSettingsFormInBrowser(t *testing.T) {
	s, b := startWithBrowser(t, stackConfig{}, "/function/lockbox-portal", "LOCKBOX_PORTAL_SCREENSHOTS")
	admin := s.as(t, "contoso", "ada", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := s.call(t, http.MethodPut, "/function/lockbox-settings", `{"enabled":true,"approvers":[`+
		`{"id":"anne-kathrin.mueller-luedenscheidt@contoso-holdings.example","email":"anne-kathrin.mueller-luedenscheidt@contoso-holdings.example","displayName":"Anne-Kathrin Müller-Lüdenscheidt"},`+
		`{"id":"bob","email":"bob.okonkwo-vanderbilt@contoso-holdings.example","displayName":"Bob Okonkwo-Vanderbilt"}],`+
		`"reminders":["24h","2h"],"requiredApprovals":1,"escalation":{"after":"24h","contacts":[{"id":"oncall","email":"security-oncall@contoso-holdings.example"}]},`+
		`"rules":[{"name":"weekday-readonly-vms","effect":"autoApprove","match":{"accessLevels":["ReadOnly"],"resourceTypes":["Microsoft.Compute/virtualMachines"],`+
		`"schedule":{"timezone":"Europe/Berlin","days":["Mon","Tue","Wed","Thu","Fri"],"from":"08:00","to":"18:00"}}}],"webhooks":[]}`, admin)
	require.Equal(t, http.StatusOK, status, string(body))

	b.signIn(s.token(t, "contoso", "ada", lockbox.RoleAdmin))
	b.open("/settings")
	assert.Equal(t, "Settings", b.text("h1"))
	summary := b.text("#summary + dl")
	for _, want := range []string{"Auto-approve requests for ReadOnly access, to Microsoft.Compute/virtualMachines resources, filed within Mon–Fri 08:00–18:00 Europe/Berlin",
		"Longest grant", "(the deployment's cap)", "Bob Okonkwo-Vanderbilt <bob.okonkwo-vanderbilt@contoso-holdings.example>",
		"after 24 hours without a decision, to security-oncall@contoso-holdings.example"} {
		assert.Contains(t, summary, want)
	}
	assert.NotContains(t, summary, "Rules\n1", "rules are said in words")
	b.shot("settings", true)
	b.shotFrom("settings-form", "#edit", true)

	// Remove Bob and the rule; add Carol and an after-hours auto-deny.
	b.do(chromedp.Click(chromedp.CSS(`input[name="remove-approver"][value="bob"]`)),
		chromedp.SetValue(chromedp.ID("approver-name"), "Carol Nakamura-Fitzgerald"),
		chromedp.SetValue(chromedp.ID("approver-email"), "carol.nakamura-fitzgerald@contoso-holdings.example"),
		chromedp.Click(chromedp.CSS(`input[name="remove-rule"][value="weekday-readonly-vms"]`)),
		chromedp.Click(chromedp.CSS(`details.add summary`)),
		chromedp.WaitVisible(chromedp.ID("rule-name")),
		chromedp.SetValue(chromedp.ID("rule-name"), "after-hours"),
		chromedp.Click(chromedp.ID("rule-outside")))
	b.shotFrom("settings-add-rule", `details.add`, false)
	b.do(chromedp.Click(chromedp.CSS(`#settings-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	assert.Contains(t, b.text(".flash"), "Settings saved: version 2.")
	summary = b.text("#summary + dl")
	assert.Contains(t, summary, "Auto-deny every request filed outside Mon–Fri 08:00–18:00 Europe/Berlin")
	assert.Contains(t, summary, "Carol Nakamura-Fitzgerald <carol.nakamura-fitzgerald@contoso-holdings.example>")
	assert.NotContains(t, summary, "Bob Okonkwo-Vanderbilt")
	assert.NotContains(t, summary, "weekday")
	b.shotFrom("settings-saved", "#summary + dl > div:nth-child(4)", false)

	// The change is in the activity log.
	b.open("/activity")
	main := b.text("main")
	if strings.Contains(main, "not available") {
		t.Fatalf("the activity log is not available in this stack: %s", main)
	}
	assert.Contains(t, main, lockbox.OpUpdateSettings)
	assert.Contains(t, main, "after-hours", "the audit names the rule added")
	assert.Contains(t, main, "weekday-readonly-vms", "and the one removed")
	assert.Contains(t, main, "approvers")
}
