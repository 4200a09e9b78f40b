package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/loopback"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
)

// faasCLI returns the pinned faas-cli: LOCKBOX_FAAS_CLI (make test sets it)
// or one built from the tools module.
func faasCLI(t *testing.T, repo string) string {
	if p := os.Getenv("LOCKBOX_FAAS_CLI"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "faas-cli")
	cmd := exec.Command("go", "-C", filepath.Join(repo, "scripts", "tools"), "build", "-o", bin, "github.com/openfaas/faas-cli")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build faas-cli: %v\n%s", err, out)
	}
	return bin
}

// testStack writes the repository's stack.yml, unchanged but for its
// relative paths made absolute, into dir.
func testStack(t *testing.T, repo, dir string) string {
	raw, err := os.ReadFile(filepath.Join(repo, "stack.yml"))
	require.NoError(t, err)
	text := strings.NewReplacer(
		"handler: ./", "handler: "+repo+"/",
		"- lockbox.env.yml", "- "+filepath.Join(repo, "lockbox.env.yml"),
		"- ./shared", "- "+filepath.Join(repo, "shared"),
	).Replace(string(raw))
	require.NotEqual(t, string(raw), text)
	require.NoError(t, os.Symlink(filepath.Join(repo, "template"), filepath.Join(dir, "template")))
	path := filepath.Join(dir, "stack.yml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestEndToEndWithFaasCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	cli := faasCLI(t, repo)
	dir := t.TempDir()
	port, err := loopback.FreePort()
	require.NoError(t, err)
	gw := "http://127.0.0.1:" + strconv.Itoa(port)

	var out syncBuffer
	ready := make(chan *running, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	o := options{
		stackFile: testStack(t, repo, dir), dataDir: filepath.Join(dir, "data"), secretsDir: filepath.Join(dir, "secrets"),
		lookup: func(k string) (string, bool) {
			v, ok := map[string]string{"OPENFAAS_URL": gw, "AUDIT_SCHEDULE": "@every 1s"}[k]
			return v, ok
		},
		out: &out, log: slog.New(slog.NewTextHandler(&out, nil)), ready: func(r *running) { ready <- r },
	}
	go func() { done <- run(ctx, o) }()
	var r *running
	select {
	case r = <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, out.String())
	case <-time.After(4 * time.Minute):
		t.Fatalf("not up after 4 minutes\n%s", out.String())
	}
	t.Logf("stack up in %s; redis: %s", r.Started, r.Redis.Desc)
	defer func() {
		if t.Failed() {
			t.Logf("runtime output:\n%s", out.String())
		}
	}()

	ofc := t.TempDir()
	faas := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, args...)
		cmd.Env = append(os.Environ(), "OPENFAAS_CONFIG="+ofc, "OPENFAAS_URL="+gw)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "faas-cli %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		return stdout.String()
	}
	secret := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(o.secretsDir, name))
		require.NoError(t, err)
		return b
	}
	token := func(sub, tid string, role lockbox.Role) string {
		tok, err := auth.Mint(secret("lockbox-jwt-secret"), auth.NewClaims(sub, tid, []string{string(role)}, time.Now(), time.Hour))
		require.NoError(t, err)
		return "Authorization=Bearer " + tok
	}
	decode := func(s string) lockbox.Request {
		var req lockbox.Request
		require.NoError(t, json.Unmarshal([]byte(s), &req), s)
		return req
	}

	// The gateway answers faas-cli like OpenFaaS does.
	faas(r.Password, "login", "--username", "admin", "--password-stdin")
	list := faas("", "list")
	for _, name := range []string{"lockbox-create", "lockbox-approve", "lockbox-deny", "lockbox-list", "lockbox-audit"} {
		assert.Contains(t, list, name)
	}
	desc := faas("", "describe", "lockbox-audit")
	assert.Contains(t, desc, "Ready")
	assert.Contains(t, desc, "cron-function")

	// File a request the way the ticketing system does: a signed webhook.
	body := `{"tenantId":"contoso","resourceType":"postgres","resourceIds":["db-1"],"justification":"slow queries","supportRequest":"INC-1001","requester":{"id":"eng-7"}}`
	ts := time.Now().Unix()
	created := decode(faas(body, "invoke", "lockbox-create", "--content-type", "application/json",
		"-H", fmt.Sprintf("%s=%d", auth.HeaderTimestamp, ts), "-H", auth.HeaderSignature+"="+auth.Sign(secret("lockbox-webhook-secret"), ts, []byte(body))))
	assert.Equal(t, lockbox.StatusPending, created.Status)

	// The tenant's reader sees it.
	var page struct{ Value []lockbox.Request }
	require.NoError(t, json.Unmarshal([]byte(faas("", "invoke", "lockbox-list", "-m", "GET", "-H", token("rita", "contoso", lockbox.RoleReader))), &page))
	require.Len(t, page.Value, 1)
	assert.Equal(t, created.RequestID, page.Value[0].RequestID)

	// The tenant's approver approves it.
	approved := decode(faas(`{"requestId":"`+created.RequestID+`","reason":"checked"}`, "invoke", "lockbox-approve",
		"--content-type", "application/json", "-H", token("alice", "contoso", lockbox.RoleApprover)))
	assert.Equal(t, lockbox.StatusApproved, approved.Status)

	// The grant shows as active.
	require.NoError(t, json.Unmarshal([]byte(faas("", "invoke", "lockbox-list", "-m", "GET", "--query", "requestId="+created.RequestID,
		"-H", token("rita", "contoso", lockbox.RoleReader))), &page))
	require.Len(t, page.Value, 1)
	assert.True(t, page.Value[0].AccessActive)

	// The scheduler invokes lockbox-audit every second (AUDIT_SCHEDULE),
	// which exports the tenant's four events (create, approve) into the
	// embedded S3, where the verifier finds an intact chain.
	s3 := objectstore.New(objectstore.Config{Endpoint: r.S3.URL, Bucket: "lockbox-audit", PathStyle: true,
		AccessKey: string(secret("s3-access-key")), SecretKey: string(secret("s3-secret-key"))})
	var rep audit.Report
	require.Eventually(t, func() bool {
		rep, err = audit.Verify(t.Context(), s3, "contoso")
		return err == nil && rep.Events == 2
	}, 15*time.Second, 200*time.Millisecond, "audit records not exported: %v %+v", err, rep)
	assert.Equal(t, map[string]int{lockbox.OpCreate: 1, lockbox.OpApprove: 1}, rep.Operations)
	assert.GreaterOrEqual(t, r.Backends["lockbox-audit"].invocations.Load(), int64(1))
	assert.Contains(t, out.String(), `msg="cron invoked" function=lockbox-audit status=200`)

	// Ctrl-C: everything stops.
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
	for _, p := range r.Processes {
		assert.False(t, p.running.Load(), "%s still running", p.name)
	}
}
