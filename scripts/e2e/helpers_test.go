package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/fnbuild"
	"lockbox.dev/scripts/internal/localrun"
	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/scripts/internal/stack"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
)

// pkgDir is a folder shared by every test of one run of this package: the
// function binaries (built once, cached by fnbuild under pkgDir/build by a
// hash of their sources) and the tools the tests build.
var pkgDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "localrun-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "localrun tests:", err)
		os.Exit(1)
	}
	pkgDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// stackStartTimeout bounds a stack's start, which builds every function the
// first time (about a minute and a half on two busy cores).
const stackStartTimeout = 8 * time.Minute

// repoRoot is the repository this package is in.
func repoRoot(t testing.TB) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	return repo
}

// buildOnce builds a tool once per package run and keeps the outcome, so
// that every test needing it shares the one build.
type buildOnce struct {
	once sync.Once
	path string
	err  error
}

func (b *buildOnce) get(t testing.TB, build func() (string, error)) string {
	t.Helper()
	b.once.Do(func() { b.path, b.err = build() })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

var faasCLIBuild, lockboxctlBuild buildOnce

// faasCLI returns the pinned faas-cli: LOCKBOX_FAAS_CLI (make test sets it)
// or one built from the tools module, once per package run.
func faasCLI(t testing.TB, repo string) string {
	if p := os.Getenv("LOCKBOX_FAAS_CLI"); p != "" {
		return p
	}
	return faasCLIBuild.get(t, func() (string, error) {
		bin := filepath.Join(pkgDir, "tools", "faas-cli")
		cmd := exec.Command("go", "-C", filepath.Join(repo, "scripts", "tools"), "build", "-trimpath", "-o", bin, "github.com/openfaas/faas-cli")
		cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build faas-cli: %w\n%s", err, out)
		}
		return bin, nil
	})
}

// lockboxctl builds scripts/cmd/lockboxctl as the Makefile does, once per
// package run.
func lockboxctl(t testing.TB, repo string) string {
	return lockboxctlBuild.get(t, func() (string, error) {
		bin := filepath.Join(pkgDir, "tools", "lockboxctl")
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./scripts/cmd/lockboxctl")
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build lockboxctl: %w\n%s", err, out)
		}
		return bin, nil
	})
}

// testStack writes the repository's stack.yml, unchanged but for its
// relative paths made absolute, into dir.
func testStack(t *testing.T, repo, dir string) string {
	t.Helper()
	path, err := writeTestStack(repo, dir)
	require.NoError(t, err)
	return path
}

func writeTestStack(repo, dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(repo, "stack.yml"))
	if err != nil {
		return "", fmt.Errorf("read stack.yml: %w", err)
	}
	text := strings.NewReplacer(
		"handler: ./", "handler: "+repo+"/",
		"- lockbox.env.yml", "- "+filepath.Join(repo, "lockbox.env.yml"),
		"- ./shared", "- "+filepath.Join(repo, "shared"),
	).Replace(string(raw))
	if text == string(raw) {
		return "", errors.New("stack.yml: no relative path to make absolute")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Symlink(filepath.Join(repo, "template"), filepath.Join(dir, "template")); err != nil {
		return "", fmt.Errorf("link the template folder: %w", err)
	}
	path := filepath.Join(dir, "stack.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("write the test's stack.yml: %w", err)
	}
	return path, nil
}

var functionsBuild buildOnce

// buildFunctions builds every function of the stack once per package run
// into pkgDir/build, where every stack of the run finds them (fnbuild
// caches them by a hash of their sources). When they do not build, every
// test that needs them fails at once with the same error instead of
// building again.
func buildFunctions(t *testing.T, repo string) {
	t.Helper()
	functionsBuild.get(t, func() (string, error) {
		path, err := writeTestStack(repo, filepath.Join(pkgDir, "stack"))
		if err != nil {
			return "", err
		}
		st, err := stack.Load(path, func(string) (string, bool) { return "", false })
		if err != nil {
			return "", err
		}
		fns := make([]stack.Function, 0, len(st.Functions))
		for _, name := range st.Names() {
			fns = append(fns, st.Functions[name])
		}
		var log syncBuffer
		start := time.Now()
		b := &fnbuild.Builder{Stack: st, Dir: filepath.Join(pkgDir, "build")}
		if _, err := b.BuildAll(fns, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
			return "", fmt.Errorf("the functions do not build: %w", err)
		}
		t.Logf("functions built in %s (once for every test of the package)\n%s", time.Since(start).Round(time.Millisecond), log.String())
		return "", nil
	})
}

// stackConfig is how a test starts the stack.
type stackConfig struct {
	// env is the environment make run is started with; OPENFAAS_URL is
	// set to a free loopback port unless given.
	env map[string]string
	// secrets are files written into the secrets folder before the start,
	// as a user writes them (redis-password for their own Redis).
	secrets map[string]string
}

