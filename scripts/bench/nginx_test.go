package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/loopback"
)

// requireNginx returns the path of an nginx with auth_request. Without one
// the test is skipped, saying why, except in CI (CI set), where it fails
// rather than letting the test pass unseen.
func requireNginx(t *testing.T) string {
	t.Helper()
	bin, reason := findNginx()
	if reason == "" {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run this test with nginx: %s", reason)
	}
	t.Skip(reason)
	return ""
}

// seen records what the stand-in for lockbox-check was sent.
type seen struct {
	mu    sync.Mutex
	calls []http.Header
	body  []string
}

// The bench's nginx: the plain server proxies every call to the upstream
// without asking; the guarded one asks the check first, passes the
// engineer's token, sets the tenant and resource itself (whatever the
// client sent), records the method and URI, sends no body, and lets a call
// through only on the check's 2xx (401 and 403 reach the client). Stopped,
// no process of it is left.
func TestNginxAuthRequest(t *testing.T) {
	bin := requireNginx(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(upstream.Close)
	var got seen
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.mu.Lock()
		got.calls = append(got.calls, r.Header.Clone())
		got.body = append(got.body, string(b))
		got.mu.Unlock()
		switch r.Header.Get("Authorization") {
		case "":
			w.WriteHeader(http.StatusUnauthorized)
		case "Bearer stranger":
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(check.Close)

	ports := make([]string, 2)
	for i := range ports {
		p, err := loopback.FreePort()
		require.NoError(t, err)
		ports[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	conf := nginxConf{Dir: filepath.Join(t.TempDir(), "nginx"), Plain: ports[0], Guarded: ports[1],
		Upstream: strings.TrimPrefix(upstream.URL, "http://"), Check: strings.TrimPrefix(check.URL, "http://"), Tenant: "contoso", Resource: "vm-1"}
	n, err := startNginx(bin, conf)
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			n.stop()
		}
	})
	require.NotEmpty(t, n.workers)

	call := func(method, addr, bearer, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+checkURI, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Lockbox-Tenant", "fabrikam") // the client's own copy, which nginx must replace
		if bearer != "" {
			req.Header.Set("Authorization", bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	got.calls = nil // the start-up's probes
	assert.Equal(t, http.StatusOK, call(http.MethodGet, conf.Plain, "", ""))
	assert.Empty(t, got.calls, "the plain server asks nothing")

	assert.Equal(t, http.StatusUnauthorized, call(http.MethodGet, conf.Guarded, "", ""))
	assert.Equal(t, http.StatusForbidden, call(http.MethodGet, conf.Guarded, "Bearer stranger", ""))
	assert.Equal(t, http.StatusOK, call(http.MethodPost, conf.Guarded, "Bearer eng-1", `{"a":"body"}`))
	require.Len(t, got.calls, 3)
	h := got.calls[2]
	assert.Equal(t, "Bearer eng-1", h.Get("Authorization"))
	assert.Equal(t, []string{"contoso"}, h.Values("X-Lockbox-Tenant"))
	assert.Equal(t, []string{"vm-1"}, h.Values("X-Lockbox-Resource"))
	assert.Equal(t, "POST", h.Get("X-Original-Method"))
	assert.Equal(t, checkURI, h.Get("X-Original-Uri"))
	assert.Empty(t, got.body[2], "no body to the check")

	g := &generator{tokens: map[string]string{}, jwt: []byte("a test key"), client: &http.Client{}}
	proxy, err := g.caller(Job{Op: "proxy", Path: "http", URL: "http://" + conf.Guarded, Items: []Item{{Who: "eng-1"}}})
	require.NoError(t, err)
	assert.NoError(t, proxy(context.Background(), Item{Who: "eng-1"}))
	assert.True(t, strings.HasPrefix(got.calls[3].Get("Authorization"), "Bearer ey"), "the engineer's minted token")

	cpu, err := n.cpu()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cpu, 0.0)

	n.stop()
	stopped = true
	for _, pid := range append([]int{n.cmd.Process.Pid}, n.workers...) {
		assert.Error(t, syscall.Kill(pid, 0), "process %d outlived nginx's stop", pid)
	}
}

// The configuration takes only plain values: nothing that would end a
// directive or open a block.
func TestNginxConfRefusesInjection(t *testing.T) {
	ok := nginxConf{Dir: "/tmp/x", Plain: "127.0.0.1:1", Guarded: "127.0.0.1:2", Upstream: "127.0.0.1:3", Check: "127.0.0.1:4",
		Tenant: "contoso", Resource: "vm-1"}
	text, err := ok.render()
	require.NoError(t, err)
	assert.Contains(t, text, `proxy_set_header X-Lockbox-Tenant "contoso";`)
	assert.Contains(t, text, "auth_request /_lockbox_check;")
	assert.Equal(t, 1, strings.Count(text, "auth_request "), "one server is guarded")
	for _, bad := range []string{`vm-1"; auth_request off; #`, "vm 1", "vm-1}", "$host", ""} {
		c := ok
		c.Resource = bad
		_, err := c.render()
		assert.Error(t, err, "%q", bad)
	}
}

// Without nginx, or with one built without auth_request, the step records
// why and measures nothing.
func TestNginxSkipped(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	b := &bench{log: slog.New(slog.NewTextHandler(io.Discard, nil)), rep: &Report{}}
	require.NoError(t, b.nginxStep())
	assert.Contains(t, b.rep.Nginx.Skipped, "nginx is not installed")
	assert.Empty(t, b.rep.Nginx.Runs)

	fake := "#!/bin/sh\necho 'nginx version: nginx/1.22.1' >&2\necho 'configure arguments: --with-http_ssl_module' >&2\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nginx"), []byte(fake), 0o700)) // #nosec G306 -- a test's executable
	b.rep = &Report{}
	require.NoError(t, b.nginxStep())
	assert.Equal(t, "this nginx is built without the auth_request module", b.rep.Nginx.Skipped)
}
