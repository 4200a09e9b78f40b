package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Intake runs next to create and the portal after list, over HTTP only;
// every op calls a function.
func TestLoadOps(t *testing.T) {
	assert.Equal(t, []string{"noop", "create", "intake", "create5rules", "approve", "approve2of2", "deny", "revoke", "cancel", "list", "portal"},
		loadOps())
	for _, op := range loadOps() {
		assert.NotEmpty(t, opFunction[op], op)
	}
	assert.Equal(t, []string{"http"}, loadPaths("intake"))
	assert.Equal(t, []string{"http"}, loadPaths("portal"))
	assert.Equal(t, []string{"http"}, loadPaths("noop"))
	assert.Equal(t, []string{"http", "redis"}, loadPaths("create"))
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
