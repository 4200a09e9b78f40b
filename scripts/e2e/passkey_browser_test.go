package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/passkey"
)

// outcome is what a passkey form's submit ends in: the next page's message,
// the script's own message, or an error page.
const outcome = `.flash:not(.passkey-problem), .passkey-problem:not([hidden]), .error-status`

// Passkey-signed decisions in a real browser: chromium with a virtual
// authenticator of the DevTools protocol (WebAuthn.addVirtualAuthenticator:
// CTAP2, internal transport, resident keys, user verification that
// succeeds), against the stack make run starts with portal_url on
// localhost (a WebAuthn relying party id is a domain, never an IP address).
// An approver registers a passkey on the Passkeys page; in a tenant that
// requires passkeys, Approve asks the authenticator to sign the decision
// statement, and the approval carries the signature, which verifies
// offline against the tenant's passkeys export (GET
// lockbox-settings?passkeys=export); a decision without one is refused
// with 403 PasskeyRequired. The pages are saved as screenshots, phone and
// desktop, into LOCKBOX_PORTAL_SCREENSHOTS (docs/portal/).
func TestPasskeysInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack and a browser")
	}
	integrationOnly(t, "about 5 s: a stack and chromium with a virtual authenticator")
	chromium := requireBinary(t, "chromium", "apt-get install -y chromium")
	port, err := loopback.FreePort()
	require.NoError(t, err)
	origin := "http://localhost:" + strconv.Itoa(port)
	s := startStack(t, stackConfig{env: map[string]string{"OPENFAAS_URL": "http://127.0.0.1:" + strconv.Itoa(port),
		"portal_url": origin + "/function/lockbox-portal"}})
	shots := os.Getenv("LOCKBOX_PORTAL_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	b := newBrowser(t, chromium, origin+"/function/lockbox-portal", shots)

	admin := s.as(t, "contoso", "ada", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := s.call(t, http.MethodPut, "/function/lockbox-settings",
		`{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example"}],"reminders":["24h"],"requiredApprovals":1,`+
			`"rules":[],"webhooks":[],"requirePasskey":true}`, admin)
	require.Equal(t, http.StatusOK, status, string(body))
	r := s.fileRequest(t, lockbox.CreateInput{TenantID: "contoso", ResourceType: "Microsoft.Compute/virtualMachines",
		ResourceIDs: []string{"/subscriptions/8f3c2a71-5b2e-4d7a-9c1e-2f6b4a8d9e03/resourceGroups/rg-payments-prod-westeurope/providers/Microsoft.Compute/virtualMachines/vm-payments-api-01"},
		AccessLevel: "RemoteDesktop", SupportRequest: "INC-4711", SupportCaseURL: "https://support.example/cases/INC-4711",
		Justification: "The payments API VM stopped answering health probes after the kernel update; I need a console session to read the boot log.",
		Requester:     lockbox.Requester{ID: "eng-11", DisplayName: "Support Engineer"}})

	// A token-only decision is refused, whatever the transport.
	status, body = s.call(t, http.MethodPost, "/function/lockbox-approve", `{"requestId":"`+r.RequestID+`","reason":"ok"}`,
		s.as(t, "contoso", "alice", lockbox.RoleApprover))
	require.Equal(t, http.StatusForbidden, status, string(body))
	assert.Contains(t, string(body), `"PasskeyRequired"`)

	// The virtual authenticator: a platform passkey with user verification.
	id := step(b, chromedp.Action[webauthn.AuthenticatorID](func(ctx context.Context, tg *chromedp.Target) (webauthn.AuthenticatorID, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return "", err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return res.AuthenticatorID, err
	}))
	require.NotEmpty(t, id)

	b.signIn(s.token(t, "contoso", "alice", lockbox.RoleApprover))
	b.open("/requests/" + r.RequestID)
	assert.Contains(t, b.text("main"), "you have none: register one on the Passkeys page first")

	// Register.
	b.open("/passkeys")
	b.shot("passkeys-empty", true)
	b.do(chromedp.SetValue(chromedp.ID("name"), "MacBook Pro Touch ID (Contoso Payments on-call)"),
		chromedp.Click(chromedp.CSS(`form[data-options] button[type="submit"]`)))
	b.do(chromedp.WaitReady(chromedp.CSS(outcome)))
	require.Contains(t, b.text("main"), "is registered", b.text("main"))
	assert.Contains(t, b.text("main"), "MacBook Pro Touch ID")
	b.shot("passkeys", true)

	// Approve: the authenticator signs the statement.
	b.open("/requests/" + r.RequestID)
	b.shotAt("request-passkey", `button[value="deny"]`, true)
	b.do(chromedp.SetValue(chromedp.ID("reason"), "Console access agreed with the on-call lead; boot log only."),
		chromedp.SetValue(chromedp.ID("duration"), "2"),
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
	b.do(chromedp.WaitReady(chromedp.CSS(outcome)))
	require.Contains(t, b.text("main"), "You approved this request", b.text("main"))
	assert.Contains(t, b.text("main"), "Signed with a passkey")
	b.shotFrom("request-signed", "#signed", true)

	// The signature, as kept with the request, verifies offline against
	// the export; the statement says what alice approved.
	status, body = s.call(t, http.MethodGet, "/function/lockbox-list?tenantId=contoso&status=Approved", "", s.as(t, "contoso", "rita", lockbox.RoleReader))
	require.Equal(t, http.StatusOK, status, string(body))
	var page struct {
		Value []lockbox.Request `json:"value"`
	}
	require.NoError(t, json.Unmarshal(body, &page))
	require.Len(t, page.Value, 1)
	sigs := page.Value[0].PasskeySignatures
	require.Len(t, sigs, 1)
	st, err := lockbox.DecodeStatement([]byte(sigs[0].Statement))
	require.NoError(t, err)
	assert.Equal(t, lockbox.ActionApprove, st.Action)
	assert.Equal(t, "Console access agreed with the on-call lead; boot log only.", st.Reason)
	require.NotNil(t, st.Duration)
	assert.Equal(t, 2, *st.Duration)
	assert.WithinDuration(t, time.Now(), st.Time, time.Minute)

	status, body = s.call(t, http.MethodGet, "/function/lockbox-settings?passkeys=export", "", s.as(t, "contoso", "rita", lockbox.RoleReader))
	require.Equal(t, http.StatusOK, status, string(body))
	var exp passkey.Export
	require.NoError(t, json.Unmarshal(body, &exp))
	assert.Equal(t, "localhost", exp.RPID)
	pk, ok := exp.Find(sigs[0].CredentialID)
	require.True(t, ok)
	require.NoError(t, passkey.VerifySignature(sigs[0], pk, exp.RPID, exp.Origins))
	tampered := sigs[0]
	tampered.Statement = string(lockbox.Statement{TenantID: st.TenantID, RequestID: st.RequestID, Action: st.Action, Duration: &[]int{8}[0],
		Reason: st.Reason, Time: st.Time}.Encode())
	assert.Error(t, passkey.VerifySignature(tampered, pk, exp.RPID, exp.Origins))

	// Revoke, signed the same way: the request now carries both.
	b.open("/requests/" + r.RequestID)
	b.do(chromedp.SetValue(chromedp.ID("revoke-reason"), "Boot log read; the VM is back."),
		chromedp.Click(chromedp.CSS(`button[value="revoke"]`)))
	b.do(chromedp.WaitReady(chromedp.CSS(outcome)))
	require.Contains(t, b.text("main"), "You revoked this grant", b.text("main"))
	assert.Equal(t, 2, b.count("#signed ~ table tbody tr, section[aria-labelledby=signed] tbody tr"))
}
