package function

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

func setup(t *testing.T) (*apitest.Env, func(handler.Request) handler.Response) {
	return apitest.Setup(t, &svc, Handle)
}

var validBody = apitest.JSON(apitest.CreateInput("contoso", "eng-7"))

func TestCreateSigned(t *testing.T) {
	e, call := setup(t)
	resp := call(e.Signed(validBody))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	// Exactly the contract's fields (v2 adds approvals, requiredApprovals
	// and closure).
	fields := apitest.Decode[map[string]any](t, resp)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	assert.Equal(t, []string{"accessActive", "accessExpirationDateTime", "accessLevel", "approvals", "closure", "createdDateTime",
		"decision", "duration", "expirationDateTime", "filedVia", "justification", "requestId", "requester", "requiredApprovals", "resourceIds",
		"resourceType", "status", "supportCaseUrl", "supportRequest", "tenantId", "usage", "workItemSource"}, keys)

	r := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, lockbox.StatusPending, r.Status)
	assert.Equal(t, "contoso", r.TenantID)
	assert.Equal(t, 8, r.Duration)
	assert.True(t, r.CreatedDateTime.Equal(e.Now))
	assert.True(t, r.ExpirationDateTime.Equal(e.Now.Add(96*time.Hour)))
	assert.Nil(t, r.Decision)
	assert.False(t, r.AccessActive)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, r.RequestID)

	got, err := e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	assert.Equal(t, r.RequestID, got.RequestID)
}

func TestCreateWithToken(t *testing.T) {
	e, call := setup(t)
	self := e.Post(e.Token("eng-7", "provider", lockbox.RoleRequester), validBody)
	assert.Equal(t, http.StatusCreated, call(self).StatusCode)

	other := e.Post(e.Token("eng-8", "provider", lockbox.RoleRequester), validBody)
	before := e.Snapshot()
	resp := call(other)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a requester files only for themself")
	assert.Equal(t, before, e.Snapshot())

	op := e.Post(e.Token("ops-1", "provider", lockbox.RoleOperator), validBody)
	assert.Equal(t, http.StatusCreated, call(op).StatusCode)

	approver := e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), validBody)
	assert.Equal(t, http.StatusForbidden, call(approver).StatusCode)
}

func TestCreateIdempotency(t *testing.T) {
	e, call := setup(t)
	withKey := func(req handler.Request, key string) handler.Request {
		req.Header.Set("Idempotency-Key", key)
		return req
	}
	first := call(withKey(e.Signed(validBody), "SNOW-INC-1001-1"))
	require.Equal(t, http.StatusCreated, first.StatusCode)
	id := apitest.Decode[lockbox.Request](t, first).RequestID

	// The ticketing system retries a minute later with a fresh signature
	// and its own formatting: the same request comes back, nothing is filed.
	e.Advance(time.Minute)
	before := e.SnapshotWithoutReplayMarkers()
	reformatted := strings.ReplaceAll(validBody, ",", ", ")
	retry := call(withKey(e.Signed(reformatted), "SNOW-INC-1001-1"))
	require.Equal(t, http.StatusOK, retry.StatusCode, string(retry.Body))
	assert.Equal(t, id, apitest.Decode[lockbox.Request](t, retry).RequestID)
	assert.Equal(t, before, e.SnapshotWithoutReplayMarkers())

	// The same key with another body is a clash.
	other := apitest.CreateInput("contoso", "eng-7")
	other.Justification = "something else"
	clash := call(withKey(e.Signed(apitest.JSON(other)), "SNOW-INC-1001-1"))
	assert.Equal(t, http.StatusConflict, clash.StatusCode)
	assert.Equal(t, "IdempotencyKeyReused", apitest.ErrorOf(t, clash).Code)
	afterRetry := e.Snapshot()
	clash = call(withKey(e.Signed(apitest.JSON(other)+" "), "SNOW-INC-1001-1"))
	assert.Equal(t, http.StatusConflict, clash.StatusCode)
	assert.Equal(t, afterRetry, e.Snapshot(), "a refused clash changes nothing, not even a replay marker")

	// Without the key, the same body is a new request.
	assert.Equal(t, http.StatusCreated, call(e.Signed(validBody)).StatusCode)
}

func TestCreateUnavailable(t *testing.T) {
	e, call := setup(t)
	e.Mini.Close()
	resp := call(e.Signed(validBody))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "ServiceUnavailable", apitest.ErrorOf(t, resp).Code)
	assert.NotContains(t, string(resp.Body), "127.0.0.1", "no internals leak")
}

