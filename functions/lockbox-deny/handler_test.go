package function

import (
	"net/http"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
)

func setup(t *testing.T) (*apitest.Env, func(handler.Request) handler.Response) {
	return apitest.Setup(t, &svc, Handle)
}

func TestDeny(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)

	resp := call(e.Post(alice, `{"requestId":"`+r.RequestID+`","reason":"not during the freeze"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	got := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, lockbox.StatusDenied, got.Status)
	assert.False(t, got.AccessActive)
	assert.Nil(t, got.AccessExpirationDateTime)
	require.NotNil(t, got.Decision)
	assert.Equal(t, "not during the freeze", got.Decision.Reason)

	resp = call(e.Post(alice, `{"requestId":"`+r.RequestID+`","reason":"again"}`))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "Denied", apitest.ErrorOf(t, resp).CurrentStatus)
}

func TestDenyRefusals(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	expired := e.File("contoso", "eng-7")
	e.Advance(96 * time.Hour)
	fresh := e.File("contoso", "eng-7")
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)
	_ = r

	cases := []struct {
		name string
		req  handler.Request
		want int
	}{
		{"duration is for approvals only", e.Post(alice, `{"requestId":"`+fresh.RequestID+`","reason":"no","duration":1}`), http.StatusBadRequest},
		{"expired request", e.Post(alice, `{"requestId":"`+expired.RequestID+`","reason":"no"}`), http.StatusConflict},
		{"self denial", e.Post(e.Token("eng-7", "contoso", lockbox.RoleApprover), `{"requestId":"`+fresh.RequestID+`","reason":"no"}`), http.StatusForbidden},
		{"reader", e.Post(e.Token("rita", "contoso", lockbox.RoleReader), `{"requestId":"`+fresh.RequestID+`","reason":"no"}`), http.StatusForbidden},
		{"another tenant", e.Post(e.Token("mallory", "fabrikam", lockbox.RoleApprover), `{"requestId":"`+fresh.RequestID+`","reason":"no"}`), http.StatusNotFound},
		{"signed webhook", e.Signed(`{"requestId":"` + fresh.RequestID + `","reason":"no"}`), http.StatusUnauthorized},
	}
	for _, c := range cases {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}
}
