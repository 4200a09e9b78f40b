package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/redisstore"
)

// The activity log measurement. A tenant per span of plan.ActivityDays gets
// an archive of that many days ending now: a request every four hours,
// decided 45 minutes later (three in four approved), filed through the
// store with the clock set to each event's time, then exported by the audit
// package's exporter one event per batch. That is the archive lockbox-audit,
// running every minute, writes for a tenant this quiet, whose events fall
// in minutes of their own: an object per event, in the partition of its
// date (the checkpoints, which no page reads, are left out to save time).
// lockbox-activity serves pages of them to a reader's token. Its ceiling is the S3 reads the same page makes (a List
// of each day's partition, a Get of each object it reads), found by reading
// the page once through the audit package's reader and made again from the
// load generator with the same S3 client, one after another as the page
// makes them.

// The archives' rhythm.
const (
	archiveEvery       = 4 * time.Hour    // a request filed every
	archiveFirst       = 7 * time.Minute  // the first after the archive's start
	archiveDecideAfter = 45 * time.Minute // the decision after its request
)

// activityWarmup is how many pages of each query are read before the runs.
const activityWarmup = 2

// The queries measured (ActivityRun.Query).
const (
	queryPage      = "page"      // the first page (50) over the whole archive
	queryOperation = "operation" // the first page of approvals only, over the whole archive
	queryDay       = "day"       // the first page of one day in the middle of the archive
)

// activityQuery is one query measured: its kind, the archive it reads and
// its parameters.
type activityQuery struct {
	kind   string
	days   int
	tenant string
	params url.Values
}

// activityTenant is the tenant of the archive of days days.
func activityTenant(days int) string { return fmt.Sprintf("bench-activity-%dd", days) }

// activityQueries are the queries of archives of days days ending at end:
// the first page of each over its whole span, and over the longest the
// first page of approvals and of one day in its middle.
func activityQueries(days []int, end time.Time) []activityQuery {
	window := func(from, to time.Time) url.Values {
		return url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}, "limit": {"50"}}
	}
	var out []activityQuery
	for _, d := range days {
		out = append(out, activityQuery{kind: queryPage, days: d, tenant: activityTenant(d), params: window(end.AddDate(0, 0, -d), end)})
	}
	if len(days) == 0 {
		return out
	}
	longest := slices.Max(days)
	approvals := window(end.AddDate(0, 0, -longest), end)
	approvals.Set("operationName", lockbox.OpApprove)
	day := end.AddDate(0, 0, -longest/2).UTC().Truncate(24 * time.Hour)
	return append(out,
		activityQuery{kind: queryOperation, days: longest, tenant: activityTenant(longest), params: approvals},
		activityQuery{kind: queryDay, days: longest, tenant: activityTenant(longest), params: window(day, day.Add(24*time.Hour))})
}

// activity builds the archives, then measures each query at concurrency 1
// and 8 through lockbox-activity and as its S3 reads alone, taking turns.
func (b *bench) activity() error {
	ctx := context.Background()
	keyFile, err := os.ReadFile(filepath.Join(b.secrets, "lockbox-audit-signing-key"))
	if err != nil {
		return err
	}
	keys, err := audit.ParseSigningKeys(keyFile)
	if err != nil {
		return fmt.Errorf("the audit signing key: %w", err)
	}
	s := b.redis.store(lockbox.DefaultLimits)
	puts := &backgroundPuts{Store: b.s3, slots: make(chan struct{}, 16)}
	exporter := audit.NewExporter(s, puts, keys[0])
	// A batch per event; one call exports a whole archive.
	exporter.Batch, exporter.MaxBatches, exporter.LockTTL = 1, math.MaxInt, 10*time.Minute

	end := time.Now().UTC().Truncate(time.Minute)
	days := b.plan.ActivityDays
	archives := make([]ActivityArchive, len(days))
	errs := make([]error, len(days))
	var wg sync.WaitGroup
	for i, d := range days {
		wg.Go(func() { archives[i], errs[i] = b.archive(ctx, s, exporter, activityTenant(d), d, end) })
	}
	wg.Wait()
	if err := errors.Join(append(errs, puts.wait())...); err != nil {
		return err
	}
	b.rep.Activity.Archives = archives
	for _, a := range archives {
		b.log.Info("archived", "tenant", a.Tenant, "events", a.Events, "objects", a.Objects, "seconds", fmt.Sprintf("%.1f", a.Seconds))
	}

	queries := activityQueries(days, end)
	for _, q := range queries {
		if _, err := b.activityRun(q, "http", 1, activityWarmup); err != nil {
			return fmt.Errorf("warm-up of %s over %d days: %w", q.kind, q.days, err)
		}
	}
	for _, c := range []int{1, 8} {
		for _, q := range queries {
			for _, path := range []string{"http", "s3"} {
				run, err := b.activityRun(q, path, c, b.plan.ActivityOps)
				if err != nil {
					return fmt.Errorf("%s over %d days, %s at %d: %w", q.kind, q.days, path, c, err)
				}
				b.rep.Activity.Runs = append(b.rep.Activity.Runs, run)
				b.log.Info("activity", "query", q.kind, "days", q.days, "path", path, "concurrency", c,
					"pages/s", fmt.Sprintf("%.0f", run.Throughput), "p99ms", fmt.Sprintf("%.2f", run.Latency.P99))
			}
		}
	}
	return nil
}

