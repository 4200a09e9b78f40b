package e2e

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
)

func TestEndToEndWithFaasCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	cli := faasCLI(t, repoRoot(t))
	s := startStack(t, stackConfig{env: map[string]string{"AUDIT_SCHEDULE": "@every 1s"}})
	r, out, gw := s.Running, s.out, s.Gateway
	var err error

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
	// faas-cli's form of the header of a call signed in as sub.
	as := func(tenant, sub string, role lockbox.Role) string {
		return "Authorization=Bearer " + s.token(t, tenant, sub, role)
	}
	decode := func(body string) lockbox.Request {
		var req lockbox.Request
		require.NoError(t, json.Unmarshal([]byte(body), &req), body)
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
		"-H", fmt.Sprintf("%s=%d", auth.HeaderTimestamp, ts), "-H", auth.HeaderSignature+"="+auth.Sign(s.secret(t, config.SecretWebhook), ts, []byte(body))))
	assert.Equal(t, lockbox.StatusPending, created.Status)

	// The tenant's reader sees it.
	var page struct{ Value []lockbox.Request }
	require.NoError(t, json.Unmarshal([]byte(faas("", "invoke", "lockbox-list", "-m", "GET", "-H", as("contoso", "rita", lockbox.RoleReader))), &page))
	require.Len(t, page.Value, 1)
	assert.Equal(t, created.RequestID, page.Value[0].RequestID)

	// The tenant's approver approves it.
	approved := decode(faas(`{"requestId":"`+created.RequestID+`","reason":"checked"}`, "invoke", "lockbox-approve",
		"--content-type", "application/json", "-H", as("contoso", "alice", lockbox.RoleApprover)))
	assert.Equal(t, lockbox.StatusApproved, approved.Status)

	// The grant shows as active.
	require.NoError(t, json.Unmarshal([]byte(faas("", "invoke", "lockbox-list", "-m", "GET", "--query", "requestId="+created.RequestID,
		"-H", as("contoso", "rita", lockbox.RoleReader))), &page))
	require.Len(t, page.Value, 1)
	assert.True(t, page.Value[0].AccessActive)

	// The scheduler invokes lockbox-audit every second (AUDIT_SCHEDULE),
	// which exports the tenant's four events (create, approve) into the
	// embedded S3, where the verifier finds an intact chain.
	s3 := objectstore.New(objectstore.Config{Endpoint: r.S3.URL, Bucket: "lockbox-audit", PathStyle: true,
		AccessKey: string(s.secret(t, config.SecretS3AccessKey)), SecretKey: string(s.secret(t, config.SecretS3SecretKey))})
	auditKey, err := audit.ParseSigningKey(s.secret(t, config.SecretAuditSigning))
	require.NoError(t, err)
	var rep audit.Report
	require.Eventually(t, func() bool {
		rep, err = audit.Verify(t.Context(), s3, "contoso", auditKey.Public().(ed25519.PublicKey))
		return err == nil && rep.Events == 2
	}, 15*time.Second, 200*time.Millisecond, "audit records not exported: %v %+v", err, rep)
	assert.Equal(t, map[string]int{lockbox.OpCreate: 1, lockbox.OpApprove: 1}, rep.Operations)
	assert.GreaterOrEqual(t, r.Invocations("lockbox-audit"), int64(1))
	// The scheduler logs an invocation once its answer is back, which can be a
	// moment after the export's objects are visible.
	assert.Eventually(t, func() bool {
		return strings.Contains(out.String(), `msg="cron invoked" function=lockbox-audit status=200`)
	}, 5*time.Second, 50*time.Millisecond, "no cron log line for lockbox-audit")

	// Ctrl-C: everything stops.
	require.NoError(t, s.stop())
	assert.Empty(t, r.StillRunning(), "function processes still running after the stop")
}
