package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/stack"
	"lockbox.dev/shared/api"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/notify"
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

// The functions' environment: every function nudges the bench's stand-in
// for the gateway's async route, every one has a portal_url, and
// lockbox-notify alone sends to the load generator's receivers.
func TestEnv(t *testing.T) {
	shared := map[string]string{"redis_url": "redis://elsewhere:6379/0", "notify_url": "http://gateway:8080/async-function/lockbox-notify",
		"portal_url": "", "webhook_allow_private": "false"}
	notifyEnv := maps.Clone(shared)
	notifyEnv["smtp_url"], notifyEnv["mail_from"] = "", "Lockbox <lockbox@lockbox.example>"
	b := &bench{secrets: "/secrets", redis: &redisServer{url: "redis://127.0.0.1:1234/0"}, sinks: sinkAddrs{SMTP: "127.0.0.1:2525"},
		nudgeURL: "http://127.0.0.1:7/async-function/lockbox-notify",
		st: &stack.Stack{Functions: map[string]stack.Function{
			"lockbox-create": {Environment: maps.Clone(shared)}, "lockbox-notify": {Environment: notifyEnv}}}}
	create := b.env("lockbox-create", "127.0.0.1:9000")
	assert.Contains(t, create, "notify_url=http://127.0.0.1:7/async-function/lockbox-notify")
	assert.Contains(t, create, "redis_url=redis://127.0.0.1:1234/0")
	assert.Contains(t, create, "portal_url="+benchPortalURL)
	assert.Contains(t, create, "webhook_allow_private=false")
	assert.Contains(t, create, "listen_addr=127.0.0.1:9000")
	assert.NotContains(t, strings.Join(create, "\n"), "smtp_url")
	n := b.env("lockbox-notify", "127.0.0.1:9001")
	assert.Contains(t, n, "notify_url=http://127.0.0.1:7/async-function/lockbox-notify")
	assert.Contains(t, n, "smtp_url=smtp://127.0.0.1:2525")
	assert.Contains(t, n, "mail_from=Lockbox <lockbox@lockbox.example>")
	assert.Contains(t, n, "webhook_allow_private=true")
	assert.Equal(t, []string{"PATH=" + os.Getenv("PATH"), "secret_mount_path=/secrets", "listen_addr=127.0.0.1:9002"},
		b.env("bench-noop", "127.0.0.1:9002"))
}

// The ceiling's senders deliver to the receivers, which count each mail and
// each signed webhook once and refuse an unsigned one.
func TestSinksAndDirectSends(t *testing.T) {
	s, err := startSinks()
	require.NoError(t, err)
	t.Cleanup(s.close)
	set := lockbox.DefaultSettings(true)
	notifySettings(&set, s.addrs.Webhook, webhookSecret())
	cfg := &notifyConfig{SMTPURL: "smtp://" + s.addrs.SMTP, From: "Lockbox <lockbox@lockbox.example>", PortalURL: benchPortalURL,
		WebhookURL: s.addrs.Webhook, Secret: set.Webhooks[0].Secret, To: notify.MailTo(lockbox.Notification{Type: lockbox.NoteCreated}, set)}
	require.Equal(t, []string{`"Alice Approver" <alice@contoso.example>`, `"Bob Approver" <bob@contoso.example>`}, cfg.To)
	items := []Item{{Tenant: "contoso", Key: "eng-1"}, {Tenant: "contoso", Key: "eng-2"}, {Tenant: "contoso", Key: "eng-3"}}
	g := &generator{}
	mails, err := g.rawMail(Job{Concurrency: 2, Items: items, Notify: cfg})
	require.NoError(t, err)
	assert.Equal(t, 6, mails.Ops)
	assert.Zero(t, mails.Errors, mails.FirstError)
	hooks, err := g.rawWebhook(Job{Concurrency: 2, Items: items, Notify: cfg})
	require.NoError(t, err)
	assert.Equal(t, 3, hooks.Ops)
	assert.Zero(t, hooks.Errors, hooks.FirstError)
	assert.EqualValues(t, 6, s.mails.Load())
	assert.EqualValues(t, 3, s.webhooks.Load())

	resp, err := http.Post(s.addrs.Webhook, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "an unsigned delivery")
	assert.EqualValues(t, 3, s.webhooks.Load())
	_, err = g.rawMail(Job{Items: items})
	assert.Error(t, err, "no configuration")
}

