package function

import (
	"net/http"
	"strings"
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

func body(id, reason string, duration ...int) string {
	m := map[string]any{"requestId": id, "reason": reason}
	if len(duration) > 0 {
		m["duration"] = duration[0]
	}
	return apitest.JSON(m)
}

func TestApprove(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)

	e.Advance(time.Hour)
	resp := call(e.Post(alice, body(r.RequestID, "verified with the customer")))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	got := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, lockbox.StatusApproved, got.Status)
	assert.True(t, got.AccessActive)
	require.NotNil(t, got.Decision)
	assert.Equal(t, "alice", got.Decision.By)
	assert.Equal(t, "verified with the customer", got.Decision.Reason)
	assert.True(t, got.Decision.DateTime.Equal(e.Now))
	require.NotNil(t, got.AccessExpirationDateTime)
	assert.True(t, got.AccessExpirationDateTime.Equal(e.Now.Add(8*time.Hour)), "default 8h grant")

	// Approving again: 409 with the current status.
	resp = call(e.Post(alice, body(r.RequestID, "again")))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "Approved", apitest.ErrorOf(t, resp).CurrentStatus)

	// After 8 hours the grant is over.
	e.Advance(8 * time.Hour)
	now, err := e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	assert.False(t, now.AccessActive)
	assert.Equal(t, lockbox.StatusCompleted, now.Status)
}

func TestApproveShortensGrant(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)

	before := e.Snapshot()
	resp := call(e.Post(alice, body(r.RequestID, "ok", 9)))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "longer than the 8 hours asked")
	assert.Equal(t, before, e.Snapshot())

	resp = call(e.Post(alice, body(r.RequestID, "ok", 2)))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	got := apitest.Decode[lockbox.Request](t, resp)
	assert.True(t, got.AccessExpirationDateTime.Equal(e.Now.Add(2*time.Hour)))
}

func TestApproveExpired(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	e.Advance(96 * time.Hour)
	before := e.Snapshot()
	resp := call(e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), body(r.RequestID, "too late")))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "Expired", apitest.ErrorOf(t, resp).CurrentStatus)
	assert.Equal(t, before, e.Snapshot())
}

func TestApproveRefusals(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	theirs := e.File("fabrikam", "eng-7")
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)
	ok := body(r.RequestID, "ok")

	notJSON := e.Post(alice, ok)
	notJSON.Header.Set("Content-Type", "text/plain")
	get := e.Post(alice, ok)
	get.Method = http.MethodGet

	cases := []struct {
		name string
		req  handler.Request
		want int
		code string
	}{
		{"signed webhook cannot decide", e.Signed(ok), http.StatusUnauthorized, "Unauthorized"},
		{"no credentials", handler.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(ok)}, http.StatusUnauthorized, "Unauthorized"},
		{"token signed with another key", e.Post(strings.TrimSuffix(alice, alice[len(alice)-4:])+"AAAA", ok), http.StatusUnauthorized, "Unauthorized"},
		{"reader", e.Post(e.Token("rita", "contoso", lockbox.RoleReader), ok), http.StatusForbidden, "Forbidden"},
		{"requester role", e.Post(e.Token("eng-9", "contoso", lockbox.RoleRequester), ok), http.StatusForbidden, "Forbidden"},
		{"approver who is also a requester", e.Post(e.Token("bob", "contoso", lockbox.RoleApprover, lockbox.RoleRequester), ok), http.StatusForbidden, "Forbidden"},
		{"operator", e.Post(e.Token("ops", "contoso", lockbox.RoleOperator), ok), http.StatusForbidden, "Forbidden"},
		{"self approval", e.Post(e.Token("eng-7", "contoso", lockbox.RoleApprover), ok), http.StatusForbidden, "SelfApproval"},
		{"another tenant's request", e.Post(alice, body(theirs.RequestID, "ok")), http.StatusNotFound, "NotFound"},
		{"another tenant's approver", e.Post(e.Token("mallory", "fabrikam", lockbox.RoleApprover), ok), http.StatusNotFound, "NotFound"},
		{"unknown id", e.Post(alice, body("00000000-0000-4000-8000-000000000000", "ok")), http.StatusNotFound, "NotFound"},
		{"wrong method", get, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"not JSON", notJSON, http.StatusUnsupportedMediaType, "UnsupportedMediaType"},
		{"empty reason", e.Post(alice, body(r.RequestID, "")), http.StatusBadRequest, "InvalidRequest"},
		{"no requestId", e.Post(alice, `{"reason":"ok"}`), http.StatusBadRequest, "InvalidRequest"},
		{"id with key separator", e.Post(alice, body(r.RequestID+":x", "ok")), http.StatusBadRequest, "InvalidRequest"},
		{"id with wildcard", e.Post(alice, body("*", "ok")), http.StatusBadRequest, "InvalidRequest"},
		{"unknown field", e.Post(alice, `{"requestId":"`+r.RequestID+`","reason":"ok","status":"Approved"}`), http.StatusBadRequest, "InvalidRequest"},
		{"duration zero", e.Post(alice, body(r.RequestID, "ok", 0)), http.StatusBadRequest, "InvalidRequest"},
		{"duration as string", e.Post(alice, `{"requestId":"`+r.RequestID+`","reason":"ok","duration":"2"}`), http.StatusBadRequest, "InvalidRequest"},
		{"oversize body", e.Post(alice, `{"requestId":"`+r.RequestID+`","reason":"`+strings.Repeat("r", 70000)+`"}`), http.StatusRequestEntityTooLarge, "PayloadTooLarge"},
		{"expired token", e.Post(e.ExpiredToken("alice", "contoso", lockbox.RoleApprover), ok), http.StatusUnauthorized, "Unauthorized"},
	}

	for _, c := range cases {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, c.code, apitest.ErrorOf(t, resp).Code, c.name)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}
}

func TestApproveUnavailable(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	e.Mini.Close()
	resp := call(e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), body(r.RequestID, "ok")))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}