func TestCreateRefusals(t *testing.T) {
	e, call := setup(t)
	oversize := `{"tenantId":"contoso","justification":"` + strings.Repeat("a", 65*1024) + `"}`
	stale := e.Signed(validBody)
	e.Advance(6 * time.Minute)
	textPlain := e.Signed(validBody)
	textPlain.Header.Set("Content-Type", "text/plain")
	unsigned := e.Signed(validBody)
	unsigned.Header.Del(auth.HeaderSignature)
	get := e.Signed(validBody)
	get.Method = http.MethodGet
	badKey := e.Signed(validBody)
	badKey.Header.Set("Idempotency-Key", "has space")

	cases := []struct {
		name string
		req  handler.Request
		want int
	}{
		{"no signature", unsigned, http.StatusUnauthorized},
		{"signature older than 5 minutes", stale, http.StatusUnauthorized},
		{"wrong method", get, http.StatusMethodNotAllowed},
		{"body over 64 KiB", e.Signed(oversize), http.StatusRequestEntityTooLarge},
		{"not JSON content type", textPlain, http.StatusUnsupportedMediaType},
		{"idempotency key with space", badKey, http.StatusBadRequest},
	}
	for _, c := range cases {
		before := e.Snapshot()
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}
}

// Hostile input, correctly signed so that it reaches the parser: every case
// is a clear 400 and changes nothing.
func TestCreateHostileInput(t *testing.T) {
	e, call := setup(t)
	mutate := func(f func(m map[string]any)) string {
		m := apitest.Decode[map[string]any](t, handler.Response{Body: []byte(validBody)})
		f(m)
		return apitest.JSON(m)
	}
	set := func(k string, v any) string { return mutate(func(m map[string]any) { m[k] = v }) }
	del := func(k string) string { return mutate(func(m map[string]any) { delete(m, k) }) }

	cases := map[string]string{
		"empty body":                     ``,
		"not JSON":                       `tenantId=contoso`,
		"truncated JSON":                 validBody[:len(validBody)-5],
		"array body":                     `[` + validBody + `]`,
		"string body":                    `"hello"`,
		"null body":                      `null`,
		"two objects":                    validBody + validBody,
		"trailing garbage":               validBody + `x`,
		"unknown field":                  set("isAdmin", true),
		"field in other case":            strings.Replace(validBody, `"tenantId"`, `"TenantId"`, 1),
		"duplicate tenant":               strings.Replace(validBody, `{`, `{"tenantId":"fabrikam",`, 1),
		"server-set status":              set("status", "Approved"),
		"server-set requestId":           set("requestId", "abc"),
		"server-set decision":            set("decision", map[string]any{"by": "x"}),
		"unknown nested field":           set("requester", map[string]any{"id": "eng-7", "role": "admin"}),
		"tenant is a number":             set("tenantId", 42),
		"resourceIds is a string":        set("resourceIds", "vm-1"),
		"resourceIds holds numbers":      set("resourceIds", []any{1, 2}),
		"duration is a string":           set("duration", "8"),
		"duration is fractional":         set("duration", 1.5),
		"duration is huge":               set("duration", 1e30),
		"duration is zero":               set("duration", 0),
		"duration over 720":              set("duration", 721),
		"missing tenant":                 del("tenantId"),
		"missing justification":          del("justification"),
		"missing requester":              del("requester"),
		"missing resourceIds":            del("resourceIds"),
		"missing supportRequest":         del("supportRequest"),
		"empty resourceIds":              set("resourceIds", []any{}),
		"51 resourceIds":                 set("resourceIds", slices.Repeat([]any{"vm"}, 51)),
		"justification over 4096":        set("justification", strings.Repeat("j", 4097)),
		"tenant with hash tag braces":    set("tenantId", "contoso}{x"),
		"tenant with key separator":      set("tenantId", "contoso:req:1"),
		"tenant with path traversal":     set("tenantId", "../../etc"),
		"tenant with wildcard":           set("tenantId", "*"),
		"tenant too long":                set("tenantId", strings.Repeat("t", 65)),
		"tenant with NUL":                set("tenantId", "contoso\x00"),
		"requester id with space":        set("requester", map[string]any{"id": "eng 7"}),
		"requester id with newline":      set("requester", map[string]any{"id": "eng-7\nadmin"}),
		"script in case url":             set("supportCaseUrl", "javascript:alert(document.cookie)"),
		"lua-looking resource type":      set("resourceType", "x\x00redis.call('FLUSHALL')"),
		"control chars in justification": set("justification", "ok\x1b[31mred"),
		"invalid UTF-8":                  strings.Replace(validBody, "disk latency", "disk \xff\xfe latency", 1),
		"deeply nested requester":        set("requester", map[string]any{"id": map[string]any{"id": map[string]any{}}}),
	}
	for name, body := range cases {
		before := e.Snapshot()
		resp := call(e.Signed(body))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", name, resp.Body)
		if resp.StatusCode == http.StatusBadRequest {
			assert.Equal(t, "InvalidRequest", apitest.ErrorOf(t, resp).Code, name)
		}
		assert.Equal(t, before, e.Snapshot(), "%s changed state", name)
	}
	assert.GreaterOrEqual(t, len(cases), 30)
}
