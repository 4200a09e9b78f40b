package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Intake runs next to create and the portal after list, over HTTP only;
// every op calls a function.
func TestLoadOps(t *testing.T) {
	assert.Equal(t, []string{"noop", "create", "intake", "create5rules", "approve", "approve2of2", "deny", "revoke", "cancel", "list", "portal",
		"noopcheck", "check", "checkdenied", "credential"}, loadOps())
	for _, op := range loadOps() {
		assert.NotEmpty(t, opFunction[op], op)
	}
	assert.Equal(t, []string{"http"}, loadPaths("intake"))
	assert.Equal(t, []string{"http"}, loadPaths("portal"))
	assert.Equal(t, []string{"http"}, loadPaths("noop"))
	assert.Equal(t, []string{"http"}, loadPaths("noopcheck"))
	assert.Equal(t, []string{"http", "redis"}, loadPaths("create"))
	assert.Equal(t, []string{"http", "redis"}, loadPaths("check"))
	assert.Equal(t, []string{"http", "redis"}, loadPaths("checkdenied"))
	assert.Equal(t, []string{"http", "redis"}, loadPaths("credential"))
	assert.Equal(t, noop, opFunction["noopcheck"], "the no-op, called as lockbox-check is")
}

// The calls table shows intake beside create, its ratio to the Redis
// ceiling is create's, and the portal's p99 at concurrency 1 is held to
// the bar.
func TestIntakeAndPortalReport(t *testing.T) {
	p := quickPlan
	p.Concurrency = []int{1}
	r := &Report{Plan: p, Runs: []Run{
		{Op: "noop", Path: "http", Concurrency: 1, Throughput: 1000},
		{Op: "create", Path: "http", Concurrency: 1, Throughput: 400},
		{Op: "create", Path: "redis", Concurrency: 1, Throughput: 800},
		{Op: "intake", Path: "http", Concurrency: 1, Throughput: 200, Latency: Latencies{P99: 3}},
		{Op: "portal", Path: "http", Concurrency: 1, Throughput: 100, Latency: Latencies{P99: 51}},
	}}
	r.evaluate()
	got := map[string]bool{}
	for _, tg := range r.Targets {
		got[tg.Name] = tg.Met
	}
	met, ok := got["portal pending page p99 @1 with 10k requests, ms"]
	assert.True(t, ok, "the portal's target")
	assert.False(t, met, "51 ms is over the bar")

	s := markdown(r)
	assert.Regexp(t, `\| portal pending page p99 @1 with 10k requests, ms +\| 51\.00 +\| ≤ 50 +\| \*\*missed\*\*`, s)
	assert.Regexp(t, `\| intake +\| http +\| 1 +\| 200 `, s)
	assert.Regexp(t, `\| intake +\| 1 +\| 0\.20 +\| 0\.25 +\|`, s, "intake ÷ redis/create")
	assert.Regexp(t, `\| portal +\| 1 +\| 0\.10 +\| — +\|`, s, "the portal has no Redis ceiling")
	assert.Contains(t, s, "its Redis ceiling is `create`'s (redis/create)")
	assert.Contains(t, s, "in a tenant of 10000 pending requests")
}

