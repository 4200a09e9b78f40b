package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// The approver's mail in a real browser, with long Azure ids: make run's
// mailbox shows it, its HTML part reads on a phone (nothing wider than 375
// px), and its button leads to the request in the portal through the
// sign-in page: signed out, the link opens the sign-in page, and signing in
// with a token lands on the request, not on Pending. The mailbox pages are
// saved as screenshots into LOCKBOX_MAIL_SCREENSHOTS (make screenshots:
// docs/mail/), or a temporary folder.
func TestMailInBrowser(t *testing.T) {
	s, b := startWithBrowser(t, stackConfig{}, "/mailbox", "LOCKBOX_MAIL_SCREENSHOTS")
	gw := s.Gateway
	admin := s.as(t, "contoso", "ada", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := s.call(t, http.MethodPut, "/function/lockbox-settings",
		`{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","displayName":"Alice Approver"}],"reminders":["24h","2h"],"requiredApprovals":1,"rules":[],"webhooks":[]}`,
		admin)
	require.Equal(t, http.StatusOK, status, string(body))
	r := s.fileRequest(t, lockbox.CreateInput{TenantID: "contoso", ResourceType: "Microsoft.Compute/virtualMachines", ResourceIDs: []string{longVM, longDB},
		AccessLevel: "VirtualMachineAdministratorLogin", SupportRequest: "INC-2042", SupportCaseURL: "https://support.provider.example/cases/INC-2042",
		Justification: longJustification,
		Requester: lockbox.Requester{ID: "maximilian.vonhohenberg-schwarzenfels@support.provider.example",
			DisplayName: "Maximilian Alexander von Hohenberg-Schwarzenfels", Email: "maximilian.vonhohenberg-schwarzenfels@support.provider.example"}})

	var msg struct {
		ID, Subject, HTML string
	}
	require.Eventually(t, func() bool {
		status, body := s.call(t, http.MethodGet, "/mailbox/api/v1/message/latest", "", nil)
		return status == http.StatusOK && json.Unmarshal(body, &msg) == nil && strings.Contains(msg.Subject, "INC-2042")
	}, 10*time.Second, 100*time.Millisecond, "no mail")

	// The mailbox lists it; its page shows the headers and the mail.
	b.do(chromedp.Navigate(gw+"/mailbox/"), chromedp.WaitVisible(chromedp.CSS("main")))
	assert.Contains(t, b.html("main"), "INC-2042: access request awaiting your approval")
	b.shot("mailbox", true)
	b.open("/messages/" + msg.ID)
	assert.Equal(t, "[contoso] INC-2042: access request awaiting your approval", b.text("h1"))
	b.shot("approver-mail-page", true)

	// The HTML part as a mail client shows it.
	b.do(chromedp.Navigate("data:text/html;base64,"+base64.StdEncoding.EncodeToString([]byte(msg.HTML))),
		chromedp.WaitVisible(chromedp.CSS("a")))
	text := b.text("body")
	for _, want := range []string{"Hello Alice Approver,", "Maximilian Alexander von Hohenberg-Schwarzenfels (maximilian.vonhohenberg-schwarzenfels@support.provider.example)",
		"INC-2042", "contoso-prod-sql-vm-westeurope-001", "sql-write-timeouts-westeurope-primary-replica"} {
		assert.Contains(t, text, want)
	}
	b.do(chromedp.EmulateViewport(phoneWidth, phoneHeight))
	assert.LessOrEqual(t, step(b, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)), int64(phoneWidth), "the mail is wider than a phone")
	b.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
	// (TestMailFitsPhone saves the mail's screenshots, with the longest values.)

	// Its button opens the request in the portal, after signing in.
	link := gw + "/function/lockbox-portal/requests/" + r.RequestID
	require.Equal(t, 2, b.count(`a[href="`+link+`"]`), "the button and the plain link to %s", link)
	b.do(chromedp.Click(chromedp.CSS(`a[href="`+link+`"]`)), chromedp.WaitVisible(chromedp.ID("token")))
	assert.Contains(t, b.location(), "/function/lockbox-portal/login?next=%2Frequests%2F"+r.RequestID)
	b.do(chromedp.SetValue(chromedp.ID("token"), s.token(t, "contoso", "alice", lockbox.RoleApprover)),
		chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/logout"]`)))
	assert.Equal(t, link, b.location(), "signing in lands on the request the mail links to")
	assert.Contains(t, b.text("h1"), "Request INC-2042")
	assert.Equal(t, 1, b.count("#decide"), "alice may decide it")
}
