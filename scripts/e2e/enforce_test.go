package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/scripts/internal/readme"
	"lockbox.dev/shared/lockbox"
)

// The README's "Enforce a grant" configurations, run by the real programs
// against a stack started as make run starts it: nginx's auth_request
// (TestNginxAuthRequest), OpenSSH's sshd with Lockbox's CA
// (TestSSHCertificateLogin), Traefik's forwardAuth (TestTraefikForwardAuth)
// and, not runnable here, Envoy's ext_authz (TestEnvoyExtAuthzConfig).
// Each takes its configuration from the README itself, with make run's
// addresses replaced by the test's.

// enforceTenant and the resources are the README's walk-through's.
const enforceTenant = "fabrikam"

// readmeFile returns what the README's walk-through writes into a file of
// $DEMO with a here-document: the lines between
// `cat > "$DEMO/<name>" <<'EOF'` (or <<EOF) and `EOF`.
func readmeFile(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "enforce.md"))
	require.NoError(t, err)
	blocks, err := readme.Blocks(string(raw))
	require.NoError(t, err)
	start := regexp.MustCompile(`^cat > "\$DEMO/` + regexp.QuoteMeta(name) + `" <<'?EOF'?$`)
	var found []string
	for _, b := range blocks {
		if ok, _ := b.Runnable(); !ok {
			continue
		}
		lines := strings.Split(b.Text, "\n")
		for i, l := range lines {
			if !start.MatchString(l) {
				continue
			}
			end := i + 1
			for end < len(lines) && lines[end] != "EOF" {
				end++
			}
			require.Less(t, end, len(lines), "docs/enforce.md:%d: the here-document of %s never ends", b.Line, name)
			found = append(found, strings.Join(lines[i+1:end], "\n")+"\n")
		}
	}
	require.Len(t, found, 1, "the README's walk-through writes $DEMO/%s once, with cat and a here-document", name)
	return found[0]
}

// substitute replaces each old string of pairs by its new one in text, and
// fails the test when one is not there: the README changed, and the test
// must follow it.
func substitute(t *testing.T, text string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		require.Contains(t, text, pairs[i], "the README's configuration no longer holds %q", pairs[i])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// freeAddr is a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := loopback.FreePort()
	require.NoError(t, err)
	return "127.0.0.1:" + strconv.Itoa(port)
}

// requireRoot skips a test that must run as root (sshd logging a user in),
// saying so, except in CI, where it fails.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test runs sshd and logs in as root: CI must run it as root")
	}
	t.Skip("runs sshd and logs in as root: run it as root")
}

// daemon is a server program a test runs in the foreground, killed when
// the test ends, with what it printed logged if the test failed.
type daemon struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
}

