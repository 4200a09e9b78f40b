package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// Under make run, every vendor's fixture works as the README says:
// `lockboxctl send-fixture <source>` files a request in contoso (its
// approver is mailed), sending it again files nothing more, an edited
// ticket is ignored, and `send-fixture <source> resolved` withdraws it.
func TestMakeRunIntakeFixtures(t *testing.T) {
	s := startStack(t, stackConfig{})
	ctl := lockboxctl(t, repoRoot(t))
	send := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(ctl, append([]string{"send-fixture", "-secrets", s.opts.SecretsDir}, args...)...)
		cmd.Env = append(cmd.Environ(), "OPENFAAS_URL="+s.Gateway)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "lockboxctl send-fixture %s\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	requestOf := func(out string) lockbox.Request {
		t.Helper()
		_, body, _ := strings.Cut(out, "\n")
		var r lockbox.Request
		require.NoError(t, json.Unmarshal([]byte(body), &r), out)
		return r
	}

	for _, source := range []string{"jira", "github", "zendesk", "servicenow", "servicenow-hmac"} {
		out := send(source)
		require.Contains(t, out, "201 Created", out)
		r := requestOf(out)
		assert.Equal(t, "contoso", r.TenantID)
		assert.Equal(t, lockbox.StatusPending, r.Status)

		again := send(source)
		require.Contains(t, again, "200 OK", "a re-delivery: %s", again)
		assert.Equal(t, r.RequestID, requestOf(again).RequestID)

		if source == "jira" || source == "github" {
			assert.Contains(t, send(source, "updated"), "202 Accepted")
		}

		closed := send(source, "resolved")
		require.Contains(t, closed, "200 OK", closed)
		assert.Contains(t, closed, r.RequestID)
	}

	// The tenant's reader sees each, withdrawn by its source.
	status, b := s.call(t, http.MethodGet, "/function/lockbox-list", "", s.as(t, "contoso", "rita", lockbox.RoleReader))
	require.Equal(t, http.StatusOK, status, string(b))
	var page struct{ Value []lockbox.Request }
	require.NoError(t, json.Unmarshal(b, &page))
	require.Len(t, page.Value, 5)
	for _, r := range page.Value {
		assert.Equal(t, lockbox.StatusCanceled, r.Status, r.SupportRequest)
		require.NotNil(t, r.Closure)
		assert.True(t, strings.HasPrefix(r.Closure.By, "ticket:"), r.Closure.By)
	}

	// Refusals reach the caller.
	status, _ = s.call(t, http.MethodGet, "/function/lockbox-intake/jira", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	cmd := exec.Command(ctl, "send-fixture", "-secrets", s.opts.SecretsDir, "bitbucket")
	cmd.Env = append(cmd.Environ(), "OPENFAAS_URL="+s.Gateway)
	out, err := cmd.CombinedOutput()
	assert.Error(t, err, "an unknown source")
	assert.Contains(t, string(out), "no intake source")
}

// A broken sources document is reported as lockbox-intake starts, every
// problem at once, before any delivery arrives; deliveries are then
// refused with a 500 that says nothing of the document.
func TestMakeRunReportsIntakeConfigAtStart(t *testing.T) {
	s := startStack(t, stackConfig{secrets: map[string]string{
		"lockbox-intake-config": "sources:\n  jira:\n    kind: bugzilla\n    secrets: [short]\n"}})
	require.Eventually(t, func() bool {
		out := s.out.String()
		return strings.Contains(out, "sources.jira.kind") && strings.Contains(out, "sources.jira.secrets[0]")
	}, 10*time.Second, 50*time.Millisecond, "the problems are not logged at start")
	status, b := s.call(t, http.MethodPost, "/function/lockbox-intake/jira", `{}`, map[string]string{"Content-Type": "application/json"})
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.NotContains(t, string(b), "bugzilla")
}
