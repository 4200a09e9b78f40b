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

func body(id string) string {
	return `{"requestId":"` + id + `","reason":"fixed without access","tenantId":"contoso"}`
}

func TestCancel(t *testing.T) {
	e, call := setup(t)
	mine, other, viaTicket := e.File("contoso", "eng-7"), e.File("contoso", "eng-7"), e.File("contoso", "eng-8")

	// The requester withdraws their own request.
	resp := call(e.Post(e.Token("eng-7", "provider", lockbox.RoleRequester), body(mine.RequestID)))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	got := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, lockbox.StatusCanceled, got.Status)
	require.NotNil(t, got.Closure)
	assert.Equal(t, "eng-7", got.Closure.By)
	assert.Nil(t, got.Decision)

	// An operator withdraws any request of the tenant it names.
	resp = call(e.Post(e.Token("olga", "provider", lockbox.RoleOperator), body(other.RequestID)))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))

	// So does the ticketing system, signed.
	resp = call(e.Signed(body(viaTicket.RequestID)))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.Equal(t, "webhook", apitest.Decode[lockbox.Request](t, resp).Closure.By)

	// Not pending any more.
	resp = call(e.Post(e.Token("eng-7", "provider", lockbox.RoleRequester), body(mine.RequestID)))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "Canceled", apitest.ErrorOf(t, resp).CurrentStatus)
}

func TestCancelRefusals(t *testing.T) {
	e, call := setup(t)
	pending := e.File("contoso", "eng-7")
	approved := e.File("contoso", "eng-7")
	_, err := e.Store.Act(t.Context(), "contoso", approved.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	expired := e.File("contoso", "eng-7")
	e.Advance(96 * time.Hour)
	pending2 := e.File("contoso", "eng-7")
	eng7 := e.Token("eng-7", "provider", lockbox.RoleRequester)
	_ = pending

	cases := []struct {
		name string
		req  handler.Request
		want int
	}{
		{"another engineer's request is not found", e.Post(e.Token("eng-8", "provider", lockbox.RoleRequester), body(pending2.RequestID)), http.StatusNotFound},
		{"an approved request is not pending", e.Post(eng7, body(approved.RequestID)), http.StatusConflict},
		{"an expired request is not pending", e.Post(eng7, body(expired.RequestID)), http.StatusConflict},
		{"an approver may not cancel", e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), body(pending2.RequestID)), http.StatusForbidden},
		{"another tenant named", e.Post(eng7, `{"requestId":"`+pending2.RequestID+`","reason":"x","tenantId":"fabrikam"}`), http.StatusNotFound},
		{"no tenant named", e.Post(eng7, `{"requestId":"`+pending2.RequestID+`","reason":"x"}`), http.StatusBadRequest},
		{"no reason", e.Post(eng7, `{"requestId":"`+pending2.RequestID+`","tenantId":"contoso"}`), http.StatusBadRequest},
		{"not JSON", handler.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"text/plain"}, "Authorization": {"Bearer " + eng7}}, Body: []byte("x")}, http.StatusUnsupportedMediaType},
		{"no credentials", handler.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body(pending2.RequestID))}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}
}
