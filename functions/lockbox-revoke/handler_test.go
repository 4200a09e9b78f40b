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
	"lockbox.dev/shared/lockbox/lockboxtest"
)

func setup(t *testing.T) (*apitest.Env, func(handler.Request) handler.Response) {
	return apitest.Setup(t, &svc, Handle)
}

func body(id string) string { return `{"requestId":"` + id + `","reason":"the case is closed"}` }

// grant files a request and approves it as alice.
func grant(t *testing.T, e *apitest.Env, requester string) lockbox.Request {
	r := e.File("contoso", requester)
	r, err := e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	return r
}

func TestRevoke(t *testing.T) {
	e, call := setup(t)
	r := grant(t, e, "eng-7")
	e.Advance(time.Hour)

	// The tenant's admin ends the grant now.
	resp := call(e.Post(e.Token("ada", "contoso", lockbox.RoleAdmin), body(r.RequestID)))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	got := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, lockbox.StatusRevoked, got.Status)
	assert.False(t, got.AccessActive)
	require.NotNil(t, got.AccessExpirationDateTime)
	assert.True(t, got.AccessExpirationDateTime.Equal(e.Now), "the grant ends at the revocation")
	require.NotNil(t, got.Closure)
	assert.Equal(t, "ada", got.Closure.By)
	assert.Equal(t, "alice", got.Decision.By, "the approval stays on record")

	// Revoking again: no live grant.
	resp = call(e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), body(r.RequestID)))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "Revoked", apitest.ErrorOf(t, resp).CurrentStatus)
	n, _ := e.Redis.Exists(t.Context(), "lb:{contoso}:grant:"+r.RequestID).Result()
	assert.Zero(t, n, "the grant key is gone")
}

func TestRevokeRefusals(t *testing.T) {
	e, call := setup(t)
	live := grant(t, e, "eng-7")
	pending := e.File("contoso", "eng-7")
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)

	cases := []struct {
		name string
		req  handler.Request
		want int
	}{
		{"a pending request has no grant", e.Post(alice, body(pending.RequestID)), http.StatusConflict},
		{"the requester revokes their own grant", e.Post(e.Token("eng-7", "contoso", lockbox.RoleApprover), body(live.RequestID)), http.StatusForbidden},
		{"a reader", e.Post(e.Token("rita", "contoso", lockbox.RoleReader), body(live.RequestID)), http.StatusForbidden},
		{"an operator", e.Post(e.Token("olga", "contoso", lockbox.RoleOperator, lockbox.RoleAdmin), body(live.RequestID)), http.StatusForbidden},
		{"a requester who is also an approver", e.Post(e.Token("eve", "contoso", lockbox.RoleApprover, lockbox.RoleRequester), body(live.RequestID)), http.StatusForbidden},
		{"another tenant's approver", e.Post(e.Token("mallory", "fabrikam", lockbox.RoleApprover), body(live.RequestID)), http.StatusNotFound},
		{"unknown request", e.Post(alice, body("no-such-request")), http.StatusNotFound},
		{"a signed webhook", e.Signed(body(live.RequestID)), http.StatusUnauthorized},
		{"no credentials", handler.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body(live.RequestID))}, http.StatusUnauthorized},
		{"no reason", e.Post(alice, `{"requestId":"`+live.RequestID+`"}`), http.StatusBadRequest},
		{"a duration", e.Post(alice, `{"requestId":"`+live.RequestID+`","reason":"x","duration":1}`), http.StatusBadRequest},
		{"unknown field", e.Post(alice, `{"requestId":"`+live.RequestID+`","reason":"x","force":true}`), http.StatusBadRequest},
		{"GET", handler.Request{Method: http.MethodGet, Header: http.Header{"Authorization": {"Bearer " + alice}}}, http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}

	// After its end the grant is completed, not revocable.
	e.Advance(8 * time.Hour)
	resp := call(e.Post(alice, body(live.RequestID)))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "Completed", apitest.ErrorOf(t, resp).CurrentStatus)
}