// The activity queries: each archive's first page over its whole span, and
// over the longest the approvals and one day in its middle; all valid
// queries of lockbox-activity.
func TestActivityQueries(t *testing.T) {
	end := time.Date(2026, 11, 29, 16, 30, 0, 0, time.UTC)
	qs := activityQueries([]int{1, 30, 92}, end)
	var got []string
	for _, q := range qs {
		got = append(got, fmt.Sprintf("%s %d %s", q.kind, q.days, q.tenant))
		parsed, err := api.ActivityQuery(q.params.Get, end.Add(time.Hour))
		require.NoError(t, err)
		assert.True(t, parsed.From.Before(parsed.To))
		assert.LessOrEqual(t, parsed.To.Sub(parsed.From), audit.MaxActivityDays*24*time.Hour)
		assert.Equal(t, 50, parsed.Limit)
		switch q.kind {
		case queryPage, queryOperation:
			assert.Equal(t, end, parsed.To)
			assert.Equal(t, end.AddDate(0, 0, -q.days), parsed.From)
		case queryDay:
			assert.Equal(t, time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC), parsed.From)
			assert.Equal(t, 24*time.Hour, parsed.To.Sub(parsed.From))
		}
		if q.kind == queryOperation {
			assert.Equal(t, []string{lockbox.OpApprove}, parsed.Operations)
		} else {
			assert.Empty(t, parsed.Operations)
		}
	}
	assert.Equal(t, []string{"page 1 bench-activity-1d", "page 30 bench-activity-30d", "page 92 bench-activity-92d",
		"operation 92 bench-activity-92d", "day 92 bench-activity-92d"}, got)
	assert.Empty(t, activityQueries(nil, end))
}

// memArchive is an archive in memory that records the reads made of it.
type memArchive struct {
	objects map[string][]byte
	reads   []string
}