// lockbox-check is held to the no-op called with its own request, at 32:
// its function's CPU per call at most twice the no-op's, its p99 within
// 2 ms of the no-op's, and one Redis round trip in every run.
func TestCheckTargets(t *testing.T) {
	p := quickPlan
	p.Concurrency = []int{8, 32}
	r := &Report{Plan: p, Runs: []Run{
		{Op: "noop", Path: "http", Concurrency: 32, Throughput: 9000, FunctionCPUPer1k: 0.01, Latency: Latencies{P99: 1}},
		{Op: "noopcheck", Path: "http", Concurrency: 8, Throughput: 8000, FunctionCPUPer1k: 0.05, Latency: Latencies{P99: 3}},
		{Op: "noopcheck", Path: "http", Concurrency: 32, Throughput: 8000, FunctionCPUPer1k: 0.05, Latency: Latencies{P99: 9}},
		{Op: "check", Path: "http", Concurrency: 8, Throughput: 4000, FunctionCPUPer1k: 0.08, Latency: Latencies{P99: 4}, RoundTrips: 1},
		{Op: "check", Path: "http", Concurrency: 32, Throughput: 4000, FunctionCPUPer1k: 0.09, Latency: Latencies{P99: 10.5}, RoundTrips: 1},
		{Op: "check", Path: "redis", Concurrency: 32, Throughput: 16000, Latency: Latencies{P99: 2}, RoundTrips: 1},
		{Op: "checkdenied", Path: "http", Concurrency: 8, Throughput: 3000, FunctionCPUPer1k: 0.1, Latency: Latencies{P99: 5}, RoundTrips: 2},
		{Op: "checkdenied", Path: "http", Concurrency: 32, Throughput: 3000, FunctionCPUPer1k: 0.12, Latency: Latencies{P99: 12}, RoundTrips: 1},
		{Op: "credential", Path: "http", Concurrency: 32, Throughput: 1500, FunctionCPUPer1k: 0.3, Latency: Latencies{P50: 20, P99: 40}, RoundTrips: 1},
		{Op: "credential", Path: "redis", Concurrency: 32, Throughput: 6000, RoundTrips: 1},
	}}
	r.evaluate()
	got := map[string]string{}
	for _, tg := range r.Targets {
		got[tg.Name] = fmt.Sprintf("%.2f %v", tg.Measured, tg.Met)
	}
	assert.Equal(t, map[string]string{
		"check Redis round trips per call (highest of the runs)":       "1.00 true",
		"check function CPU per call @32 / no-op's":                    "1.80 true",
		"check p99 @32 − no-op's p99, ms":                              "1.50 true",
		"checkdenied Redis round trips per call (highest of the runs)": "2.00 false",
		"checkdenied function CPU per call @32 / no-op's":              "2.40 false",
		"checkdenied p99 @32 − no-op's p99, ms":                        "3.00 false",
	}, got)

	s := markdown(r)
	assert.Contains(t, s, "### lockbox-check beside the no-op and its Redis call")
	assert.Regexp(t, `\| check +\| 32 +\| 4000 +\| 0\.50 +\| 0\.25 +\| 0\.000 +\| 10\.500 +\| 9\.000 +\| \+1\.500 +\| 0\.090 +\| 0\.050 +\| 1\.80 +\| 2\.000 +\| 1\.00 +\|`, s)
	assert.Regexp(t, `\| checkdenied +\| 8 +\| 3000 +\| 0\.38 +\| — +\|`, s, "no Redis run at 8")
	assert.Regexp(t, `\| check +\| 32 +\| 0\.50 +\| 0\.25 +\|`, s, "the ratios divide by the no-op called as the check is")
	assert.NotRegexp(t, `\| noopcheck +\| 32 +\| [0-9.]+ +\| `, s, "the no-op has no ratio row")
	assert.Contains(t, s, "### lockbox-credential: certificates per second")
	assert.Regexp(t, `\| 32 +\| 1500 +\| 20\.000 +\| 40\.000 +\| 0\.300 +\| .* \| 6000 +\| 1\.00 +\|`, s)
	assert.NotContains(t, markdown(&Report{Plan: p}), "lockbox-check beside")
}

// nginx's section shows both sides and what auth_request adds, or why
// nginx was not measured.
func TestNginxReport(t *testing.T) {
	p := quickPlan
	p.Concurrency = []int{1}
	r := &Report{Plan: p, Nginx: NginxReport{Version: "1.22.1", Workers: 2, Runs: []NginxRun{
		{Path: nginxPlain, Concurrency: 1, Ops: 1500, Throughput: 2000, Latency: Latencies{P50: 0.4, P99: 1.0}, NginxCPUPer1k: 0.1},
		{Path: nginxGuarded, Concurrency: 1, Ops: 1500, Throughput: 1000, Latency: Latencies{P50: 0.9, P99: 2.5}, CheckCPUPer1k: 0.2, RoundTrips: 1},
	}}}
	s := markdown(r)
	assert.Contains(t, s, "### nginx auth_request to lockbox-check")
	assert.Contains(t, s, "nginx 1.22.1 (2 workers)")
	assert.Regexp(t, `\| 1 +\| auth_request +\| 1000 +\| 0\.900 +\| 2\.500 .*\| 0\.200 .*\| 1\.00 +\|`, s)
	assert.Regexp(t, `\| 1 +\| \+0\.500 +\| \+1\.500 +\| 0\.50 +\|`, s)

	skipped := markdown(&Report{Plan: p, Nginx: NginxReport{Skipped: "nginx is not installed"}})
	assert.Contains(t, skipped, "### nginx auth_request to lockbox-check\n\nNot measured: nginx is not installed.")
	assert.NotContains(t, markdown(&Report{Plan: p}), "nginx auth_request")
}
