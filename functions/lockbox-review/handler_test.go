package function

import (
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/sshca"
	"lockbox.dev/shared/usecase"
)

func setup(t *testing.T) (*apitest.Env, func(handler.Request) handler.Response) {
	return apitest.Setup(t, &svc, Handle)
}

func del(token, body string) handler.Request {
	h := http.Header{"Authorization": {"Bearer " + token}}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return handler.Request{Method: http.MethodDelete, Header: h, Body: []byte(body)}
}

// grant files a request for requester and approves it as alice.
func grant(t *testing.T, e *apitest.Env, requester string) lockbox.Request {
	r := e.File("contoso", requester)
	r, err := e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	return r
}

// The admin locks the tenant down: the live grant is revoked, the waiting
// request canceled, a decided one left alone; lockbox-check then denies,
// lockbox-credential issues nothing, lockbox-create answers 423
// TenantLockedDown; GET shows the state; DELETE lifts it and filing works
// again.
func TestLockdown(t *testing.T) {
	e, call := setup(t)
	live := grant(t, e, "eng-7")
	pending := e.File("contoso", "eng-8")
	denied := e.File("contoso", "eng-9")
	_, err := e.Store.Act(t.Context(), "contoso", denied.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, e.Now))
	require.NoError(t, err)
	other := e.File("fabrikam", "eng-7") // another tenant: untouched
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	eng := e.Token("eng-7", "provider", lockbox.RoleRequester)
	check := func() handler.Response {
		h := http.Header{"Authorization": {"Bearer " + eng}, "X-Lockbox-Tenant": {"contoso"}, "X-Lockbox-Resource": {"vm-1"}}
		return e.Serve(api.Check, handler.Request{Method: http.MethodGet, Header: h})
	}
	require.Equal(t, http.StatusOK, check().StatusCode, "the grant opens the door before the lockdown")

	e.Advance(time.Minute)
	until := e.Now.Add(48 * time.Hour).UTC().Format(time.RFC3339)
	resp := call(e.Post(ada, `{"until":"`+until+`","reason":"credential leak under investigation, INC-2040"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	got := apitest.Decode[lockbox.LockdownResult](t, resp)
	assert.True(t, got.Active)
	assert.Equal(t, "contoso", got.TenantID)
	assert.Equal(t, "ada", got.By)
	require.NotNil(t, got.Until)
	assert.Equal(t, until, got.Until.UTC().Format(time.RFC3339))
	assert.Equal(t, []string{live.RequestID}, got.Revoked)
	assert.Equal(t, []string{pending.RequestID}, got.Canceled)

	for id, want := range map[string]lockbox.Status{live.RequestID: lockbox.StatusRevoked, pending.RequestID: lockbox.StatusCanceled,
		denied.RequestID: lockbox.StatusDenied} {
		r, err := e.Store.Get(t.Context(), "contoso", id)
		require.NoError(t, err)
		assert.Equal(t, want, r.Status)
	}
	r, err := e.Store.Get(t.Context(), "fabrikam", other.RequestID)
	require.NoError(t, err)
	assert.Equal(t, lockbox.StatusPending, r.Status, "another tenant's request is untouched")

	// The provider's access path obeys it.
	resp = check()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, lockbox.CodeGrantEnded, apitest.ErrorOf(t, resp).Code)
	key, err := sshca.NewKey("test-ca")
	require.NoError(t, err)
	ca, err := sshca.Parse(key)
	require.NoError(t, err)
	e.Svc.Credentials = usecase.CredentialConfig{CA: ca, TTL: time.Hour}
	resp = e.Serve(api.Credential, e.Post(eng, `{"tenantId":"contoso","requestId":"`+live.RequestID+
		`","publicKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl eng-7@laptop"}`))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, string(resp.Body))
	assert.Equal(t, "GrantNotLive", apitest.ErrorOf(t, resp).Code)

	// Filing is refused, by token and by the signed webhook alike.
	body := apitest.JSON(apitest.CreateInput("contoso", "eng-7"))
	before := e.Snapshot()
	for _, req := range []handler.Request{e.Post(eng, body), e.Signed(body)} {
		resp = e.Serve(api.Create, req)
		assert.Equal(t, http.StatusLocked, resp.StatusCode, string(resp.Body))
		assert.Equal(t, "TenantLockedDown", apitest.ErrorOf(t, resp).Code)
		assert.Contains(t, apitest.ErrorOf(t, resp).Message, until)
	}
	assert.Equal(t, before, e.SnapshotWithoutReplayMarkers(), "a refused filing writes nothing")
	resp = e.Serve(api.Create, e.Post(eng, apitest.JSON(apitest.CreateInput("fabrikam", "eng-7"))))
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "another tenant files as before")

	// Everyone of the tenant, and the provider naming it, sees the state.
	for _, req := range []handler.Request{e.Get(e.Token("rita", "contoso", lockbox.RoleReader), ""),
		e.Get(e.Token("olga", "provider", lockbox.RoleOperator), "tenantId=contoso"), e.SignedGet("tenantId=contoso")} {
		resp = call(req)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
		state := apitest.Decode[lockbox.Lockdown](t, resp)
		assert.True(t, state.Active)
		assert.Equal(t, "credential leak under investigation, INC-2040", state.Reason)
	}

	// Lifted: filing works again; lifting again is a conflict.
	resp = call(del(ada, `{"reason":"contained"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.False(t, apitest.Decode[lockbox.Lockdown](t, resp).Active)
	resp = call(del(ada, ""))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "NotLockedDown", apitest.ErrorOf(t, resp).Code)
	resp = e.Serve(api.Create, e.Post(eng, body))
	assert.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))

	ops := []string{}
	msgs, err := e.Redis.XRange(t.Context(), "lb:{contoso}:events", "-", "+").Result()
	require.NoError(t, err)
	for _, m := range msgs {
		for _, v := range m.Values {
			for _, op := range []string{lockbox.OpRevoke, lockbox.OpCancel, lockbox.OpLockdown, lockbox.OpLiftLockdown} {
				if strings.Contains(v.(string), ":"+op) {
					ops = append(ops, op)
				}
			}
		}
	}
	assert.Equal(t, []string{lockbox.OpCancel, lockbox.OpRevoke, lockbox.OpLockdown, lockbox.OpLiftLockdown}, ops)
}

// A lockdown whose until passes ends by itself.
func TestLockdownEndsAtUntil(t *testing.T) {
	e, call := setup(t)
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	resp := call(e.Post(ada, `{"until":"`+e.Now.Add(time.Hour).UTC().Format(time.RFC3339)+`","reason":"audit"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	eng := e.Token("eng-7", "provider", lockbox.RoleRequester)
	body := apitest.JSON(apitest.CreateInput("contoso", "eng-7"))
	assert.Equal(t, http.StatusLocked, e.Serve(api.Create, e.Post(eng, body)).StatusCode)
	e.Advance(time.Hour)
	assert.Equal(t, http.StatusCreated, e.Serve(api.Create, e.Post(eng, body)).StatusCode)
	resp = call(e.Get(ada, ""))
	assert.False(t, apitest.Decode[lockbox.Lockdown](t, resp).Active)
}

// Refusals: a clear 4xx, and nothing written.
func TestLockdownRefusals(t *testing.T) {
	e, call := setup(t)
	grant(t, e, "eng-7")
	e.File("contoso", "eng-8")
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	ok := `{"reason":"incident"}`
	past := e.Now.Add(-time.Minute).UTC().Format(time.RFC3339)
	far := e.Now.Add(400 * 24 * time.Hour).UTC().Format(time.RFC3339)

	cases := []struct {
		name string
		req  handler.Request
		want int
	}{
		{"an approver", e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), ok), http.StatusForbidden},
		{"a reader", e.Post(e.Token("rita", "contoso", lockbox.RoleReader), ok), http.StatusForbidden},
		{"an operator", e.Post(e.Token("olga", "contoso", lockbox.RoleOperator, lockbox.RoleAdmin), ok), http.StatusForbidden},
		{"an admin who is also a requester", e.Post(e.Token("eve", "contoso", lockbox.RoleAdmin, lockbox.RoleRequester), ok), http.StatusForbidden},
		{"a signed webhook", e.Signed(ok), http.StatusUnauthorized},
		{"no credentials", handler.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(ok)}, http.StatusUnauthorized},
		{"an expired token", e.Post(e.ExpiredToken("ada", "contoso", lockbox.RoleAdmin), ok), http.StatusUnauthorized},
		{"no reason", e.Post(ada, `{}`), http.StatusBadRequest},
		{"an empty reason", e.Post(ada, `{"reason":""}`), http.StatusBadRequest},
		{"a control character", e.Post(ada, `{"reason":"a\u0000b"}`), http.StatusBadRequest},
		{"a reason too long", e.Post(ada, `{"reason":"`+strings.Repeat("x", 4097)+`"}`), http.StatusBadRequest},
		{"until in the past", e.Post(ada, `{"reason":"x","until":"`+past+`"}`), http.StatusBadRequest},
		{"until too far", e.Post(ada, `{"reason":"x","until":"`+far+`"}`), http.StatusBadRequest},
		{"until not a time", e.Post(ada, `{"reason":"x","until":"tomorrow"}`), http.StatusBadRequest},
		{"until a number", e.Post(ada, `{"reason":"x","until":1767225600}`), http.StatusBadRequest},
		{"a tenantId in the body", e.Post(ada, `{"reason":"x","tenantId":"fabrikam"}`), http.StatusBadRequest},
		{"a tenantId in the query", func() handler.Request { r := e.Post(ada, ok); r.QueryString = "tenantId=fabrikam"; return r }(), http.StatusBadRequest},
		{"not JSON", func() handler.Request { r := e.Post(ada, ok); r.Header.Set("Content-Type", "text/plain"); return r }(), http.StatusUnsupportedMediaType},
		{"PUT", func() handler.Request { r := e.Post(ada, ok); r.Method = http.MethodPut; return r }(), http.StatusMethodNotAllowed},
		{"lifting what is not locked down", del(ada, ""), http.StatusConflict},
		{"an approver lifting", del(e.Token("alice", "contoso", lockbox.RoleApprover), ""), http.StatusForbidden},
		{"a lift's reason with a control character", del(ada, `{"reason":"a\u0007"}`), http.StatusBadRequest},
		{"GET by a requester", e.Get(e.Token("eng-7", "provider", lockbox.RoleRequester), ""), http.StatusForbidden},
		{"GET of another tenant", e.Get(ada, "tenantId=fabrikam"), http.StatusForbidden},
		{"GET by an operator naming no tenant", e.Get(e.Token("olga", "provider", lockbox.RoleOperator), ""), http.StatusBadRequest},
	}
	for _, c := range cases {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}

	// A lockdown while one is in force replaces it (a new until or
	// reason), and has nothing left to end.
	resp := call(e.Post(ada, ok))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp = call(e.Post(ada, `{"reason":"still investigating"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := apitest.Decode[lockbox.LockdownResult](t, resp)
	assert.Empty(t, got.Revoked)
	assert.Empty(t, got.Canceled)
	assert.Equal(t, "still investigating", got.Reason)
}
