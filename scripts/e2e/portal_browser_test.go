package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// The approver portal in a real browser (Debian's chromium, headless,
// driven by chromedp) against the stack make run starts: sign in with the
// token form, see a request filed by webhook, open it, approve it with a
// reason, see it approved and in the activity log; deny another; revoke the
// grant; sign out; an admin's settings; a reader's view without buttons; a
// form posted from another origin refused. Every page is saved as a
// screenshot, phone (375 px) and desktop, into LOCKBOX_PORTAL_SCREENSHOTS
// (make screenshots: docs/portal/), or a temporary folder.
//
// Without chromium the test is skipped, saying how to install it; in CI
// (CI set) that is a failure.
func TestPortalInBrowser(t *testing.T) {
	s, b := startWithBrowser(t, stackConfig{}, "/function/lockbox-portal", "LOCKBOX_PORTAL_SCREENSHOTS")
	portalURL := b.base

	// Requests filed as the ticketing system files them: signed webhooks.
	file := func(support, resource, level, justification string) lockbox.Request {
		// Long, realistic values: Azure resource ids of one resource group
		// (they differ only in their last part), a long name.
		return s.fileRequest(t, lockbox.CreateInput{TenantID: "contoso", ResourceType: resource,
			ResourceIDs: []string{longRG + resource + "/contoso-prod-westeurope-" + strings.ToLower(support)},
			AccessLevel: level, Justification: justification, SupportRequest: support,
			SupportCaseURL: "https://support.example/cases/" + support, WorkItemSource: "ServiceNow",
			Requester: lockbox.Requester{ID: "maximilian.vonhohenberg-schwarzenfels@support.provider.example",
				DisplayName: "Maximilian Alexander von Hohenberg-Schwarzenfels", Email: "maximilian.vonhohenberg-schwarzenfels@support.provider.example"}})
	}
	token := func(sub string, role lockbox.Role) string { return s.token(t, "contoso", sub, role) }
	toApprove := file("INC-2001", "Microsoft.DBforPostgreSQL/flexibleServers", "Read", "Slow queries on the orders database since the upgrade; need to read the query plans.")
	toDeny := file("INC-2002", "Microsoft.Compute/virtualMachines", "RemoteDesktop", "Customer reports the VM does not boot.")
	pending := file("INC-2003", "Microsoft.Storage/storageAccounts", "Read", `Restore of a deleted object; the customer wrote "<script>alert(1)</script>" in the ticket.`)

	// Sign in with the token form.
	b.open("/login")
	b.shot("login", true)
	b.signIn(token("alice", lockbox.RoleApprover))
	require.Equal(t, portalURL+"/", b.location(), "the landing page after sign-in")
	assert.Equal(t, "Pending requests", b.text("h1"))
	main := b.html("main")
	for _, r := range []lockbox.Request{toApprove, toDeny, pending} {
		assert.Contains(t, main, "/requests/"+r.RequestID, "the pending page lists %s", r.SupportRequest)
	}
	b.shot("pending", true)

	// Open the request and approve it with a reason.
	b.do(chromedp.Click(chromedp.CSS(`a[href$="/requests/`+toApprove.RequestID+`"]`)), chromedp.WaitVisible(chromedp.ID("decide")))
	assert.Contains(t, b.text("h1"), "INC-2001")
	assert.Contains(t, b.text("main"), "Slow queries on the orders database")
	b.shot("request", true)
	b.shotAt("request-decide", `button[value="deny"]`, false)
	b.do(chromedp.SetValue(chromedp.ID("reason"), "Checked with the customer on the phone: go ahead."),
		chromedp.SetValue(chromedp.ID("duration"), "4"),
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	assert.Contains(t, b.text(".flash"), "You approved this request")
	assert.Contains(t, b.text("h1"), "Approved")
	assert.Contains(t, b.text("main"), "Checked with the customer on the phone")
	b.shot("request-approved", true)

	// The activity log shows the approval (the archive and the events not
	// yet exported, read like lockbox-activity reads them).
	b.open("/activity")
	if strings.Contains(b.text("main"), "not available") {
		// The portal has no activity log in this deployment (no
		// s3_endpoint): the page says so, and this check cannot run.
		t.Log("SKIPPED the activity log check: the portal's activity page says the log is not available")
	} else {
		assert.Contains(t, b.text("main"), lockbox.OpApprove, "the approval is in the activity log")
		assert.Contains(t, b.html("main"), "/requests/"+toApprove.RequestID)
	}
	b.shot("activity", true)

	// Deny another.
	b.open("/requests/" + toDeny.RequestID)
	b.do(chromedp.SetValue(chromedp.ID("reason"), "Not needed: the customer fixed the VM themselves."),
		chromedp.Click(chromedp.CSS(`button[value="deny"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	assert.Contains(t, b.text(".flash"), "You denied this request.")
	assert.Contains(t, b.text("h1"), "Denied")

	// Revoke the grant.
	b.open("/requests/" + toApprove.RequestID)
	b.do(chromedp.SetValue(chromedp.ID("revoke-reason"), "The case is closed."),
		chromedp.Click(chromedp.CSS(`button[value="revoke"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	assert.Contains(t, b.text(".flash"), "You revoked this grant.")
	assert.Contains(t, b.text("h1"), "Revoked")

	b.open("/requests")
	assert.Contains(t, b.text("main"), "Denied")
	assert.Contains(t, b.text("main"), "Revoked")
	b.shot("history", true)

	// Sign out: the session is gone.
	b.signOut()
	assert.Contains(t, b.text("main"), "You are signed out.")
	b.open("/")
	assert.Equal(t, portalURL+"/login", b.location(), "signed out, the portal asks to sign in")

	// The tenant's admin and the settings.
	b.signIn(token("ada", lockbox.RoleAdmin))
	b.open("/settings")
	assert.Equal(t, "Settings", b.text("h1"))
	b.signOut() // (TestSettingsFormInBrowser saves the settings page's screenshots)

	// A reader sees the requests, and no decision buttons.
	b.signIn(token("rita", lockbox.RoleReader))
	b.open("/requests/" + pending.RequestID)
	assert.Contains(t, b.text("main"), `"<script>alert(1)</script>"`, "the ticket's words are shown as text")
	assert.Zero(t, b.count(`button[name="action"]`), "a reader sees no decision buttons")
	assert.Zero(t, b.count("textarea"), "nor their forms")
	b.shot("reader-request", false)
	b.signOut()

	// A form posted to the portal from another origin (another port of
	// 127.0.0.1: the same site, so the browser sends the session cookie)
	// is refused by the portal's cross-origin check.
	b.signIn(token("alice", lockbox.RoleApprover))
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title><form method="post" action="%s/requests/%s">`+
			`<input type="hidden" name="action" value="deny"><input type="hidden" name="reason" value="forged">`+
			`<input type="hidden" name="csrf" value="forged"><button id="go">Claim your prize</button></form>`, portalURL, pending.RequestID)
	}))
	defer evil.Close()
	b.do(chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.ID("go")),
		chromedp.Click(chromedp.ID("go")), chromedp.WaitVisible(chromedp.CSS("h1")))
	assert.Equal(t, "Not allowed", b.text("h1"))
	assert.Contains(t, b.text("main"), "sent from another site")
	b.shot("cross-origin-refused", false)
	b.open("/requests/" + pending.RequestID)
	assert.Contains(t, b.text("h1"), "Pending", "the forged deny changed nothing")
	b.signOut()
}
