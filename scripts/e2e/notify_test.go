package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/localrun"
	"lockbox.dev/shared/lockbox"
)

// makeRunDelivery is how soon after a change make run must have delivered
// its mail: the change nudges lockbox-notify through the gateway's
// /async-function/ route (its cron runs once a minute only).
const makeRunDelivery = 5 * time.Second

// Under make run a filed request reaches its approver's mailbox within
// seconds: the banner's settings name alice, the banner's request is filed,
// and the embedded mail catcher shows the mail on its page and through
// Mailpit's API, with the portal link; lockbox-notify's delivery record says
// it was sent. The provider-wide webhook (notify_webhook_url) gets the
// event too, signed with the secret make run generated, as the Standard
// Webhooks library verifies it.
func TestMakeRunMailsTheApprover(t *testing.T) {
	var secretPath string
	receiver, hooks := signedReceiver(t, &secretPath)
	s := startStack(t, stackConfig{env: map[string]string{"notify_webhook_url": receiver.URL + "/lockbox"}})
	gw := s.Gateway
	secretPath = filepath.Join(s.opts.SecretsDir, "notify-webhook-secret")
	// call is s.call with the body as text.
	call := func(method, path, body string, header map[string]string) (int, string) {
		t.Helper()
		status, b := s.call(t, method, path, body, header)
		return status, string(b)
	}
	assert.Contains(t, s.out.String(), gw+"/mailbox/", "the banner shows the mailbox")

	// The banner's settings: alice approves.
	admin := s.as(t, "contoso", "ada", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := call(http.MethodPut, "/function/lockbox-settings", localrun.SampleSettings, admin)
	require.Equal(t, http.StatusOK, status, body)

	// The banner's request, signed as the ticketing system signs it.
	status, created := s.file(t, localrun.SampleBody)
	body = string(created)
	require.Equal(t, http.StatusCreated, status, body)
	filed := time.Now()
	var req lockbox.Request
	require.NoError(t, json.Unmarshal([]byte(body), &req))

	// Mailpit's list, as tools read it.
	type address struct{ Name, Address string }
	var list struct {
		Total    int
		Messages []struct {
			ID        string
			MessageID string
			To        []address
			Subject   string
		}
	}
	require.Eventually(t, func() bool {
		status, body := call(http.MethodGet, "/mailbox/api/v1/messages", "", nil)
		return status == http.StatusOK && json.Unmarshal([]byte(body), &list) == nil && list.Total > 0
	}, makeRunDelivery, 50*time.Millisecond, "no mail within %s of filing", makeRunDelivery)
	t.Logf("mailed %s after the request was filed", time.Since(filed).Round(time.Millisecond))
	require.Len(t, list.Messages, 1)
	m := list.Messages[0]
	require.Len(t, m.To, 1)
	assert.Equal(t, "alice@contoso.example", m.To[0].Address)
	assert.Equal(t, "[contoso] INC-1001: access request awaiting your approval", m.Subject)

	// The message itself: the fields an approver decides on and the link
	// to the request's page in the portal behind this gateway.
	var msg struct{ Text, HTML string }
	status, body = call(http.MethodGet, "/mailbox/api/v1/message/"+m.ID, "", nil)
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &msg))
	link := gw + "/function/lockbox-portal/requests/" + req.RequestID
	for _, part := range []string{msg.Text, msg.HTML} {
		assert.Contains(t, part, link)
		assert.Contains(t, part, "slow queries since the upgrade")
		assert.Contains(t, part, "Support Engineer")
	}
	// The mailbox page lists it for people.
	status, body = call(http.MethodGet, "/mailbox/", "", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "awaiting your approval")

	select {
	case got := <-hooks:
		var event struct {
			Type string
			Data lockbox.Request
		}
		require.NoError(t, json.Unmarshal([]byte(got), &event), got)
		assert.Equal(t, "lockbox.request.created", event.Type)
		assert.Equal(t, req.RequestID, event.Data.RequestID)
	case <-time.After(makeRunDelivery):
		t.Fatalf("the provider-wide webhook got nothing within %s", makeRunDelivery)
	}

	// lockbox-notify's record of them, for the tenant's approvers: sent,
	// the address partly hidden.
	var deliveries struct {
		Value []struct {
			Channel, Recipient, State string
			Attempts                  int
		}
	}
	status, body = call(http.MethodGet, "/function/lockbox-notify?requestId="+req.RequestID, "", s.as(t, "contoso", "alice", lockbox.RoleApprover))
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &deliveries), body)
	require.Len(t, deliveries.Value, 2, body)
	d := deliveries.Value[0]
	if d.Channel != "mail" {
		d = deliveries.Value[1]
	}
	assert.Equal(t, "mail", d.Channel)
	assert.Equal(t, "sent", d.State)
	assert.Equal(t, 1, d.Attempts)
	assert.NotContains(t, d.Recipient, "alice@contoso.example")
	assert.Contains(t, d.Recipient, "@contoso.example")
}