// stackRun is the whole stack of the repository's stack.yml, started by
// localrun.Run as make run starts it.
type stackRun struct {
	*localrun.Running
	opts   localrun.Options
	out    *syncBuffer // everything the runtime and the functions printed
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startStack starts the stack and waits until it serves. The functions are
// built once per package run. It stops with the test (or earlier with
// stop), printing the runtime's output if the test failed.
func startStack(t *testing.T, cfg stackConfig) *stackRun {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	repo := repoRoot(t)
	buildFunctions(t, repo)
	dir := t.TempDir()
	env := map[string]string{}
	for k, v := range cfg.env {
		env[k] = v
	}
	if env["OPENFAAS_URL"] == "" {
		port, err := loopback.FreePort()
		require.NoError(t, err)
		env["OPENFAAS_URL"] = "http://127.0.0.1:" + strconv.Itoa(port)
	}
	secrets := filepath.Join(dir, "secrets")
	require.NoError(t, os.MkdirAll(secrets, 0o700))
	for name, value := range cfg.secrets {
		require.NoError(t, os.WriteFile(filepath.Join(secrets, name), []byte(value), 0o600))
	}

	s := &stackRun{out: &syncBuffer{}, done: make(chan error, 1)}
	ready := make(chan *localrun.Running, 1)
	s.opts = localrun.Options{
		StackFile: testStack(t, repo, dir), DataDir: filepath.Join(dir, "data"), SecretsDir: secrets,
		BuildDir: filepath.Join(pkgDir, "build"),
		Lookup: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Out: s.out, Log: slog.New(slog.NewTextHandler(s.out, nil)), Ready: func(r *localrun.Running) { ready <- r },
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- localrun.Run(ctx, s.opts) }()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stopping the stack: %v", err)
		}
		if t.Failed() {
			t.Logf("runtime output:\n%s", s.out.String())
		}
	})
	select {
	case s.Running = <-ready:
	case err := <-s.done:
		s.once.Do(s.cancel) // it has stopped already
		t.Fatalf("run returned before the stack was up: %v (its output follows)", err)
	case <-time.After(stackStartTimeout):
		t.Fatalf("the stack is not up after %s (its output follows)", stackStartTimeout)
	}
	t.Logf("stack up in %s at %s; redis: %s", s.Started.Round(time.Millisecond), s.Gateway, s.Redis.Desc)
	return s
}

// stop stops the stack as Ctrl-C does and returns what run returned.
func (s *stackRun) stop() error {
	s.once.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(20 * time.Second):
			s.err = errors.New("run did not return within 20s of being stopped")
		}
	})
	return s.err
}

// secret returns the stack's secret name, as make run wrote it.
func (s *stackRun) secret(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.opts.SecretsDir, name))
	require.NoError(t, err)
	return b
}

// token is how every test signs in: a token of sub in tenant with roles,
// valid for an hour, signed with the stack's lockbox-jwt-secret as
// lockboxctl token signs it. The API takes it as a bearer token (as), the
// portal through its sign-in form (browser.signIn).
func (s *stackRun) token(t testing.TB, tenant, sub string, roles ...lockbox.Role) string {
	t.Helper()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	tok, err := auth.Mint(s.secret(t, config.SecretJWT), auth.NewClaims(sub, tenant, names, time.Now(), time.Hour))
	require.NoError(t, err)
	return tok
}

// as is the header of a JSON call signed in as sub (token).
func (s *stackRun) as(t testing.TB, tenant, sub string, roles ...lockbox.Role) map[string]string {
	t.Helper()
	return map[string]string{"Authorization": "Bearer " + s.token(t, tenant, sub, roles...), "Content-Type": "application/json"}
}

// call makes one HTTP call to the gateway (path from its root, such as
// /function/lockbox-list) and returns the answer's status and body.
func (s *stackRun) call(t testing.TB, method, path, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.Gateway+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// file posts body to lockbox-create as the ticketing system does, a signed
// webhook, and returns the answer's status and body.
func (s *stackRun) file(t testing.TB, body string) (int, []byte) {
	t.Helper()
	ts := time.Now().Unix()
	return s.call(t, http.MethodPost, "/function/lockbox-create", body, map[string]string{
		"Content-Type":       "application/json",
		auth.HeaderTimestamp: strconv.FormatInt(ts, 10),
		auth.HeaderSignature: auth.Sign(s.secret(t, config.SecretWebhook), ts, []byte(body)),
	})
}

// fileRequest files in (file) and returns the request created.
func (s *stackRun) fileRequest(t testing.TB, in lockbox.CreateInput) lockbox.Request {
	t.Helper()
	body, err := json.Marshal(in)
	require.NoError(t, err)
	status, created := s.file(t, string(body))
	require.Equal(t, http.StatusCreated, status, "lockbox-create: %s", created)
	var r lockbox.Request
	require.NoError(t, json.Unmarshal(created, &r), "%s", created)
	return r
}

// randomHex is n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// requireBinary returns the path of a program the test needs on PATH.
// Without it the test is skipped, saying how to install it, except in CI
// (CI set), where a missing program fails the test rather than letting it
// pass unseen, as lockboxtest.RequireService does for services.
func requireBinary(t testing.TB, name, how string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not on PATH: CI must run this test with it (%s)", name, how)
	}
	t.Skipf("%s is not on PATH (%s)", name, how)
	return ""
}