// archive files tenant's history of days days before end, in order, and
// exports it with e (see the top of this file).
func (b *bench) archive(ctx context.Context, s *redisstore.Store, e *audit.Exporter, tenant string, days int, end time.Time) (ActivityArchive, error) {
	a := ActivityArchive{Tenant: tenant, Days: days}
	start := time.Now()
	events := 0
	at := end.AddDate(0, 0, -days).Add(archiveFirst)
	for k := 0; at.Add(archiveDecideAfter).Before(end); k, at = k+1, at.Add(archiveEvery) {
		r := lockbox.NewRequest(createInput(Item{Tenant: tenant, Key: fmt.Sprintf("eng-%d", k)}), lockbox.NewID(), at, s.Limits())
		if _, _, err := s.Create(ctx, r, lockbox.CreateOptions{}); err != nil {
			return a, fmt.Errorf("file in %s: %w", tenant, err)
		}
		action := lockbox.ActionApprove
		if k%4 == 3 {
			action = lockbox.ActionDeny
		}
		if _, err := s.Act(ctx, tenant, r.RequestID, lockboxtest.Decision(action, "approver-1", "bench decision", nil, at.Add(archiveDecideAfter))); err != nil {
			return a, fmt.Errorf("decide in %s: %w", tenant, err)
		}
		events += 2
	}
	r, err := e.ExportTenant(ctx, tenant)
	if err != nil {
		return a, fmt.Errorf("export %s: %w", tenant, err)
	}
	if r.Exported != events {
		return a, fmt.Errorf("exported %d events of %s, want %d", r.Exported, tenant, events)
	}
	a.Events, a.Objects, a.Seconds = r.Exported, len(r.Objects), time.Since(start).Seconds()
	return a, nil
}

// backgroundPuts is the archives' object store during set-up. Each Put of
// an event object (audit.ParseKey) hands it to a writer of its own, at most
// cap(slots) at once, and returns, so that the objects of thousands of
// one-event batches are written side by side instead of one after another;
// checkpoints are not written at all. wait returns once all are written,
// with the first failure. The exporter thus acknowledges each batch before
// its objects are written, which only set-up may do (the archive is listed
// only before a tenant's first batch, when it holds nothing of the tenant).
type backgroundPuts struct {
	*objectstore.Store
	slots chan struct{}
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error
}

