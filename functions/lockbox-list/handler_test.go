package function

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

func setup(t *testing.T) (*apitest.Env, func(handler.Request) handler.Response) {
	return apitest.Setup(t, &svc, Handle)
}

func ids(t *testing.T, resp handler.Response) ([]string, *string) {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	l := apitest.Decode[api.ListResponse](t, resp)
	out := make([]string, len(l.Value))
	for i, r := range l.Value {
		out[i] = r.RequestID
	}
	return out, l.NextCursor
}

func TestListOwnTenant(t *testing.T) {
	e, call := setup(t)
	a := e.File("contoso", "eng-7")
	e.Advance(time.Second)
	b := e.File("contoso", "eng-8")
	theirs := e.File("fabrikam", "eng-7")
	reader := e.Token("rita", "contoso", lockbox.RoleReader)

	got, next := ids(t, call(e.Get(reader, "")))
	assert.Equal(t, []string{b.RequestID, a.RequestID}, got, "newest first, own tenant only")
	assert.Nil(t, next)

	// Empty pages are [] not null.
	resp := call(e.Get(reader, "status=Denied"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(resp.Body), `"value":[]`)

	got, _ = ids(t, call(e.Get(reader, "requestId="+a.RequestID)))
	assert.Equal(t, []string{a.RequestID}, got)

	// Another tenant's id is not found, never forbidden.
	resp = call(e.Get(reader, "requestId="+theirs.RequestID))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp = call(e.Get(reader, "tenantId=fabrikam"))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	// An operator reads the tenant they name.
	got, _ = ids(t, call(e.Get(e.Token("ops", "provider", lockbox.RoleOperator), "tenantId=fabrikam")))
	assert.Equal(t, []string{theirs.RequestID}, got)

	// A requester asks "is my access active?" and sees only their own.
	eng7 := e.Token("eng-7", "provider", lockbox.RoleRequester)
	got, _ = ids(t, call(e.Get(eng7, "tenantId=contoso")))
	assert.Equal(t, []string{a.RequestID}, got)
	resp = call(e.Get(eng7, "tenantId=contoso&requestId="+b.RequestID))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "another engineer's request")
}

func TestListEffectiveStatus(t *testing.T) {
	e, call := setup(t)
	old := e.File("contoso", "eng-7")
	e.Advance(96 * time.Hour)
	fresh := e.File("contoso", "eng-7")
	reader := e.Token("rita", "contoso", lockbox.RoleReader)

	got, _ := ids(t, call(e.Get(reader, "status=Expired")))
	assert.Equal(t, []string{old.RequestID}, got, "expired before any sweep")
	got, _ = ids(t, call(e.Get(reader, "status=Pending")))
	assert.Equal(t, []string{fresh.RequestID}, got)
}

func TestListSigned(t *testing.T) {
	e, call := setup(t)
	r := e.File("contoso", "eng-7")
	got, _ := ids(t, call(e.SignedGet("tenantId=contoso&requestId="+r.RequestID)))
	assert.Equal(t, []string{r.RequestID}, got)

	// The signature covers the query: it cannot be reused for another one.
	req := e.SignedGet("tenantId=contoso")
	req.QueryString = "tenantId=fabrikam"
	assert.Equal(t, http.StatusUnauthorized, call(req).StatusCode)
}

func TestListPaging(t *testing.T) {
	e, call := setup(t)
	var want []string
	for range 7 {
		want = append([]string{e.File("contoso", "eng-7").RequestID}, want...)
		e.Advance(time.Millisecond)
	}
	reader := e.Token("rita", "contoso", lockbox.RoleReader)
	var seen []string
	query := "limit=3"
	for range 5 {
		got, next := ids(t, call(e.Get(reader, query)))
		seen = append(seen, got...)
		e.File("contoso", "eng-7") // arrivals do not disturb the walk
		if next == nil {
			break
		}
		query = "limit=3&cursor=" + url.QueryEscape(*next)
	}
	assert.Equal(t, want, seen)
}

func TestListRefusals(t *testing.T) {
	e, call := setup(t)
	e.File("contoso", "eng-7")
	reader := e.Token("rita", "contoso", lockbox.RoleReader)
	first := call(e.Get(reader, "limit=1"))
	e.File("contoso", "eng-7")
	_, next := ids(t, call(e.Get(reader, "limit=1")))
	require.NotNil(t, next)
	_ = first

	post := e.Get(reader, "")
	post.Method = http.MethodPost
	cases := []struct {
		name string
		req  handler.Request
		want int
	}{
		{"limit 0", e.Get(reader, "limit=0"), http.StatusBadRequest},
		{"limit 101", e.Get(reader, "limit=101"), http.StatusBadRequest},
		{"limit not a number", e.Get(reader, "limit=ten"), http.StatusBadRequest},
		{"limit negative", e.Get(reader, "limit=-5"), http.StatusBadRequest},
		{"status unknown", e.Get(reader, "status=Withdrawn"), http.StatusBadRequest},
		{"status in lower case", e.Get(reader, "status=revoked"), http.StatusBadRequest},
		{"status lower case", e.Get(reader, "status=pending"), http.StatusBadRequest},
		{"unknown parameter", e.Get(reader, "sort=asc"), http.StatusBadRequest},
		{"repeated parameter", e.Get(reader, "status=Pending&status=Denied"), http.StatusBadRequest},
		{"malformed query", e.Get(reader, "status=%zz"), http.StatusBadRequest},
		{"garbage cursor", e.Get(reader, "cursor=not-a-cursor"), http.StatusBadRequest},
		{"cursor for another status", e.Get(reader, "status=Pending&cursor="+url.QueryEscape(*next)), http.StatusBadRequest},
		{"cursor replayed by another tenant", e.Get(e.Token("mallory", "fabrikam", lockbox.RoleReader), "cursor="+url.QueryEscape(*next)), http.StatusBadRequest},
		{"wildcard request id", e.Get(reader, "requestId=*"), http.StatusBadRequest},
		{"tenant with braces", e.Get(e.Token("ops", "provider", lockbox.RoleOperator), "tenantId="+url.QueryEscape("{contoso}")), http.StatusBadRequest},
		{"operator without tenant", e.Get(e.Token("ops", "", lockbox.RoleOperator), ""), http.StatusUnauthorized},
		{"huge query", e.Get(reader, "cursor="+strings.Repeat("A", 3000)), http.StatusBadRequest},
		{"no credentials", handler.Request{Method: http.MethodGet}, http.StatusUnauthorized},
		{"approver role needed at least", e.Get(e.Token("x", "contoso"), ""), http.StatusForbidden},
		{"POST", post, http.StatusMethodNotAllowed},
		{"bad signature", func() handler.Request {
			r := e.SignedGet("tenantId=contoso")
			r.Header.Set(auth.HeaderSignature, "sha256="+strings.Repeat("0", 64))
			return r
		}(), http.StatusUnauthorized},
	}
	for _, c := range cases {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}
}

func TestListUnavailable(t *testing.T) {
	e, call := setup(t)
	e.Mini.Close()
	assert.Equal(t, http.StatusServiceUnavailable, call(e.Get(e.Token("rita", "contoso", lockbox.RoleReader), "")).StatusCode)
}