// startDaemon starts path with args in dir, and waits (at most 30
// seconds) until ready holds.
func startDaemon(t *testing.T, path, dir string, ready func() bool, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: filepath.Base(path), out: &syncBuffer{}}
	d.cmd = exec.Command(path, args...)
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, d.cmd.Start(), "start %s", path)
	exited := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("%s printed:\n%s", d.name, d.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case <-exited:
			t.Fatalf("%s %s exited: %s", path, strings.Join(args, " "), d.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready after 30s: %s", path, d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// written is the readiness of a daemon that writes its pid file once it
// listens (nginx, sshd).
func written(path string) func() bool {
	return func() bool {
		b, err := os.ReadFile(path)
		return err == nil && len(strings.TrimSpace(string(b))) > 0
	}
}

// checkCall is one call lockbox-check received through the recorder.
type checkCall struct {
	header http.Header
	body   int // bytes of body
	path   string
}

// checkRecorder stands between a proxy and the gateway: it forwards every
// call unchanged and keeps what lockbox-check was sent, so that a test
// sees what the proxy asked, not only what it answered.
type checkRecorder struct {
	mu    sync.Mutex
	calls []checkCall
	srv   *httptest.Server
}

func newCheckRecorder(t *testing.T, gateway string) *checkRecorder {
	t.Helper()
	target, err := url.Parse(gateway)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	r := &checkRecorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.calls = append(r.calls, checkCall{header: req.Header.Clone(), body: len(body), path: req.URL.Path})
		r.mu.Unlock()
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// addr is the recorder's host:port.
func (r *checkRecorder) addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// last is the latest call lockbox-check was sent.
func (r *checkRecorder) last(t *testing.T) checkCall {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.calls, "no call reached lockbox-check")
	return r.calls[len(r.calls)-1]
}

func (r *checkRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// upstream is the resource a proxy guards: it answers every call it gets
// and keeps the headers.
type upstream struct {
	mu      sync.Mutex
	headers []http.Header
	srv     *httptest.Server
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		u.mu.Unlock()
		fmt.Fprintf(w, "the console of vm-1, %s %s\n", r.Method, r.URL.RequestURI())
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

func (u *upstream) hits() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.headers)
}

func (u *upstream) last(t *testing.T) http.Header {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.NotEmpty(t, u.headers, "no call reached the upstream")
	return u.headers[len(u.headers)-1]
}

// through makes a call through a proxy at addr as the engineer holding
// token (none when empty), with extra headers, and returns the status and
// the body.
func through(t *testing.T, method, addr, uri, token, body string, extra map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+addr+uri, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err, "%s http://%s%s", method, addr, uri)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// enforceStack is the stack of an enforcement test, with the tenant's
// approver and the engineers' tokens, and the calls that file, approve and
// revoke their requests.
type enforceStack struct {
	*stackRun
	approver map[string]string
}

func startEnforceStack(t *testing.T, env map[string]string) *enforceStack {
	t.Helper()
	s := startStack(t, stackConfig{env: env})
	return &enforceStack{stackRun: s, approver: s.as(t, enforceTenant, "bob", lockbox.RoleApprover)}
}

// grant files a request of engineer for resources and, unless pending,
// has bob approve it; it returns the request.
func (e *enforceStack) grant(t *testing.T, engineer string, pending bool, resources ...string) lockbox.Request {
	t.Helper()
	r := e.fileRequest(t, lockbox.CreateInput{TenantID: enforceTenant, ResourceType: "vm", ResourceIDs: resources,
		Justification: "disk full", SupportRequest: "INC-" + randomHex(t, 3), Requester: lockbox.Requester{ID: engineer}})
	if pending {
		return r
	}
	return e.decide(t, "lockbox-approve", r.RequestID, http.StatusOK)
}

// decide approves or revokes (fn) a request as bob and returns it.
func (e *enforceStack) decide(t *testing.T, fn, id string, want int) lockbox.Request {
	t.Helper()
	status, body := e.call(t, http.MethodPost, "/function/"+fn, `{"requestId":"`+id+`","reason":"test"}`, e.approver)
	require.Equal(t, want, status, "%s: %s", fn, body)
	var r lockbox.Request
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	return r
}

// read returns the request as its tenant's approver reads it.
func (e *enforceStack) read(t *testing.T, id string) lockbox.Request {
	t.Helper()
	status, body := e.call(t, http.MethodGet, "/function/lockbox-list?requestId="+id, "", e.approver)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var page struct{ Value []lockbox.Request }
	require.NoError(t, json.Unmarshal(body, &page), "%s", body)
	require.Len(t, page.Value, 1)
	return page.Value[0]
}

// untilPast sleeps until a moment after instant.
func untilPast(instant time.Time) {
	if d := time.Until(instant); d > 0 {
		time.Sleep(d + 200*time.Millisecond)
	}
}

// nginx's auth_request with the README's server block, in front of an
// upstream the test runs, asking the stack's lockbox-check: 401 without a
// token; 403 without a grant and while the request waits; 200 once
// approved, the upstream seeing which request let the call in and never
// the engineer's token; 403 for a resource the grant does not name and
// for another engineer, however the client names the resource; 403 at
// once after a revoke and after the grant's end. Only the grant's own
// resource counts in its usage.
func TestNginxAuthRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack and nginx")
	}
	integrationOnly(t, "about 30 s: it waits for a grant to end")
	nginx := requireBinary(t, "nginx", "apt-get install -y nginx-core")
	up := newUpstream(t)
	// Every grant lasts 30 seconds: the last step waits for one to end.
	e := startEnforceStack(t, map[string]string{"max_access_ttl": "30s"})
	rec := newCheckRecorder(t, e.Gateway)

	// The README's server block for vm-1, and the same for vm-2 (another
	// VM's console, on another port), asking lockbox-check through the
	// recorder.
	vm1, vm2 := freeAddr(t), freeAddr(t)
	conf := substitute(t, readmeFile(t, "vm-1.conf"),
		"listen 127.0.0.1:8081;", "listen "+vm1+";",
		"http://127.0.0.1:9000;", "http://"+up.addr()+";",
		"http://127.0.0.1:8080/function/lockbox-check;", "http://"+rec.addr()+"/function/lockbox-check;")
	conf2 := substitute(t, conf, "listen "+vm1+";", "listen "+vm2+";",
		"X-Lockbox-Resource vm-1;", "X-Lockbox-Resource vm-2;")
	dir := t.TempDir()
	for name, text := range map[string]string{"vm-1.conf": conf, "vm-2.conf": conf2,
		"nginx.conf": "daemon off;\npid nginx.pid;\nerror_log error.log;\nevents {}\nhttp {\n    access_log off;\n" +
			"    client_body_temp_path body; proxy_temp_path proxy; fastcgi_temp_path fastcgi; uwsgi_temp_path uwsgi; scgi_temp_path scgi;\n" +
			"    include vm-1.conf;\n    include vm-2.conf;\n}\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	startDaemon(t, nginx, dir, written(filepath.Join(dir, "nginx.pid")), "-e", filepath.Join(dir, "error.log"), "-p", dir+"/", "-c", "nginx.conf")

	eng7 := e.token(t, "provider", "eng-7", lockbox.RoleRequester)
	eng8 := e.token(t, "provider", "eng-8", lockbox.RoleRequester)
	get := func(addr, token string, extra map[string]string) int {
		t.Helper()
		status, _ := through(t, http.MethodGet, addr, "/disk?usage=1", token, "", extra)
		return status
	}

	// No token: 401, and nothing reaches the console.
	assert.Equal(t, http.StatusUnauthorized, get(vm1, "", nil))
	assert.Equal(t, http.StatusUnauthorized, get(vm1, "not-a-token", nil))
	// A token but no request: 403.
	assert.Equal(t, http.StatusForbidden, get(vm1, eng7, nil))
	// What lockbox-check was asked: the tenant and resource nginx's
	// configuration names, the method and URI, the engineer's token, no body.
	call := rec.last(t)
	assert.Equal(t, "/function/lockbox-check", call.path)
	assert.Equal(t, []string{enforceTenant}, call.header.Values("X-Lockbox-Tenant"))
	assert.Equal(t, []string{"vm-1"}, call.header.Values("X-Lockbox-Resource"))
	assert.Equal(t, []string{"Read"}, call.header.Values("X-Lockbox-Access-Level"))
	assert.Equal(t, "GET", call.header.Get("X-Original-Method"))
	assert.Equal(t, "/disk?usage=1", call.header.Get("X-Original-URI"))
	assert.Equal(t, "Bearer "+eng7, call.header.Get("Authorization"))

	// Filed, waiting for the customer: 403; a body the engineer sends does
	// not reach lockbox-check.
	r := e.grant(t, "eng-7", true, "vm-1")
	assert.Equal(t, http.StatusForbidden, get(vm1, eng7, nil))
	status, _ := through(t, http.MethodPost, vm1, "/disk", eng7, `{"rm":"-rf"}`, map[string]string{"Content-Type": "application/json"})
	assert.Equal(t, http.StatusForbidden, status)
	call = rec.last(t)
	assert.Equal(t, 0, call.body, "the engineer's body reached lockbox-check")
	assert.Equal(t, "POST", call.header.Get("X-Original-Method"))
	assert.Equal(t, 0, up.hits(), "a refused call reached the console")

	// Approved: 200 with the console's page; the console sees which
	// request let the call in (not what the client claimed), and not the
	// engineer's Lockbox token.
	r = e.decide(t, "lockbox-approve", r.RequestID, http.StatusOK)
	require.True(t, r.AccessActive)
	status, body := through(t, http.MethodGet, vm1, "/disk?usage=1", eng7, "", map[string]string{"X-Lockbox-Request-Id": "forged"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "the console of vm-1, GET /disk?usage=1")
	seen := up.last(t)
	assert.Equal(t, []string{r.RequestID}, seen.Values("X-Lockbox-Request-Id"))
	assert.Empty(t, seen.Values("Authorization"), "the engineer's token reached the console")
	allowed := 1

	// Another engineer: 403. Another VM's console, which the grant does not
	// name: 403, also when the client names vm-1 and the tenant itself
	// (nginx sets the headers, replacing the client's).
	assert.Equal(t, http.StatusForbidden, get(vm1, eng8, nil))
	assert.Equal(t, http.StatusForbidden, get(vm2, eng7, nil))
	assert.Equal(t, http.StatusForbidden, get(vm2, eng7, map[string]string{"X-Lockbox-Resource": "vm-1", "X-Lockbox-Tenant": enforceTenant}))
	call = rec.last(t)
	assert.Equal(t, []string{"vm-2"}, call.header.Values("X-Lockbox-Resource"), "the client's X-Lockbox-Resource reached lockbox-check")
	assert.Equal(t, []string{enforceTenant}, call.header.Values("X-Lockbox-Tenant"))
	// The client naming another tenant changes nothing either.
	status, _ = through(t, http.MethodGet, vm1, "/", eng7, "", map[string]string{"X-Lockbox-Tenant": "contoso", "X-Lockbox-Access-Level": "Admin"})
	assert.Equal(t, http.StatusOK, status)
	allowed++
	assert.Equal(t, allowed, up.hits(), "a refused call reached the console")

	// Only the allowed calls count, and only for vm-1.
	got := e.read(t, r.RequestID)
	require.NotNil(t, got.Usage)
	assert.Equal(t, allowed, got.Usage.Checks)
	require.Len(t, got.Usage.Resources, 1)
	assert.Equal(t, "vm-1", got.Usage.Resources[0].ResourceID)
	assert.Equal(t, allowed, got.Usage.Resources[0].Checks)

	// Revoked: the very next call is refused.
	e.decide(t, "lockbox-revoke", r.RequestID, http.StatusOK)
	assert.Equal(t, http.StatusForbidden, get(vm1, eng7, nil))

	// A new grant opens the console again, until it ends by itself.
	r2 := e.grant(t, "eng-7", false, "vm-1")
	require.NotNil(t, r2.AccessExpirationDateTime)
	assert.Equal(t, http.StatusOK, get(vm1, eng7, nil))
	untilPast(*r2.AccessExpirationDateTime)
	assert.Equal(t, http.StatusForbidden, get(vm1, eng7, nil))
	assert.Equal(t, allowed+1, up.hits(), "a refused call reached the console")
	t.Logf("lockbox-check was asked %d times through nginx", rec.count())
}

// sshLogin runs the brief's ssh command against sshd on addr as root with
// key and its certificate, and returns whether it logged in, and what ssh
// printed.
func sshLogin(t *testing.T, sshPath, addr, key string) (bool, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), sshPath, "-F", "/dev/null", "-i", key, "-o", "CertificateFile="+key+"-cert.pub",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=10", "-p", port, "root@"+host, "true")
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "ssh did not run: %s", out)
		return false, string(out)
	}
	return true, string(out)
}

