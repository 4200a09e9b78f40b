package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// The access receipt in a real browser, against make run's stack: a grant
// of three virtual machines (Azure resource ids) is approved, used through
// lockbox-check on two of them and lockbox-credential, and revoked; the
// approver's receipt mail arrives, its HTML part reads on a phone and a
// desktop, and the request's portal page shows "Access used". The mail is
// saved into LOCKBOX_MAIL_SCREENSHOTS (make screenshots: docs/mail/), the
// page into LOCKBOX_PORTAL_SCREENSHOTS (docs/portal/), or temporary folders.
func TestReceiptInBrowser(t *testing.T) {
	s, b := startWithBrowser(t, stackConfig{}, "/function/lockbox-portal", "LOCKBOX_MAIL_SCREENSHOTS")
	admin := s.as(t, "contoso", "ada", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := s.call(t, http.MethodPut, "/function/lockbox-settings",
		`{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","displayName":"Alice Approver"}],"reminders":["24h","2h"],"requiredApprovals":1,"rules":[],"webhooks":[]}`,
		admin)
	require.Equal(t, http.StatusOK, status, string(body))
	const rg = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/"
	vms := []string{rg + "vm-orders-db-primary-01", rg + "vm-orders-db-replica-02", rg + "vm-orders-api-03"}
	r := s.fileRequest(t, lockbox.CreateInput{TenantID: "contoso", ResourceType: "Microsoft.Compute/virtualMachines", ResourceIDs: vms,
		AccessLevel: "Read", SupportRequest: "INC-2077", SupportCaseURL: "https://support.provider.example/cases/INC-2077",
		Justification: "Order writes time out since the 02:00 UTC maintenance window; I need to read the primary's replication status and the API's connection pool logs.",
		Requester:     lockbox.Requester{ID: "eng-7", DisplayName: "Sam Support", Email: "eng7@provider.example"}})

	approver := s.as(t, "contoso", "alice", lockbox.RoleApprover)
	status, body = s.call(t, http.MethodPost, "/function/lockbox-approve",
		`{"requestId":"`+r.RequestID+`","reason":"Confirmed with the customer's on-call DBA."}`, approver)
	require.Equal(t, http.StatusOK, status, string(body))

	// The engineer uses the grant: checks through the proxy's forward
	// authentication on two of the three machines, and an SSH certificate.
	engineer := "Bearer " + s.token(t, "contoso", "eng-7", lockbox.RoleRequester)
	check := func(vm, uri string) {
		t.Helper()
		status, body := s.call(t, http.MethodGet, "/function/lockbox-check", "", map[string]string{"Authorization": engineer,
			"X-Lockbox-Tenant": "contoso", "X-Lockbox-Resource": vm, "X-Original-Method": "GET", "X-Original-URI": uri})
		require.Equal(t, http.StatusOK, status, string(body))
	}
	for _, uri := range []string{"/replication/status", "/replication/lag", "/metrics", "/replication/status"} {
		check(vms[0], uri)
	}
	check(vms[2], "/logs/pool")
	status, body = s.call(t, http.MethodPost, "/function/lockbox-credential",
		`{"tenantId":"contoso","requestId":"`+r.RequestID+`","publicKey":"`+sshPublicKey(t)+`"}`,
		map[string]string{"Authorization": engineer, "Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, status, string(body))

	status, body = s.call(t, http.MethodPost, "/function/lockbox-revoke",
		`{"requestId":"`+r.RequestID+`","reason":"Replication is healthy again; the case is closed."}`, approver)
	require.Equal(t, http.StatusOK, status, string(body))

	// The approver's receipt.
	var msg struct{ ID, Subject, Text, HTML string }
	require.Eventually(t, func() bool {
		status, body := s.call(t, http.MethodGet, "/mailbox/api/v1/messages", "", nil)
		var list struct {
			Messages []struct {
				ID, Subject string
				To          []struct{ Address string }
			}
		}
		if status != http.StatusOK || json.Unmarshal(body, &list) != nil {
			return false
		}
		for _, m := range list.Messages {
			if strings.Contains(m.Subject, "INC-2077: access receipt") && len(m.To) == 1 && m.To[0].Address == "alice@contoso.example" {
				status, body := s.call(t, http.MethodGet, "/mailbox/api/v1/message/"+m.ID, "", nil)
				return status == http.StatusOK && json.Unmarshal(body, &msg) == nil
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond, "no receipt for alice")
	assert.Equal(t, "[contoso] INC-2077: access receipt", msg.Subject)
	for _, want := range []string{"revoked by alice", "5 access checks on 2 of its 3 resources and 1 SSH certificate issued",
		vms[0] + "\r\n    4 checks, ", vms[1] + "\r\n    not used", vms[2] + "\r\n    1 check, at ", "Credentials issued: 1 SSH certificate"} {
		assert.Contains(t, msg.Text, want)
	}

	b.do(chromedp.Navigate("data:text/html;base64,"+base64.StdEncoding.EncodeToString([]byte(msg.HTML))),
		chromedp.WaitVisible(chromedp.CSS("h2")))
	text := b.text("body")
	for _, want := range append([]string{"Hello Alice Approver,", "Access used", "not used", "1 SSH certificate"}, vms...) {
		assert.Contains(t, text, want)
	}
	b.shot("receipt-mail", true)
	b.shotFrom("receipt-mail-used", "h2", false)

	// The request's page in the portal: "Access used".
	portalShots := os.Getenv("LOCKBOX_PORTAL_SCREENSHOTS")
	if portalShots == "" {
		portalShots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(portalShots, 0o755))
	b.shots = portalShots
	b.signIn(s.token(t, "contoso", "alice", lockbox.RoleApprover))
	b.open("/requests/" + r.RequestID)
	used := b.text("section[aria-labelledby=access-used]")
	for _, want := range append([]string{"Access used", "5 allowed checks on 2 of 3 resources, 1 SSH certificate issued", "Not used",
		"Credentials issued: 1 SSH certificate."}, vms...) {
		assert.Contains(t, used, want)
	}
	b.shotFrom("request-access-used", "#access-used", true)
}

// sshPublicKey is a fresh Ed25519 key's authorized_keys line.
func sshPublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var blob []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(part)))
		blob = append(blob, part...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " eng-7@laptop"
}
