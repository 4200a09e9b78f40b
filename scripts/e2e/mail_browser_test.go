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

// The approver's mail in a real browser: make run's mailbox shows it, its
// HTML part reads on a phone, and its button leads to the request in the
// portal (through the sign-in page). The mailbox page and the mail are
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
	r := s.fileRequest(t, lockbox.CreateInput{TenantID: "contoso", ResourceType: "postgres", ResourceIDs: []string{"db-orders-1", "db-orders-2"},
		AccessLevel: "Read", SupportRequest: "INC-2042", SupportCaseURL: "https://support.provider.example/cases/INC-2042",
		Justification: "Queries on the orders database slowed down tenfold after the upgrade to 16.4; I need to read the query plans and pg_stat_statements.",
		Requester:     lockbox.Requester{ID: "eng-7", DisplayName: "Sam Support", Email: "eng7@provider.example"}})

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
	for _, want := range []string{"Hello Alice Approver,", "Sam Support (eng-7)", "INC-2042", "db-orders-1", "pg_stat_statements"} {
		assert.Contains(t, text, want)
	}
	// (TestMailFitsPhone saves the mail's screenshots, with the longest values.)

	// Its button opens the request in the portal, after signing in.
	link := gw + "/function/lockbox-portal/requests/" + r.RequestID
	require.Equal(t, 2, b.count(`a[href="`+link+`"]`), "the button and the plain link to %s", link)
	b.do(chromedp.Click(chromedp.CSS(`a[href="`+link+`"]`)), chromedp.WaitVisible(chromedp.ID("token")))
	assert.Contains(t, b.location(), "/function/lockbox-portal/login")
}
