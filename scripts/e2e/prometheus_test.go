package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
)

const installPrometheus = "Debian: apt-get install -y prometheus (.ci/run installs it)"

// deploy/prometheus/alerts.yml passes promtool's check, and its tests
// (alerts_test.yml: every alert firing and not firing) pass.
func TestPrometheusRules(t *testing.T) {
	promtool := requireBinary(t, "promtool", installPrometheus)
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.CommandContext(t.Context(), promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %s\n%s", strings.Join(args, " "), out)
		assert.Contains(t, string(out), "SUCCESS", "promtool %s", strings.Join(args, " "))
	}
}

// A real Prometheus (Debian's) scrapes make run's lockbox-metrics through the
// gateway with the token from the secret metrics-token, loads the alerts,
// and sees lockbox_transitions_total{operation="approve"} rise after an
// approval, through its HTTP API.
func TestPrometheusScrapesTheStack(t *testing.T) {
	integrationOnly(t, "about 8 s: a stack and a real Prometheus scraping it")
	bin := requireBinary(t, "prometheus", installPrometheus)
	s := startStack(t, stackConfig{})
	status, body := s.call(t, http.MethodGet, "/function/lockbox-metrics", "", nil)
	require.Equal(t, http.StatusUnauthorized, status, "a scrape without the token: %s", body)

	gw, err := url.Parse(s.Gateway)
	require.NoError(t, err)
	dir := t.TempDir()
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: lockbox
    metrics_path: /function/lockbox-metrics
    authorization:
      credentials_file: %q
    static_configs:
      - targets: [%q]
`, filepath.Join(repoRoot(t), "deploy", "prometheus", "alerts.yml"), filepath.Join(s.opts.SecretsDir, config.SecretMetricsToken), gw.Host)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o600))
	port, err := loopback.FreePort()
	require.NoError(t, err)
	api := "http://127.0.0.1:" + strconv.Itoa(port)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // it stops by itself, whatever happens
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus's output:\n%s", out.String())
		}
	})

	// The first scrapes: the target is up, and the counter is there.
	var before float64
	require.Eventually(t, func() bool {
		up, ok := promQuery(t, api, `up{job="lockbox"}`)
		if !ok || up != 1 {
			return false
		}
		before, ok = promQuery(t, api, `sum(lockbox_transitions_total{operation="approve"})`)
		return ok
	}, time.Minute, 500*time.Millisecond, "prometheus never scraped lockbox-metrics")
	redisUp, _ := promQuery(t, api, `lockbox_redis_up`)
	assert.Equal(t, 1.0, redisUp)

	tenant := "prom-" + randomHex(t, 4)
	r := s.fileRequest(t, lockbox.CreateInput{TenantID: tenant, ResourceType: "vm", ResourceIDs: []string{"vm-1"},
		Justification: "disk full", SupportRequest: "INC-" + randomHex(t, 3), Requester: lockbox.Requester{ID: "eng-7"}})
	status, body = s.call(t, http.MethodPost, "/function/lockbox-approve", `{"requestId":"`+r.RequestID+`","reason":"checked"}`,
		s.as(t, tenant, "alice", lockbox.RoleApprover))
	require.Equal(t, http.StatusOK, status, "approve: %s", body)

	var after float64
	assert.Eventually(t, func() bool {
		after, _ = promQuery(t, api, `sum(lockbox_transitions_total{operation="approve"})`)
		return after == before+1
	}, 30*time.Second, 500*time.Millisecond, "lockbox_transitions_total{operation=\"approve\"} stayed at %v", before)
	t.Logf("lockbox_transitions_total{operation=\"approve\"}: %v before the approval, %v after", before, after)

	// Prometheus loaded every alert, and none of those that Lockbox's own
	// figures drive fires on a healthy stack.
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, State string
				}
			}
		}
	}
	promGet(t, api+"/api/v1/rules", &rules)
	var names []string
	for _, g := range rules.Data.Groups {
		for _, rule := range g.Rules {
			names = append(names, rule.Name)
			assert.Equal(t, "ok", rule.Health, rule.Name)
			if rule.Name != "LockboxMetricsAbsent" {
				assert.Equal(t, "inactive", rule.State, rule.Name)
			}
		}
	}
	assert.Contains(t, names, "LockboxRedisDown")
	assert.Len(t, names, 8)
}

// promQuery asks Prometheus's HTTP API for an instant query's one value;
// ok is false when the answer holds no sample.
func promQuery(t *testing.T, api, query string) (float64, bool) {
	t.Helper()
	var res struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if !promGet(t, api+"/api/v1/query?query="+url.QueryEscape(query), &res) || res.Status != "success" || len(res.Data.Result) != 1 {
		return 0, false
	}
	v, ok := res.Data.Result[0].Value[1].(string)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// promGet decodes a GET of Prometheus's API into v; false when Prometheus
// does not answer yet.
func promGet(t *testing.T, u string, v any) bool {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(u) // #nosec G107 -- the test's own Prometheus
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(v) == nil
}
