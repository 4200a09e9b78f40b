package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentiles(t *testing.T) {
	d := make([]time.Duration, 1000)
	for i := range d {
		d[i] = time.Duration(1000-i) * time.Millisecond // 1000 ms .. 1 ms, unsorted
	}
	l := percentiles(d)
	assert.Equal(t, Latencies{P50: 500, P99: 990, P999: 999, Mean: 500.5}, l)
	assert.Equal(t, Latencies{P50: 7, P99: 7, P999: 7, Mean: 7}, percentiles([]time.Duration{7 * time.Millisecond}))
	assert.Equal(t, Latencies{}, percentiles(nil))
}

// drive makes every call once, from the workers asked for, and counts the
// failures.
func TestDrive(t *testing.T) {
	var calls, running, most atomic.Int64
	o := drive(8, 200, func(ctx context.Context, i int) error {
		calls.Add(1)
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		if i%50 == 0 {
			return errors.New("refused")
		}
		return nil
	})
	assert.EqualValues(t, 200, calls.Load())
	assert.Equal(t, 200, o.Ops)
	assert.Equal(t, 4, o.Errors)
	assert.Equal(t, "refused", o.FirstError)
	assert.LessOrEqual(t, most.Load(), int64(8))
	assert.Greater(t, most.Load(), int64(1))
	assert.Greater(t, o.Latencies.P50, 0.9)
}

func TestParseInfo(t *testing.T) {
	info := "# Stats\r\ntotal_commands_processed:12\r\ntotal_reads_processed:40\r\n# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\n" +
		"# Commandstats\r\ncmdstat_evalsha:calls=30,usec=900,usec_per_call=30.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hset:calls=60,usec=60,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"
	s := parseInfo(info)
	assert.InDelta(t, 40, s.reads, 0)
	assert.InDelta(t, 3.75, s.cpu, 1e-9)
	assert.Equal(t, map[string]float64{"evalsha": 30, "hset": 60}, s.commands)
	assert.Equal(t, "evalsha 1.00", scripts(map[string]float64{"evalsha": 1, "hset": 2}))
}

func TestProcReadings(t *testing.T) {
	cpu, err := cpuSeconds(os.Getpid())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cpu, 0.0)
	rss, peak, err := memory(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, 1.0)
	assert.GreaterOrEqual(t, peak, rss)
	_, err = cpuSeconds(1 << 30)
	assert.Error(t, err)
}

func TestTargets(t *testing.T) {
	r := &Report{
		Runs: []Run{
			{Op: "noop", Path: "http", Concurrency: 32, Throughput: 1000},
			{Op: "create", Path: "http", Concurrency: 32, Throughput: 700},
			{Op: "create", Path: "http", Concurrency: 1, RoundTrips: 1},
			{Op: "approve", Path: "http", Concurrency: 32, Throughput: 500},
			{Op: "approve", Path: "http", Concurrency: 1, RoundTrips: 2},
		},
		List:      []ListScale{{Stored: 1000, Latency: Latencies{P99: 2}}, {Stored: 1_000_000, Latency: Latencies{P99: 2.5}}},
		Export:    ExportReport{Seconds: 1, RawSeconds: 0.9},
		Sweep:     SweepReport{Due: 100_000, Seconds: 11},
		Functions: []FunctionReport{{Name: "lockbox-create", StartupMs: 40, RSSMB: 31}},
	}
	r.evaluate()
	got := map[string]bool{}
	for _, tg := range r.Targets {
		got[tg.Name] = tg.Met
	}
	assert.Equal(t, map[string]bool{
		"create throughput @32 / no-op @32": true, "create Redis round trips per call": true,
		"approve throughput @32 / no-op @32": false, "approve Redis round trips per call": false,
		"list p99 @1M stored / @1k": true, "export throughput / raw PutObject": true, "sweep of 100k due, seconds": false,
		"lockbox-create RSS after the run, MB": false, "lockbox-create start-up to first served call, ms": true,
	}, got)
}

func TestSpliceDoc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "PERFORMANCE.md")
	before := "# Performance\n\nprose\n\n" + beginMarker + "\nold results\n" + endMarker + "\n\nmore prose\n"
	require.NoError(t, os.WriteFile(path, []byte(before), 0o644))
	r := &Report{Plan: quickPlan, Machine: Machine{CPU: "test CPU", CPUs: 2}, Audit: AuditReport{Seconds: 1}}
	require.NoError(t, spliceDoc(path, r))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	assert.True(t, strings.HasPrefix(s, "# Performance\n\nprose\n\n"+beginMarker+"\n"))
	assert.True(t, strings.HasSuffix(s, endMarker+"\n\nmore prose\n"))
	assert.NotContains(t, s, "old results")
	assert.Contains(t, s, "test CPU, 2 CPUs")

	require.NoError(t, os.WriteFile(path, []byte("no markers"), 0o644))
	assert.Error(t, spliceDoc(path, r))
}
