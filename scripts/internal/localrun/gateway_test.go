package localrun

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/stack"
)

// echo is a function that reports what it received and answers with the
// status asked for in ?status=.
func echo(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", "yes")
		status := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			status = atoi(s)
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			"header": r.Header.Get("X-Custom"), "topic": r.Header.Get("X-Topic"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func testGateway(t *testing.T) (*httptest.Server, *gateway) {
	fn := echo(t)
	b := newBackend(stack.Function{Name: "echo", Image: "echo:1", Annotations: map[string]string{"topic": "cron-function"}},
		strings.TrimPrefix(fn.URL, "http://"), map[string]string{"a": "1"}, func() bool { return true })
	g := &gateway{backends: map[string]*backend{"echo": b}, user: "admin", password: "pw", log: slog.New(slog.DiscardHandler), client: &http.Client{}}
	srv := httptest.NewServer(g.routes())
	t.Cleanup(srv.Close)
	return srv, g
}

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]string
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &m)
	return resp, m
}

func TestGatewayInvoke(t *testing.T) {
	srv, g := testGateway(t)

	resp, got := do(t, http.MethodPut, srv.URL+"/function/echo/sub/path?x=1&y=%20z", "hello", map[string]string{"X-Custom": "c"})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, map[string]string{"method": "PUT", "path": "/sub/path", "query": "x=1&y=%20z", "body": "hello", "header": "c", "topic": ""}, got)
	assert.Equal(t, "yes", resp.Header.Get("X-Echo"), "function headers pass through")
	assert.NotEmpty(t, resp.Header.Get("X-Call-Id"))

	resp, _ = do(t, http.MethodGet, srv.URL+"/function/echo.openfaas-fn?status=418", "", nil)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode, "status passes through, namespace accepted")

	for _, path := range []string{"/function/nope", "/function/echo.other-ns", "/function/"} {
		resp, _ = do(t, http.MethodGet, srv.URL+path, "", nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
	assert.EqualValues(t, 2, g.backends["echo"].invocations.Load())
}

func TestGatewayAsync(t *testing.T) {
	srv, _ := testGateway(t)
	got := make(chan http.Header, 1)
	bodies := make(chan string, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header
		bodies <- string(b)
	}))
	defer cb.Close()

	resp, _ := do(t, http.MethodPost, srv.URL+"/async-function/echo?status=201", "later", map[string]string{"X-Callback-Url": cb.URL})
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	select {
	case h := <-got:
		assert.Equal(t, "201", h.Get("X-Function-Status-Code"))
		assert.Equal(t, "echo", h.Get("X-Function-Name"))
		assert.Equal(t, resp.Header.Get("X-Call-Id"), h.Get("X-Call-Id"))
		assert.Contains(t, <-bodies, `"body":"later"`)
	case <-time.After(5 * time.Second):
		t.Fatal("no callback")
	}
	resp, _ = do(t, http.MethodPost, srv.URL+"/async-function/nope", "", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestGatewaySystem(t *testing.T) {
	srv, _ := testGateway(t)
	for _, path := range []string{"/system/functions", "/system/function/echo", "/system/namespaces", "/system/info"} {
		resp, _ := do(t, http.MethodGet, srv.URL+path, "", nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s without credentials", path)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.SetBasicAuth("admin", "wrong")
		r2, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		r2.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, r2.StatusCode, "%s with a wrong password", path)
	}
	get := func(path string, v any) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.SetBasicAuth("admin", "pw")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if v != nil {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
		}
		return resp.StatusCode
	}
	var list []functionStatus
	assert.Equal(t, http.StatusOK, get("/system/functions", &list))
	require.Len(t, list, 1)
	assert.Equal(t, "echo", list[0].Name)
	assert.EqualValues(t, 1, list[0].AvailableReplicas)
	assert.Equal(t, map[string]string{"a": "1"}, list[0].EnvVars)

	var one functionStatus
	assert.Equal(t, http.StatusOK, get("/system/function/echo?namespace=openfaas-fn", &one))
	assert.Equal(t, "echo:1", one.Image)
	assert.Equal(t, http.StatusNotFound, get("/system/function/nope", nil))

	var ns []string
	assert.Equal(t, http.StatusOK, get("/system/namespaces", &ns))
	assert.Equal(t, []string{"openfaas-fn"}, ns)
	resp, _ := do(t, http.MethodGet, srv.URL+"/healthz", "", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "healthz needs no credentials")
}

func TestCronInvokesThroughGateway(t *testing.T) {
	srv, g := testGateway(t)
	ctx := t.Context()
	fns := []stack.Function{
		{Name: "echo", Annotations: map[string]string{"topic": "cron-function", "schedule": "@every 1s"}},
		{Name: "other", Annotations: map[string]string{"schedule": "@every 1s"}}, // no topic: not scheduled
	}
	got, err := scheduleCron(ctx, fns, srv.URL, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"echo": "@every 1s"}, got)
	require.Eventually(t, func() bool { return g.backends["echo"].invocations.Load() >= 2 }, 5*time.Second, 50*time.Millisecond)

	_, err = scheduleCron(ctx, []stack.Function{{Name: "bad", Annotations: map[string]string{"topic": "cron-function", "schedule": "* * * * * *"}}}, srv.URL, slog.New(slog.DiscardHandler))
	assert.Error(t, err, "six fields are refused, as by the connector's standard parser")
}
