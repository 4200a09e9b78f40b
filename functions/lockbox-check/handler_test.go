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

// check is the auth subrequest a proxy sends for the engineer's token and
// the resource its configuration names.
func check(e *apitest.Env, token, tenant, resource, level string) handler.Request {
	h := http.Header{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/orders/7?verbose=1"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if tenant != "" {
		h.Set("X-Lockbox-Tenant", tenant)
	}
	if resource != "" {
		h.Set("X-Lockbox-Resource", resource)
	}
	if level != "" {
		h.Set("X-Lockbox-Access-Level", level)
	}
	return handler.Request{Method: http.MethodGet, Header: h}
}

// An approval opens exactly the door it names, for exactly its hours, and a
// revoke closes it at the next check.
func TestCheck(t *testing.T) {
	e, call := apitest.Setup(t, &svc, Handle)
	eng := e.Token("eng-7", "provider", lockbox.RoleRequester)
	r := e.File("contoso", "eng-7") // vm-1 and vm-2, Read

	resp := call(check(e, eng, "contoso", "vm-1", ""))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, apitest.ErrorDetail{Code: "PendingApproval", Message: "your lockbox request for this resource waits for the customer's decision"},
		apitest.ErrorOf(t, resp))
	assert.Contains(t, string(resp.Body), `"requestId":"`+r.RequestID+`"`)

	_, err := e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", lockboxtest.Hours(2), e.Now))
	require.NoError(t, err)
	resp = call(check(e, eng, "contoso", "vm-2", ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.Equal(t, r.RequestID, resp.Header.Get("X-Lockbox-Request-Id"))
	assert.Equal(t, e.Now.Add(2*time.Hour).UTC().Format(time.RFC3339), resp.Header.Get("X-Lockbox-Access-Until"))
	assert.Equal(t, "eng-7", resp.Header.Get("X-Lockbox-Requester"))

	for _, c := range []struct {
		name                    string
		token, tenant, resource string
		level                   string
		want                    int
		code                    string
	}{
		{"a resource the grant does not name", eng, "contoso", "vm-9", "", 403, "NoGrant"},
		{"a level the grant does not cover", eng, "contoso", "vm-1", "ReadWrite", 403, "NoGrant"},
		{"another tenant", eng, "fabrikam", "vm-1", "", 403, "NoGrant"},
		{"another engineer", e.Token("eng-8", "provider", lockbox.RoleRequester), "contoso", "vm-1", "", 403, "NoGrant"},
		{"an approver's token", e.Token("alice", "contoso", lockbox.RoleApprover), "contoso", "vm-1", "", 403, "Forbidden"},
		{"an expired token", e.ExpiredToken("eng-7", "provider", lockbox.RoleRequester), "contoso", "vm-1", "", 401, "Unauthorized"},
		{"no token", "", "contoso", "vm-1", "", 401, "Unauthorized"},
		{"no tenant", eng, "", "vm-1", "", 400, "InvalidRequest"},
		{"no resource", eng, "contoso", "", "", 400, "InvalidRequest"},
		{"a malformed tenant", eng, "con{toso}", "vm-1", "", 400, "InvalidRequest"},
	} {
		resp := call(check(e, c.token, c.tenant, c.resource, c.level))
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, c.code, apitest.ErrorOf(t, resp).Code, c.name)
	}

	// A resource header given twice (a client's copy the proxy did not
	// replace) is refused, never read as the first or the last.
	twice := check(e, eng, "contoso", "vm-9", "")
	twice.Header.Add("X-Lockbox-Resource", "vm-1")
	resp = call(twice)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(resp.Body))

	got, err := e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	require.NotNil(t, got.Usage)
	assert.Equal(t, 1, got.Usage.Checks)

	e.Advance(2 * time.Hour)
	resp = call(check(e, eng, "contoso", "vm-2", ""))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "GrantEnded", apitest.ErrorOf(t, resp).Code, "at the grant's end, before any sweep")
}

// The method and path a grant's first use records: the proxy's headers
// (nginx, Traefik), or the call's own (Envoy sends the original request's
// method and path after its prefix).
func TestCheckRecordsTheOriginalRequest(t *testing.T) {
	e, call := apitest.Setup(t, &svc, Handle)
	eng := e.Token("eng-7", "provider", lockbox.RoleRequester)
	r := e.File("contoso", "eng-7")
	_, err := e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	req := check(e, eng, "contoso", "vm-1", "")
	resp := call(req)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	envoy := check(e, eng, "contoso", "vm-2", "")
	envoy.Header.Del("X-Original-Method")
	envoy.Header.Del("X-Original-Uri")
	envoy.Method = http.MethodDelete
	envoy.Header.Set("X-Lockbox-Path", "/orders/9")
	envoy.QueryString = "force=1"
	resp = call(envoy)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	evs, err := e.Store.ReadEvents(t.Context(), "contoso", "", "", 20)
	require.NoError(t, err)
	var uses []string
	for _, ev := range evs {
		if ev.Event.OperationName == lockbox.OpUseGrant {
			uses = append(uses, ev.Event.Reason)
		}
	}
	assert.Equal(t, []string{"GET /orders/7?verbose=1", "DELETE /orders/9?force=1"}, uses)
}