func (m *memArchive) List(_ context.Context, prefix string) ([]string, error) {
	m.reads = append(m.reads, "list "+prefix)
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (m *memArchive) Get(_ context.Context, key string) ([]byte, error) {
	m.reads = append(m.reads, "get "+key)
	b, ok := m.objects[key]
	if !ok {
		return nil, errors.New("no such key")
	}
	return b, nil
}

// exported is an audit log whose events are all exported, up to seq.
type exported uint64

func (e exported) ExportHead(context.Context, string) (lockbox.ExportHead, bool, error) {
	return lockbox.ExportHead{Seq: uint64(e)}, true, nil
}

func (exported) ReadEvents(context.Context, string, string, string, int) ([]lockbox.LoggedEvent, error) {
	return nil, nil
}

func (exported) ReadEventsBefore(context.Context, string, string, string, int) ([]lockbox.LoggedEvent, error) {
	return nil, nil
}

// The ceiling makes the reads a page makes, in the same order.
func TestRecordedReadsReplay(t *testing.T) {
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	archive := &memArchive{objects: map[string][]byte{}}
	for seq := uint64(1); seq <= 6; seq++ { // two objects a day, one event each
		at := day.Add(time.Duration(seq-1) * 12 * time.Hour)
		r := audit.Record{Seq: seq, Time: audit.FormatTime(at), TenantID: "contoso", RequestID: "r", OperationName: lockbox.OpCreate}
		archive.objects[audit.ObjectKey("contoso", at.Format("2006-01-02"), seq, seq)] = append(r.Canonical(), '\n')
	}
	rec := &recordedReads{store: archive}
	q := lockbox.ActivityQuery{TenantID: "contoso", From: day, To: day.AddDate(0, 0, 3), Limit: 3}
	page, err := (&audit.Activity{Events: exported(6), Archive: rec}).Activity(context.Background(), q)
	require.NoError(t, err)
	assert.Len(t, page.Events, 3)
	lists, gets := rec.count()
	assert.Equal(t, 2, lists)
	assert.Equal(t, 4, gets, "the page reads one event more than it shows")

	read := archive.reads
	archive.reads = nil
	require.NoError(t, rec.replay(context.Background(), archive))
	assert.Equal(t, read, archive.reads)
	assert.Equal(t, "list audit/tenant=contoso/date=2026-11-03/", read[0])

	archive.objects = map[string][]byte{}
	assert.Error(t, rec.replay(context.Background(), archive), "a read that fails fails the page")
}

// The report shows each new measurement beside its ceiling.
func TestMarkdownNotifyAndActivity(t *testing.T) {
	r := &Report{Plan: quickPlan,
		Notify: []NotifyRun{{Tenants: 1, Concurrency: 1, Requests: 100, Mails: 200, Webhooks: 100, Calls: 1, Seconds: 0.6, FunctionCPUPer1k: 0.5,
			Ceiling: NotifyCeiling{Mails: 200, Webhooks: 100, MailSeconds: 0.2, WebhookSeconds: 0.1, MailLatency: Latencies{P50: 1, P99: 2}}}},
		Activity: ActivityReport{Archives: []ActivityArchive{{Tenant: "bench-activity-92d", Days: 92, Events: 2208, Objects: 2208}},
			Runs: []ActivityRun{
				{Query: queryOperation, Days: 92, Path: "http", Concurrency: 8, Throughput: 20, Latency: Latencies{P50: 40, P99: 90}, Events: 50, Lists: 7, Gets: 140},
				{Query: queryOperation, Days: 92, Path: "s3", Concurrency: 8, Throughput: 40, Latency: Latencies{P50: 20, P99: 60}, Events: 50, Lists: 7, Gets: 140},
			}}}
	s := markdown(r)
	assert.Contains(t, s, "### Notifications: lockbox-notify beside direct sends")
	assert.Regexp(t, `\| lockbox-notify +\| 1 +\| 1 +\| 200 +\| 100 +\| 1 +\| 0\.600 +\| 500 +\| 333 +\| 167 +\| 0\.50 `, s)
	assert.Regexp(t, `\| direct sends \(ceiling\) +\| 1 +\| 1 +\| 200 +\| 100 +\| — +\| 0\.300 +\| 1000 `, s)
	assert.Regexp(t, `\| 1 +\| 1\.000 +\| 2\.000 +\| 1000 +\|`, s, "mails alone")
	assert.Contains(t, s, "### Activity log: lockbox-activity beside its S3 reads")
	assert.Contains(t, s, "92 days: 2208 events in 2208 objects")
	assert.Contains(t, s, "a request every 4 h decided 45 min later, each event in an object of its own")
	assert.Regexp(t, `\| ApproveLockboxRequest only, 92 days +\| 8 +\| http +\| 20 +\| 40\.000 .*\| 50 +\| 7 \+ 140 `, s)
	assert.Regexp(t, `\| ApproveLockboxRequest only, 92 days +\| 8 +\| 0\.50 +\| 2\.00 +\| 1\.50 +\|`, s)

	empty := markdown(&Report{Plan: quickPlan})
	assert.NotContains(t, empty, "Notifications")
	assert.NotContains(t, empty, "Activity log")
}

// A comparison's ratio pairs the two sides' runs of the same round, and its
// throughputs and CPU are the medians of each side.
func TestSummarize(t *testing.T) {
	run := func(round int, side, op string, tput, cpu float64) CompareRun {
		return CompareRun{Round: round, Side: side, Run: Run{Op: op, Throughput: tput, FunctionCPUPer1k: cpu}}
	}
	runs := []CompareRun{
		run(1, "base", "create", 1000, 0.5), run(1, "this", "create", 900, 0.6),
		run(2, "this", "create", 2000, 0.4), run(2, "base", "create", 2000, 0.4),
		run(3, "base", "create", 500, 0.9), run(3, "this", "create", 400, 1.0),
		run(1, "base", "deny", 100, 1), // no "this" run: no ratio
	}
	got := summarize(runs)
	require.Len(t, got, 1)
	s := got[0]
	assert.Equal(t, "create", s.Op)
	assert.InDelta(t, 0.9, s.Ratio, 1e-9, "the median of 0.9, 1.0 and 0.8")
	assert.InDelta(t, 0.8, s.MinRatio, 1e-9)
	assert.InDelta(t, 1.0, s.MaxRatio, 1e-9)
	assert.InDelta(t, 1000, s.Base, 1e-9)
	assert.InDelta(t, 900, s.This, 1e-9)
	assert.InDelta(t, 0.5, s.BaseCPUms, 1e-9)
	assert.InDelta(t, 0.6, s.ThisCPUms, 1e-9)
	assert.InDelta(t, 2.5, median([]float64{4, 1, 2, 3}), 1e-9)
	assert.Zero(t, median(nil))
}

// The set-up's store has no caps: a fill gives one engineer more pending
// requests than a deployment allows (the list scaling puts a hundred on
// each), and every set-up step goes through it.
func TestSetUpStoreIsUncapped(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	b := &bench{redis: &redisServer{rdb: rdb}}
	n := 51 // max_pending_per_requester is 50 by default
	ids, err := b.fill("bench-set-up", n, lockbox.DefaultLimits, func(int) string { return "eng-1" })
	require.NoError(t, err)
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(ids))), n, "n requests, each its own")
	require.NoError(t, b.act("bench-set-up", ids[:2], lockbox.ActionApprove, "approver-0"))
}
