package function

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/sshca"
	"lockbox.dev/shared/usecase"
)

func setup(t *testing.T) (*apitest.Env, *sshca.CA, func(handler.Request) handler.Response) {
	e, call := apitest.Setup(t, &svc, Handle)
	key, err := sshca.NewKey("test-ca")
	require.NoError(t, err)
	ca, err := sshca.Parse(key)
	require.NoError(t, err)
	e.Svc.Credentials = usecase.CredentialConfig{CA: ca, TTL: time.Hour}
	return e, ca, call
}

func engineerKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " eng-7@laptop"
}

// The CA's public keys are published for sshd's TrustedUserCAKeys.
func TestPublicKeys(t *testing.T) {
	_, ca, call := setup(t)
	resp := call(handler.Request{Method: http.MethodGet})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, ca.PublicKeys(), string(resp.Body))
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
}

// A certificate for the requester's live grant names its resources as
// principals and ends no later than the grant; nothing is issued for a grant
// that is not live or not theirs.
func TestIssue(t *testing.T) {
	e, ca, call := setup(t)
	eng := e.Token("eng-7", "provider", lockbox.RoleRequester)
	r := e.File("contoso", "eng-7")
	body := func(key string) string {
		return `{"tenantId":"contoso","requestId":"` + r.RequestID + `","publicKey":"` + key + `"}`
	}
	key := engineerKey(t)

	resp := call(e.Post(eng, body(key)))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "pending: %s", resp.Body)
	assert.Equal(t, "GrantNotLive", apitest.ErrorOf(t, resp).Code)

	_, err := e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", lockboxtest.Hours(2), e.Now))
	require.NoError(t, err)
	e.Advance(90 * time.Minute) // 30 minutes of the grant left: less than the hour a certificate may last
	resp = call(e.Post(eng, body(key)))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	got := apitest.Decode[usecase.Credential](t, resp)
	assert.Equal(t, []string{"vm-1", "vm-2"}, got.Principals)
	assert.Equal(t, "contoso/"+r.RequestID+"/eng-7", got.KeyID)
	assert.Equal(t, e.Now.Add(30*time.Minute).UTC().Truncate(time.Second), got.ValidBefore.UTC(), "the grant's end")
	assert.Equal(t, e.Now.Add(-time.Minute).UTC().Truncate(time.Second), got.ValidAfter.UTC())

	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(got.Certificate))
	require.NoError(t, err)
	cert, ok := pub.(*ssh.Certificate)
	require.True(t, ok, "a certificate line")
	caKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(ca.PublicKeys()))
	require.NoError(t, err)
	checker := ssh.CertChecker{IsUserAuthority: func(a ssh.PublicKey) bool { return string(a.Marshal()) == string(caKey.Marshal()) },
		Clock: func() time.Time { return e.Now }}
	require.NoError(t, checker.CheckCert("vm-1", cert))
	assert.Error(t, checker.CheckCert("vm-3", cert), "a VM the grant does not name")
	assert.Equal(t, got.Serial, cert.Serial)
	assert.Equal(t, map[string]string{"permit-pty": ""}, cert.Extensions)

	stored, err := e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	require.NotNil(t, stored.Usage)
	assert.Equal(t, 1, stored.Usage.Credentials)

	for _, c := range []struct {
		name  string
		req   handler.Request
		want  int
		state bool // the call must change nothing
	}{
		{"another engineer", e.Post(e.Token("eng-8", "provider", lockbox.RoleRequester), body(key)), 404, true},
		{"an approver", e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), body(key)), 403, true},
		{"an operator", e.Post(e.Token("olga", "provider", lockbox.RoleOperator), body(key)), 403, true},
		{"no token", handler.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body(key))}, 401, true},
		{"not a key", e.Post(eng, body("ssh-ed25519 AAAA")), 400, true},
		{"a certificate as the key", e.Post(eng, body(strings.Fields(got.Certificate)[0]+" "+strings.Fields(got.Certificate)[1])), 400, true},
		{"an unknown field", e.Post(eng, `{"tenantId":"contoso","requestId":"`+r.RequestID+`","publicKey":"`+key+`","principals":["vm-9"]}`), 400, true},
		{"another tenant", e.Post(eng, strings.Replace(body(key), "contoso", "fabrikam", 1)), 404, true},
	} {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		if c.state {
			assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
		}
	}

	_, err = e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionRevoke, "alice", "done", nil, e.Now))
	require.NoError(t, err)
	resp = call(e.Post(eng, body(key)))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "revoked: no renewal")
	assert.Equal(t, "GrantNotLive", apitest.ErrorOf(t, resp).Code)
}
