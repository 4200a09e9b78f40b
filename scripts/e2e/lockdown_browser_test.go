package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// The lockdown in a real browser, against make run's stack: the tenant's
// admin locks the tenant down from the settings page through its
// confirmation page (long, realistic values), the live grant is revoked and
// the waiting request canceled, lockbox-check denies the engineer,
// lockbox-create answers 423, and the admin lifts it again. The pages are
// saved into LOCKBOX_PORTAL_SCREENSHOTS (make screenshots: docs/portal/) or
// a temporary folder.
func TestLockdownInBrowser(t *testing.T) {
	s, b := startWithBrowser(t, stackConfig{}, "/function/lockbox-portal", "LOCKBOX_PORTAL_SCREENSHOTS")
	admin := s.as(t, "contoso", "ada.lovelace@contoso-pharmaceuticals.example", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := s.call(t, http.MethodPut, "/function/lockbox-settings",
		`{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","displayName":"Alice Approver"}],"reminders":["24h","2h"],"requiredApprovals":1,"rules":[],"webhooks":[]}`,
		admin)
	require.Equal(t, http.StatusOK, status, string(body))
	const rg = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/"
	in := lockbox.CreateInput{TenantID: "contoso", ResourceType: "Microsoft.Compute/virtualMachines",
		ResourceIDs: []string{rg + "vm-orders-db-primary-01"}, AccessLevel: "Read", SupportRequest: "INC-2077",
		Justification: "Order writes time out since the 02:00 UTC maintenance window.",
		Requester:     lockbox.Requester{ID: "eng-7", DisplayName: "Sam Support", Email: "eng7@provider.example"}}
	live := s.fileRequest(t, in)
	status, body = s.call(t, http.MethodPost, "/function/lockbox-approve", `{"requestId":"`+live.RequestID+`","reason":"ok"}`,
		s.as(t, "contoso", "alice", lockbox.RoleApprover))
	require.Equal(t, http.StatusOK, status, string(body))
	in.Requester = lockbox.Requester{ID: "eng-8", DisplayName: "Kim Support", Email: "eng8@provider.example"}
	waiting := s.fileRequest(t, in)
	engineer := "Bearer " + s.token(t, "contoso", "eng-7", lockbox.RoleRequester)
	check := func() int {
		status, _ := s.call(t, http.MethodGet, "/function/lockbox-check", "", map[string]string{"Authorization": engineer,
			"X-Lockbox-Tenant": "contoso", "X-Lockbox-Resource": rg + "vm-orders-db-primary-01"})
		return status
	}
	require.Equal(t, http.StatusOK, check())

	b.signIn(s.token(t, "contoso", "ada.lovelace@contoso-pharmaceuticals.example", lockbox.RoleAdmin))
	b.open("/settings")
	assert.Contains(t, b.text("#lockdown + p"), "Not locked down.")
	reason := "Suspected credential leak at the provider (their advisory PSIRT-2026-0193, our incident INC-2040-SEC): " +
		"all provider access stops until our security team has rotated every secret the engineers could reach."
	b.do(chromedp.SetValue(chromedp.ID("lockdown-reason"), reason), chromedp.SetValue(chromedp.ID("lockdown-lasts"), "72h"))
	b.shotFrom("settings-lockdown-form", "section.lockdown", true)
	b.do(chromedp.Click(chromedp.CSS(`form[action$="/lockdown"] button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`input[name="confirm"] ~ button`)))
	assert.Equal(t, "Lock down contoso?", b.text("h1"))
	confirm := b.text("main")
	for _, want := range []string{"every live grant is revoked (1 now)", "every request waiting for approval is canceled (1 now)", reason} {
		assert.Contains(t, confirm, want)
	}
	b.shot("lockdown-confirm", true)
	b.do(chromedp.Click(chromedp.CSS(`input[name="confirm"] ~ button`)), chromedp.WaitVisible(chromedp.CSS("section.lockdown-active")))
	assert.Contains(t, b.text(".flash"), "Tenant contoso is locked down: 1 grant revoked, 1 waiting request canceled")
	assert.Contains(t, b.text("section.lockdown"), reason)
	b.shotFrom("settings-locked-down", "section.lockdown", true)

	// The provider's side obeys it.
	assert.Equal(t, http.StatusForbidden, check(), "lockbox-check denies the revoked grant")
	status, body = s.file(t, `{"tenantId":"contoso","resourceType":"Microsoft.Compute/virtualMachines","resourceIds":["vm-1"],`+
		`"accessLevel":"Read","justification":"x","supportRequest":"INC-2078","requester":{"id":"eng-7"}}`)
	assert.Equal(t, http.StatusLocked, status, string(body))
	assert.Contains(t, string(body), "TenantLockedDown")
	for id, want := range map[string]lockbox.Status{live.RequestID: lockbox.StatusRevoked, waiting.RequestID: lockbox.StatusCanceled} {
		status, body := s.call(t, http.MethodGet, "/function/lockbox-list?requestId="+id, "", s.as(t, "contoso", "alice", lockbox.RoleApprover))
		require.Equal(t, http.StatusOK, status)
		var list struct{ Value []lockbox.Request }
		require.NoError(t, json.Unmarshal(body, &list))
		require.Len(t, list.Value, 1)
		assert.Equal(t, want, list.Value[0].Status)
	}
	status, body = s.call(t, http.MethodGet, "/function/lockbox-lockdown", "", s.as(t, "contoso", "alice", lockbox.RoleApprover))
	require.Equal(t, http.StatusOK, status)
	var state lockbox.Lockdown
	require.NoError(t, json.Unmarshal(body, &state))
	assert.True(t, state.Active)
	assert.Equal(t, reason, state.Reason)

	// Lifted from the page.
	b.do(chromedp.SetValue(chromedp.ID("lift-reason"), "Secrets rotated; INC-2040-SEC closed."),
		chromedp.Click(chromedp.CSS(`form[action$="/lockdown/lift"] button`)),
		// The page before the lift has a flash too (the lockdown's): wait for
		// the page after it, whose lockdown section is no longer active.
		chromedp.WaitVisible(chromedp.CSS("section.lockdown:not(.lockdown-active)")))
	assert.True(t, strings.HasPrefix(b.text(".flash"), "The lockdown of contoso is lifted"))
	assert.Contains(t, b.text("section.lockdown"), "Not locked down.")
	status, body = s.file(t, `{"tenantId":"contoso","resourceType":"Microsoft.Compute/virtualMachines","resourceIds":["vm-1"],`+
		`"accessLevel":"Read","justification":"x","supportRequest":"INC-2078","requester":{"id":"eng-7"}}`)
	assert.Equal(t, http.StatusCreated, status, string(body))
}