// integrationEnv, set to 1 by make test-integration (and make screenshots),
// runs the tests that integrationOnly leaves out of make test.
const integrationEnv = "LOCKBOX_INTEGRATION"

// integrationOnly skips a test that make test leaves to make
// test-integration (which CI runs) unless LOCKBOX_INTEGRATION is set,
// printing why: it costs make test, which must stay within 5 minutes on two
// cores, more than it adds beside TestEndToEndWithFaasCLI and
// TestREADMECommands. cost says what the time goes to.
func integrationOnly(t testing.TB, cost string) {
	t.Helper()
	if os.Getenv(integrationEnv) == "" {
		t.Skipf("left to make test-integration, which CI runs (%s); %s=1 runs it here", cost, integrationEnv)
	}
}

// redisServer is a redis-server a test started.
type redisServer struct {
	URL      string // redis://127.0.0.1:port/0, without the password
	Password string
}

// client returns a client of the server, with its password.
func (r redisServer) client(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(r.URL)
	require.NoError(t, err)
	opt.Password = r.Password
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startRedisServer starts a throwaway redis-server on a free loopback port
// (requirepass password unless empty), killed when the test ends. Ports are
// drawn from 26000-28999, below the kernel's ephemeral range, so that they
// do not collide with the ports other processes are handed; a port found
// taken is retried with another.
func startRedisServer(t *testing.T, password string) redisServer {
	t.Helper()
	path := requireBinary(t, "redis-server", "apt-get install -y redis-server")
	var errs []error
	for range 8 {
		port := 26000 + mathrand.IntN(3000)
		srv, err := tryRedisServer(t, path, port, password)
		if err == nil {
			return srv
		}
		errs = append(errs, fmt.Errorf("port %d: %w", port, err))
	}
	t.Fatalf("could not start redis-server: %v", errors.Join(errs...))
	return redisServer{}
}

func tryRedisServer(t *testing.T, path string, port int, password string) (redisServer, error) {
	dir := t.TempDir()
	conf := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsave \"\"\nappendonly no\nmaxmemory-policy noeviction\n", port, dir)
	if password != "" {
		conf += "requirepass " + password + "\n"
	}
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return redisServer{}, err
	}
	var out syncBuffer
	cmd := exec.Command(path, confPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return redisServer{}, fmt.Errorf("start %s: %w", path, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	kill := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	srv := redisServer{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Password: password}
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		kill()
		return redisServer{}, err
	}
	opt.Password = password
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	// Ours is up when the server on the port reports our process id: a
	// port someone else holds makes our server exit instead.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return redisServer{}, fmt.Errorf("redis-server exited: %s", strings.TrimSpace(out.String()))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.Info(ctx, "server").Result()
		cancel()
		if err == nil && strings.Contains(info, "process_id:"+strconv.Itoa(cmd.Process.Pid)+"\r\n") {
			break
		}
		if time.Now().After(deadline) {
			kill()
			return redisServer{}, fmt.Errorf("redis-server not serving after 10s (last error: %v)\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(kill)
	return srv, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (a process's
// output and its log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// signedReceiver is the provider's webhook receiver: every delivery's
// Standard Webhooks signature is verified with the secret in the file at
// *secretPath (read when the delivery arrives: make run writes it), and its
// body sent on the channel; a delivery that fails the check is answered 401
// and sent as "refused: <why>".
func signedReceiver(t *testing.T, secretPath *string) (*httptest.Server, <-chan string) {
	t.Helper()
	hooks := make(chan string, 20)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		secret, err := os.ReadFile(*secretPath)
		if err == nil {
			var v *standardwebhooks.Webhook
			if v, err = standardwebhooks.NewWebhook(string(secret)); err == nil {
				err = v.Verify(body, r.Header)
			}
		}
		if err != nil {
			hooks <- "refused: " + err.Error()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		hooks <- string(body)
	}))
	t.Cleanup(receiver.Close)
	return receiver, hooks
}