// Put implements audit.ObjectStore.
func (p *backgroundPuts) Put(ctx context.Context, key string, body []byte, retainUntil time.Time) error {
	if _, ok := audit.ParseKey(key); !ok {
		return nil // a checkpoint
	}
	p.slots <- struct{}{}
	p.wg.Go(func() {
		defer func() { <-p.slots }()
		if err := p.Store.Put(ctx, key, body, retainUntil); err != nil {
			p.mu.Lock()
			p.err = cmp.Or(p.err, err)
			p.mu.Unlock()
		}
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// wait waits for every Put and returns the first failure.
func (p *backgroundPuts) wait() error {
	p.wg.Wait()
	if p.err != nil {
		return fmt.Errorf("write the archives: %w", p.err)
	}
	return nil
}

// activityRun has the load generator read n pages of q at concurrency c,
// through lockbox-activity (path http) or as their S3 reads alone (s3).
func (b *bench) activityRun(q activityQuery, path string, c, n int) (ActivityRun, error) {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Tenant: q.tenant}
	}
	j := Job{Op: "activity", Path: path, Concurrency: c, Items: items, Query: q.params.Encode(), S3: b.s3Config(),
		RedisURL: b.redis.clientURL(), SecretsDir: b.secrets}
	pid := 0
	if path == "http" {
		fn := b.fns["lockbox-activity"]
		j.URL, pid = "http://"+fn.addr, fn.cmd.Process.Pid
	}
	o, used, err := b.measure(j, pid)
	if err == nil && o.Errors > 0 {
		err = fmt.Errorf("%d of %d pages failed, the first: %s", o.Errors, o.Ops, o.FirstError)
	}
	if err != nil {
		return ActivityRun{}, err
	}
	perPage := 1000 / float64(o.Ops)
	return ActivityRun{Query: q.kind, Days: q.days, Path: path, Concurrency: c, Ops: o.Ops, Seconds: o.Seconds,
		Throughput: float64(o.Ops) / o.Seconds, Latency: o.Latencies, Events: o.Count, Lists: o.Lists, Gets: o.Gets,
		FunctionCPUMs: used.function * perPage, ClientCPUMs: used.client * perPage, MinIOCPUMs: used.minio * perPage}, nil
}

// activity reads the job's pages of the activity log (every item reads the
// same page of its first item's tenant): over HTTP from lockbox-activity
// with a reader's token, or (path s3) as the S3 reads alone that the page
// makes. Either way the page is first read once through the audit
// package's own reader, recording its reads; the outcome counts them and
// the page's events, which lockbox-activity's page must hold as many of.
func (g *generator) activity(j Job) (Outcome, error) {
	if len(j.Items) == 0 {
		return Outcome{}, errors.New("an activity job needs items")
	}
	tenant := j.Items[0].Tenant
	params, err := url.ParseQuery(j.Query)
	if err != nil {
		return Outcome{}, fmt.Errorf("activity query: %w", err)
	}
	q, err := api.ActivityQuery(params.Get, time.Now())
	if err != nil {
		return Outcome{}, fmt.Errorf("activity query: %w", err)
	}
	q.TenantID = tenant
	s3 := g.objectStore(j)
	rec := &recordedReads{store: s3}
	page, err := (&audit.Activity{Events: g.store, Archive: rec}).Activity(context.Background(), q)
	if err != nil {
		return Outcome{}, fmt.Errorf("read the page: %w", err)
	}
	var call func(ctx context.Context, i int) error
	switch j.Path {
	case "s3":
		call = func(ctx context.Context, _ int) error { return rec.replay(ctx, s3) }
	case "http":
		if err := g.mintTokens("reader-1", lockbox.RoleReader, j.Items[:1]); err != nil {
			return Outcome{}, err
		}
		target := j.URL + "?" + j.Query
		header := func() http.Header { return http.Header{"Authorization": {g.bearer(lockbox.RoleReader, tenant)}} }
		got, err := g.activityEvents(target, header())
		if err != nil {
			return Outcome{}, err
		}
		if got != len(page.Events) {
			return Outcome{}, fmt.Errorf("lockbox-activity's page holds %d events, the archive's reader's %d", got, len(page.Events))
		}
		call = func(ctx context.Context, _ int) error {
			return g.call(ctx, http.MethodGet, target, header(), nil, http.StatusOK)
		}
	default:
		return Outcome{}, fmt.Errorf("unknown activity path %q", j.Path)
	}
	out := drive(j.Concurrency, len(j.Items), call)
	out.Count = len(page.Events)
	out.Lists, out.Gets = rec.count()
	return out, nil
}

// activityEvents reads one page from lockbox-activity and counts its events.
func (g *generator) activityEvents(target string, h http.Header) (int, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	req.Header = h
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("lockbox-activity answered %d: %s", resp.StatusCode, b)
	}
	var page api.ActivityResponse
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return 0, fmt.Errorf("lockbox-activity's page: %w", err)
	}
	return len(page.Value), nil
}

// recordedReads is an audit.ObjectReader that records, in order, the reads
// made through it, to make them again.
type recordedReads struct {
	store audit.ObjectReader
	reads []s3Read
}

// s3Read is one List (of a prefix) or Get (of a key).
type s3Read struct {
	list bool
	name string
}

// List implements audit.ObjectReader.
func (r *recordedReads) List(ctx context.Context, prefix string) ([]string, error) {
	r.reads = append(r.reads, s3Read{list: true, name: prefix})
	return r.store.List(ctx, prefix)
}

// Get implements audit.ObjectReader.
func (r *recordedReads) Get(ctx context.Context, key string) ([]byte, error) {
	r.reads = append(r.reads, s3Read{name: key})
	return r.store.Get(ctx, key)
}

// count is how many Lists and Gets were recorded.
func (r *recordedReads) count() (lists, gets int) {
	for _, x := range r.reads {
		if x.list {
			lists++
		} else {
			gets++
		}
	}
	return lists, gets
}

// replay makes the recorded reads again through s, one after another.
func (r *recordedReads) replay(ctx context.Context, s audit.ObjectReader) error {
	for _, x := range r.reads {
		var err error
		if x.list {
			_, err = s.List(ctx, x.name)
		} else {
			_, err = s.Get(ctx, x.name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