// newSSHKey writes an Ed25519 key pair with ssh-keygen into dir and returns
// the private key's path.
func newSSHKey(t *testing.T, keygen, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
	return path
}

// certInfo reads what ssh-keygen -L says of a certificate file: its
// principals and the end of its validity.
func certInfo(t *testing.T, keygen, certPath string) (principals []string, validBefore time.Time) {
	t.Helper()
	out, err := exec.Command(keygen, "-L", "-f", certPath).CombinedOutput()
	require.NoError(t, err, "ssh-keygen -L: %s", out)
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "Valid: from "); ok {
			_, to, found := strings.Cut(rest, " to ")
			require.True(t, found, "%s", l)
			// ssh-keygen prints local time without a zone.
			validBefore, err = time.ParseInLocation("2006-01-02T15:04:05", to, time.Local)
			require.NoError(t, err, "%s", l)
		}
		if l == "Principals:" {
			for _, p := range lines[i+1:] {
				if !strings.HasPrefix(p, "                ") {
					break
				}
				principals = append(principals, strings.TrimSpace(p))
			}
		}
	}
	require.False(t, validBefore.IsZero(), "no validity in:\n%s", out)
	return principals, validBefore
}

// OpenSSH's sshd with the README's configuration: it trusts the CA that
// GET lockbox-credential publishes and lets root in with a certificate
// naming vm-1, its own resource id. The certificate lockboxctl ssh-cert
// saves for a live grant of vm-1 logs in; one for a grant of another VM is
// refused; a revoked grant gets no new certificate (the one issued still
// logs in until its validBefore, as the README says); once a grant has
// ended, its certificate is refused and no new one is issued.
func TestSSHCertificateLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack and sshd")
	}
	integrationOnly(t, "about 50 s: it waits for a grant and its certificate to end")
	sshd := requireBinary(t, "sshd", "apt-get install -y openssh-server")
	sshPath := requireBinary(t, "ssh", "apt-get install -y openssh-client")
	keygen := requireBinary(t, "ssh-keygen", "apt-get install -y openssh-client")
	requireRoot(t)
	require.NoError(t, os.MkdirAll("/run/sshd", 0o755), "sshd's privilege separation folder")
	ctl := lockboxctl(t, repoRoot(t))
	// Every grant lasts 45 seconds: the last step waits for one to end.
	e := startEnforceStack(t, map[string]string{"max_access_ttl": "45s"})

	// Three grants of eng-7: vm-1 (to be revoked), vm-1 (to end by itself),
	// and vm-2, another VM.
	revoked := e.grant(t, "eng-7", false, "vm-1")
	ending := e.grant(t, "eng-7", false, "vm-1")
	other := e.grant(t, "eng-7", false, "vm-2")

	// vm-1: the CA's keys from lockbox-credential, its resource id as
	// root's principal, and the README's sshd_config.
	dir := t.TempDir()
	status, ca := e.call(t, http.MethodGet, "/function/lockbox-credential", "", nil)
	require.Equal(t, http.StatusOK, status, "%s", ca)
	require.True(t, strings.HasPrefix(string(ca), "ssh-ed25519 "), "%s", ca)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lockbox_ca.pub"), ca, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "principals"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "principals", "root"), []byte("vm-1\n"), 0o644))
	newSSHKey(t, keygen, dir, "host_key")
	addr := freeAddr(t)
	conf := substitute(t, readmeFile(t, "sshd_config"), "127.0.0.1:2222", addr, "$DEMO", dir)
	require.Contains(t, conf, "TrustedUserCAKeys "+dir+"/lockbox_ca.pub\n")
	require.Contains(t, conf, "AuthorizedPrincipalsFile "+dir+"/principals/%u\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o644))
	d := startDaemon(t, sshd, dir, written(filepath.Join(dir, "sshd.pid")), "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))

	keys := t.TempDir()
	sshCert := func(id, key string) (string, error) {
		t.Helper()
		cmd := exec.Command(ctl, "ssh-cert", "-gateway", e.Gateway, "-secrets", e.opts.SecretsDir, "-sub", "eng-7",
			"-tenant", enforceTenant, "-request", id, "-key", key)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// The grant of vm-1: its certificate logs in.
	key1 := newSSHKey(t, keygen, keys, "id_revoked")
	out, err := sshCert(revoked.RequestID, key1)
	require.NoError(t, err, "lockboxctl ssh-cert: %s", out)
	t.Logf("lockboxctl ssh-cert: %s", strings.TrimSpace(out))
	principals, _ := certInfo(t, keygen, key1+"-cert.pub")
	assert.Equal(t, []string{"vm-1"}, principals)
	ok, sshOut := sshLogin(t, sshPath, addr, key1)
	require.True(t, ok, "the certificate of a live grant of vm-1 did not log in: %s\nsshd: %s", sshOut, d.out.String())

	// A grant of vm-2: its certificate is refused by vm-1.
	key2 := newSSHKey(t, keygen, keys, "id_other")
	out, err = sshCert(other.RequestID, key2)
	require.NoError(t, err, "lockboxctl ssh-cert: %s", out)
	principals, _ = certInfo(t, keygen, key2+"-cert.pub")
	assert.Equal(t, []string{"vm-2"}, principals)
	ok, sshOut = sshLogin(t, sshPath, addr, key2)
	assert.False(t, ok, "a certificate of vm-2 logged in to vm-1")
	assert.Contains(t, sshOut, "Permission denied")
	assert.Contains(t, d.out.String(), "Certificate does not contain an authorized principal")

	// Revoked: no new certificate; the one issued stays valid until its
	// validBefore.
	e.decide(t, "lockbox-revoke", revoked.RequestID, http.StatusOK)
	before, err := os.ReadFile(key1 + "-cert.pub")
	require.NoError(t, err)
	out, err = sshCert(revoked.RequestID, key1)
	assert.Error(t, err, "a revoked grant got a certificate: %s", out)
	assert.Contains(t, out, "403")
	assert.Contains(t, out, "GrantNotLive")
	after, err := os.ReadFile(key1 + "-cert.pub")
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "a refusal touched the saved certificate")
	ok, _ = sshLogin(t, sshPath, addr, key1)
	assert.True(t, ok, "the certificate issued before the revoke no longer logs in: the README says it does until its validBefore")

	// Another engineer cannot have a certificate for eng-7's grant.
	cmd := exec.Command(ctl, "ssh-cert", "-gateway", e.Gateway, "-secrets", e.opts.SecretsDir, "-sub", "eng-8",
		"-tenant", enforceTenant, "-request", ending.RequestID, "-key", newSSHKey(t, keygen, keys, "id_eng8"))
	out8, err := cmd.CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out8), "404")

	// The grant that ends by itself: its certificate ends with it.
	key3 := newSSHKey(t, keygen, keys, "id_ending")
	out, err = sshCert(ending.RequestID, key3)
	require.NoError(t, err, "lockboxctl ssh-cert: %s", out)
	_, validBefore := certInfo(t, keygen, key3+"-cert.pub")
	require.NotNil(t, ending.AccessExpirationDateTime)
	assert.False(t, validBefore.After(*ending.AccessExpirationDateTime), "the certificate outlives the grant: %s > %s", validBefore, ending.AccessExpirationDateTime)
	ok, sshOut = sshLogin(t, sshPath, addr, key3)
	require.True(t, ok, "the certificate of a live grant did not log in: %s", sshOut)
	untilPast(validBefore.Add(time.Second))
	ok, sshOut = sshLogin(t, sshPath, addr, key3)
	assert.False(t, ok, "a certificate past its validBefore logged in")
	assert.Contains(t, sshOut, "Permission denied")
	assert.Contains(t, d.out.String(), "Certificate invalid: expired")
	untilPast(*ending.AccessExpirationDateTime)
	out, err = sshCert(ending.RequestID, key3)
	assert.Error(t, err, "an ended grant got a certificate: %s", out)
	assert.Contains(t, out, "403")
}
