package e2e

import (
	"encoding/json"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"lockbox.dev/shared/lockbox"
)

// traefikBinary finds the pinned Traefik: LOCKBOX_TRAEFIK_BIN, PATH, or
// GOPATH/bin (scripts/install-traefik.sh). Without it the test is skipped
// with the reason, in CI too: Traefik is not a program this project's
// deployments need (nginx and sshd are run in CI for the same guarantees),
// and its cold build (about 20 minutes of CPU) does not fit CI's budget;
// `make test-traefik` builds it and runs this test.
func traefikBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LOCKBOX_TRAEFIK_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("traefik"); err == nil {
		return p
	}
	if p := filepath.Join(build.Default.GOPATH, "bin", "traefik"); fileExists(p) {
		return p
	}
	t.Skip("Traefik is not installed: make test-traefik builds the pinned one (scripts/install-traefik.sh, about 20 minutes of CPU cold) and runs this test")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// refusal is the code of a refusal's body, which Traefik passes on.
func refusal(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), "%s", body)
	return e.Error.Code
}

// Traefik's forwardAuth with the README's file-provider configuration, in
// front of an upstream the test runs, asking the stack's lockbox-check:
// 401 without a token; 403 with Lockbox's code without a grant, while
// pending, for another engineer, for another VM however the client names
// the resource, and at once after a revoke; 200 once approved, the
// upstream seeing which request let the call in and never the engineer's
// token; lockbox-check sent the configuration's tenant and resource once,
// with X-Forwarded-Method and X-Forwarded-Uri.
func TestTraefikForwardAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack and Traefik")
	}
	traefik := traefikBinary(t)
	up := newUpstream(t)
	e := startEnforceStack(t, nil)
	rec := newCheckRecorder(t, e.Gateway)

	// The README's configuration for vm-1, and the same for vm-2 under
	// /vm-2 (a longer rule: Traefik tries it first).
	conf := substitute(t, enforceConfig(t, "traefik"),
		"http://127.0.0.1:8080/function/lockbox-check", "http://"+rec.addr()+"/function/lockbox-check",
		"url: http://127.0.0.1:9000", "url: http://"+up.addr())
	vm2 := substitute(t, strings.ReplaceAll(conf, "vm-1", "vm-2"), "rule: PathPrefix(`/`)", "rule: PathPrefix(`/vm-2`)")
	var doc1, doc2 map[string]map[string]map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(conf), &doc1))
	require.NoError(t, yaml.Unmarshal([]byte(vm2), &doc2))
	for kind, items := range doc2["http"] {
		for name, v := range items {
			doc1["http"][kind][name] = v
		}
	}
	dir := t.TempDir()
	dynamic := filepath.Join(dir, "dynamic.yml")
	merged, err := yaml.Marshal(doc1)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dynamic, merged, 0o600))
	addr := freeAddr(t)
	startDaemon(t, traefik, dir, func() bool {
		// The routes are loaded once the entry point no longer answers 404.
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode != http.StatusNotFound
	}, "--entryPoints.web.address="+addr, "--providers.file.filename="+dynamic,
		"--global.checkNewVersion=false", "--global.sendAnonymousUsage=false", "--log.noColor=true")

	eng7 := e.token(t, "provider", "eng-7", lockbox.RoleRequester)
	eng8 := e.token(t, "provider", "eng-8", lockbox.RoleRequester)

	status, body := through(t, http.MethodGet, addr, "/disk", "", "", nil)
	assert.Equal(t, http.StatusUnauthorized, status, body)
	status, body = through(t, http.MethodGet, addr, "/disk?usage=1", eng7, "", nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, lockbox.CodeNoGrant, refusal(t, body))
	call := rec.last(t)
	assert.Equal(t, []string{enforceTenant}, call.header.Values("X-Lockbox-Tenant"))
	assert.Equal(t, []string{"vm-1"}, call.header.Values("X-Lockbox-Resource"))
	assert.Equal(t, []string{"Read"}, call.header.Values("X-Lockbox-Access-Level"))
	assert.Equal(t, "GET", call.header.Get("X-Forwarded-Method"))
	assert.Equal(t, "/disk?usage=1", call.header.Get("X-Forwarded-Uri"))
	assert.Equal(t, "Bearer "+eng7, call.header.Get("Authorization"))

	r := e.grant(t, "eng-7", true, "vm-1")
	status, body = through(t, http.MethodGet, addr, "/disk", eng7, "", nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, lockbox.CodePendingApproval, refusal(t, body))
	assert.Equal(t, 0, up.hits(), "a refused call reached the console")

	r = e.decide(t, "lockbox-approve", r.RequestID, http.StatusOK)
	status, body = through(t, http.MethodGet, addr, "/disk", eng7, "", map[string]string{"X-Lockbox-Request-Id": "forged"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "the console of vm-1, GET /disk")
	seen := up.last(t)
	assert.Equal(t, []string{r.RequestID}, seen.Values("X-Lockbox-Request-Id"))
	assert.Empty(t, seen.Values("Authorization"), "the engineer's token reached the console")

	status, body = through(t, http.MethodGet, addr, "/disk", eng8, "", nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, lockbox.CodeNoGrant, refusal(t, body))
	status, body = through(t, http.MethodGet, addr, "/vm-2/disk", eng7, "", map[string]string{"X-Lockbox-Resource": "vm-1"})
	assert.Equal(t, http.StatusForbidden, status, "a client naming vm-1 reached vm-2")
	assert.Equal(t, lockbox.CodeNoGrant, refusal(t, body))
	assert.Equal(t, []string{"vm-2"}, rec.last(t).header.Values("X-Lockbox-Resource"), "the client's X-Lockbox-Resource reached lockbox-check")
	assert.Equal(t, 1, up.hits(), "a refused call reached the console")
	got := e.read(t, r.RequestID)
	require.NotNil(t, got.Usage)
	assert.Equal(t, 1, got.Usage.Checks)
	require.Len(t, got.Usage.Resources, 1)
	assert.Equal(t, "vm-1", got.Usage.Resources[0].ResourceID)

	e.decide(t, "lockbox-revoke", r.RequestID, http.StatusOK)
	status, body = through(t, http.MethodGet, addr, "/disk", eng7, "", nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, lockbox.CodeGrantEnded, refusal(t, body))
	assert.Equal(t, 1, up.hits(), "a refused call reached the console")
}
