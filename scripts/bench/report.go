package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"lockbox.dev/shared/notify"
)

// Report is everything one run measured.
type Report struct {
	Plan      plan             `json:"plan"`
	Machine   Machine          `json:"machine"`
	Started   time.Time        `json:"started"`
	Seconds   float64          `json:"seconds"`
	Runs      []Run            `json:"runs"`
	List      []ListScale      `json:"list"`
	Export    ExportReport     `json:"export"`
	Sweep     SweepReport      `json:"sweep"`
	Audit     AuditReport      `json:"audit"`
	Notify    []NotifyRun      `json:"notify"`
	Activity  ActivityReport   `json:"activity"`
	Nginx     NginxReport      `json:"nginx"`
	Functions []FunctionReport `json:"functions"`
	Targets   []Target         `json:"targets"`
}

// Machine is where the numbers come from.
type Machine struct {
	CPU       string  `json:"cpu"`
	CPUs      int     `json:"cpus"`
	MemoryGiB float64 `json:"memoryGiB"`
	Kernel    string  `json:"kernel"`
	GOOS      string  `json:"goos"`
	GOARCH    string  `json:"goarch"`
	Go        string  `json:"go"`
	Redis     string  `json:"redis"`
	MinIO     string  `json:"minio"`
}

// Run is one measured load run.
type Run struct {
	Op          string    `json:"op"`   // one of loadOps
	Path        string    `json:"path"` // http (the function) or redis (the ceiling)
	Concurrency int       `json:"concurrency"`
	Ops         int       `json:"ops"`
	Seconds     float64   `json:"seconds"`
	Throughput  float64   `json:"throughput"` // calls per second
	Latency     Latencies `json:"latencyMs"`
	// CPU seconds per 1,000 calls of the function process (http only), the
	// load generator (the client) and redis-server.
	FunctionCPUPer1k float64 `json:"functionCpuPer1k"`
	ClientCPUPer1k   float64 `json:"clientCpuPer1k"`
	RedisCPUPer1k    float64 `json:"redisCpuPer1k"`
	// RoundTrips is client reads Redis processed per call (INFO stats
	// total_reads_processed): one per round trip.
	RoundTrips float64 `json:"redisRoundTrips"`
	// Commands is calls per call of each command, from INFO commandstats;
	// commands a script runs are counted there too.
	Commands map[string]float64 `json:"redisCommands"`
}

// ListScale is list page latency with a number of requests stored.
type ListScale struct {
	Stored  int       `json:"stored"`
	Ops     int       `json:"ops"`
	Latency Latencies `json:"latencyMs"`
}

// ExportReport compares the export with raw PutObject of the same bytes.
type ExportReport struct {
	Events     int     `json:"events"`
	Objects    int     `json:"objects"`
	MB         float64 `json:"mb"`
	Seconds    float64 `json:"seconds"`
	RawSeconds float64 `json:"rawPutSeconds"`
	// CPU seconds the export (the client being lockbox-audit) and the raw
	// PutObject (the client being the load generator) took, per process.
	CPU    CPUSplit `json:"cpu"`
	RawCPU CPUSplit `json:"rawCpu"`
	// Rounds are the rounds the totals above add up.
	Rounds []ExportRound `json:"rounds"`
}

// ExportRound is one export and its ceiling, measured one after the other.
type ExportRound struct {
	Seconds    float64 `json:"seconds"`
	RawSeconds float64 `json:"rawPutSeconds"`
}

// CPUSplit is CPU seconds by process.
type CPUSplit struct {
	Client float64 `json:"client"`
	Redis  float64 `json:"redis"`
	MinIO  float64 `json:"minio"`
}

func (c CPUSplit) add(d CPUSplit) CPUSplit {
	return CPUSplit{Client: c.Client + d.Client, Redis: c.Redis + d.Redis, MinIO: c.MinIO + d.MinIO}
}

// describe names the client process.
func (c CPUSplit) describe(client string) string {
	return fmt.Sprintf("CPU s: %s %.2f, Redis %.2f, MinIO %.2f", client, c.Client, c.Redis, c.MinIO)
}

// SweepReport is the sweep of the due requests.
type SweepReport struct {
	Due        int     `json:"due"`
	Expired    int     `json:"expired"`
	Batch      int     `json:"batch"`
	Seconds    float64 `json:"seconds"`
	PeakHeapMB float64 `json:"peakHeapMB"`
}

// AuditReport is the lockbox-audit call over everything left.
type AuditReport struct {
	// Calls are the runs it took: each is bounded in time and the next
	// continues where it stopped.
	Calls    int     `json:"calls"`
	Exported int     `json:"exported"`
	Objects  int     `json:"objects"`
	Expired  int     `json:"expired"`
	Tenants  int     `json:"tenants"`
	Seconds  float64 `json:"seconds"`
}

// NotifyRun is lockbox-notify sending the deliveries of the requests filed
// in Tenants tenants (two mails and a webhook each), beside the ceiling.
type NotifyRun struct {
	Tenants int `json:"tenants"`
	// Concurrency is how many deliveries lockbox-notify sends at once:
	// notify.Senders per tenant, up to notify.Workers tenants.
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Mails       int     `json:"mails"`
	Webhooks    int     `json:"webhooks"`
	Calls       int     `json:"calls"` // lockbox-notify calls until all was sent
	Seconds     float64 `json:"seconds"`
	// CPU seconds per 1,000 deliveries of the function process,
	// redis-server and the load generator (the receivers).
	FunctionCPUPer1k float64       `json:"functionCpuPer1k"`
	RedisCPUPer1k    float64       `json:"redisCpuPer1k"`
	ReceiverCPUPer1k float64       `json:"receiverCpuPer1k"`
	Ceiling          NotifyCeiling `json:"ceiling"`
}

// Deliveries is how many deliveries the run sent.
func (n NotifyRun) Deliveries() int { return n.Mails + n.Webhooks }

// Throughput is deliveries per second.
func (n NotifyRun) Throughput() float64 { return rate(n.Deliveries(), n.Seconds) }

// NotifyCeiling is the same number of mails and webhooks, rendered
// beforehand, sent straight to the receivers by the load generator with
// lockbox-notify's senders, as many at once: first the mails, then the
// webhooks.
type NotifyCeiling struct {
	Mails          int       `json:"mails"`
	Webhooks       int       `json:"webhooks"`
	MailSeconds    float64   `json:"mailSeconds"`
	WebhookSeconds float64   `json:"webhookSeconds"`
	MailLatency    Latencies `json:"mailLatencyMs"` // per send
	WebhookLatency Latencies `json:"webhookLatencyMs"`
	// ClientCPUPer1k is CPU seconds per 1,000 deliveries of the load
	// generator: the senders and the receivers.
	ClientCPUPer1k float64 `json:"clientCpuPer1k"`
}

// Seconds is how long both channels took.
func (c NotifyCeiling) Seconds() float64 { return c.MailSeconds + c.WebhookSeconds }

// Throughput is deliveries per second over both channels.
func (c NotifyCeiling) Throughput() float64 { return rate(c.Mails+c.Webhooks, c.Seconds()) }

// ActivityReport is the activity log measurement.
type ActivityReport struct {
	Archives []ActivityArchive `json:"archives"`
	Runs     []ActivityRun     `json:"runs"`
}

// ActivityArchive is one tenant's archive, as the runs read it.
type ActivityArchive struct {
	Tenant  string  `json:"tenant"`
	Days    int     `json:"days"`
	Events  int     `json:"events"`
	Objects int     `json:"objects"`
	Seconds float64 `json:"seconds"` // filing and exporting it (set-up)
}

// ActivityRun is one measured run of activity pages.
type ActivityRun struct {
	Query       string    `json:"query"` // page, operation or day
	Days        int       `json:"days"`  // the span of the archive read
	Path        string    `json:"path"`  // http (lockbox-activity) or s3 (the ceiling)
	Concurrency int       `json:"concurrency"`
	Ops         int       `json:"ops"`
	Seconds     float64   `json:"seconds"`
	Throughput  float64   `json:"throughput"` // pages per second
	Latency     Latencies `json:"latencyMs"`
	Events      int       `json:"events"` // on the page
	// Lists and Gets are the S3 calls of one page.
	Lists int `json:"lists"`
	Gets  int `json:"gets"`
	// CPU milliseconds per page of the function process (http only), the
	// load generator and MinIO.
	FunctionCPUMs float64 `json:"functionCpuMsPerPage"`
	ClientCPUMs   float64 `json:"clientCpuMsPerPage"`
	MinIOCPUMs    float64 `json:"minioCpuMsPerPage"`
}

// describe names the run's query.
func (a ActivityRun) describe() string {
	switch a.Query {
	case queryPage:
		return "first page, " + days(a.Days)
	case queryOperation:
		return "ApproveLockboxRequest only, " + days(a.Days)
	case queryDay:
		return fmt.Sprintf("one day of %d", a.Days)
	}
	return a.Query
}

// activityRun finds the run of a query, path and concurrency.
func (r *Report) activityRun(query string, days int, path string, c int) (ActivityRun, bool) {
	i := slices.IndexFunc(r.Activity.Runs, func(x ActivityRun) bool {
		return x.Query == query && x.Days == days && x.Path == path && x.Concurrency == c
	})
	if i < 0 {
		return ActivityRun{}, false
	}
	return r.Activity.Runs[i], true
}

// rate is n per second, 0 for no time.
func rate(n int, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(n) / seconds
}

// NginxReport is nginx proxying the no-op function plainly and behind
// auth_request to lockbox-check (nginx.go).
type NginxReport struct {
	// Skipped says why nothing was measured (nginx absent, or built
	// without auth_request); empty when it was.
	Skipped string     `json:"skipped,omitempty"`
	Version string     `json:"version,omitempty"`
	Workers int        `json:"workers,omitempty"`
	Runs    []NginxRun `json:"runs,omitempty"`
}

// The two sides of the nginx runs.
const (
	nginxPlain   = "plain"
	nginxGuarded = "auth_request"
)

// NginxRun is one side's calls at one concurrency, its turns added up.
type NginxRun struct {
	Path        string    `json:"path"` // nginxPlain or nginxGuarded
	Concurrency int       `json:"concurrency"`
	Ops         int       `json:"ops"`
	Seconds     float64   `json:"seconds"`
	Throughput  float64   `json:"throughput"`
	Latency     Latencies `json:"latencyMs"`
	// CPU seconds per 1,000 calls of nginx (master and workers),
	// lockbox-check, the upstream (the no-op), the load generator and
	// redis-server.
	NginxCPUPer1k    float64 `json:"nginxCpuPer1k"`
	CheckCPUPer1k    float64 `json:"checkCpuPer1k"`
	UpstreamCPUPer1k float64 `json:"upstreamCpuPer1k"`
	ClientCPUPer1k   float64 `json:"clientCpuPer1k"`
	RedisCPUPer1k    float64 `json:"redisCpuPer1k"`
	RoundTrips       float64 `json:"redisRoundTrips"`
}

// nginxRun finds the run of a side at a concurrency.
func (r *Report) nginxRun(path string, c int) (NginxRun, bool) {
	i := slices.IndexFunc(r.Nginx.Runs, func(x NginxRun) bool { return x.Path == path && x.Concurrency == c })
	if i < 0 {
		return NginxRun{}, false
	}
	return r.Nginx.Runs[i], true
}

// FunctionReport is one function process's start-up and memory.
type FunctionReport struct {
	Name         string  `json:"name"`
	StartupMs    float64 `json:"startupMs"` // median
	StartupMaxMs float64 `json:"startupMaxMs"`
	StartRSSMB   float64 `json:"startRssMB"` // after its first call
	RSSMB        float64 `json:"rssMB"`      // after the run
	PeakRSSMB    float64 `json:"peakRssMB"`
}

// Target is one bar of the performance issue and whether this run met it.
type Target struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Bar      string  `json:"bar"`
	Met      bool    `json:"met"`
}

func (r *Report) run(op, path string, c int) (Run, bool) {
	i := slices.IndexFunc(r.Runs, func(x Run) bool { return x.Op == op && x.Path == path && x.Concurrency == c })
	if i < 0 {
		return Run{}, false
	}
	return r.Runs[i], true
}

// evaluate records the targets.
func (r *Report) evaluate() {
	add := func(name string, v float64, bar string, met bool) {
		r.Targets = append(r.Targets, Target{Name: name, Measured: v, Bar: bar, Met: met})
	}
	noop, ok := r.run("noop", "http", 32)
	for _, op := range transitionOps {
		if run, found := r.run(op, "http", 32); ok && found {
			v := run.Throughput / noop.Throughput
			add(op+" throughput @32 / no-op @32", v, "≥ 0.60", v >= 0.6)
		}
		if run, found := r.run(op, "http", 1); found {
			add(op+" Redis round trips per call", run.RoundTrips, "= 1", run.RoundTrips < 1.05)
		}
	}
	for _, op := range checkOps {
		r.checkTargets(op, add)
	}
	if run, found := r.run("portal", "http", 1); found {
		add(fmt.Sprintf("portal pending page p99 @1 with %s requests, ms", count(portalStored)), run.Latency.P99,
			fmt.Sprintf("≤ %.0f", portalBarMs), run.Latency.P99 <= portalBarMs)
	}
	if len(r.List) > 1 {
		first, last := r.List[0], r.List[len(r.List)-1]
		v := last.Latency.P99 / first.Latency.P99
		add(fmt.Sprintf("list p99 @%s stored / @%s", count(last.Stored), count(first.Stored)), v, "≤ 1.50", v <= 1.5)
	}
	if r.Export.Seconds > 0 {
		v := r.Export.RawSeconds / r.Export.Seconds
		add("export throughput / raw PutObject", v, "≥ 0.80", v >= 0.8)
	}
	if r.Sweep.Due > 0 {
		add(fmt.Sprintf("sweep of %s due, seconds", count(r.Sweep.Due)), r.Sweep.Seconds, "≤ 10", r.Sweep.Seconds <= 10)
	}
	for _, f := range r.Functions {
		add(f.Name+" RSS after the run, MB", f.RSSMB, "≤ 30", f.RSSMB <= 30)
		add(f.Name+" start-up to first served call, ms", f.StartupMs, "≤ 100", f.StartupMs <= 100)
	}
}

// The bars of lockbox-check, at concurrency checkBarConc beside the no-op
// called with the same request: its function's CPU per call at most
// checkCPUBar times the no-op's, its p99 at most checkP99BarMs above the
// no-op's.
const (
	checkBarConc  = 32
	checkCPUBar   = 2.0
	checkP99BarMs = 2.0
)

// checkTargets adds a check op's targets: Redis round trips per call (the
// highest of its runs over HTTP), and its CPU and p99 beside the no-op's.
func (r *Report) checkTargets(op string, add func(name string, v float64, bar string, met bool)) {
	most, found := 0.0, false
	for _, run := range r.Runs {
		if run.Op == op && run.Path == "http" {
			most, found = max(most, run.RoundTrips), true
		}
	}
	if found {
		add(op+" Redis round trips per call (highest of the runs)", most, "= 1", most > 0.95 && most < 1.05)
	}
	run, ok1 := r.run(op, "http", checkBarConc)
	n, ok2 := r.run(noopOf(op), "http", checkBarConc)
	if !ok1 || !ok2 {
		return
	}
	if n.FunctionCPUPer1k > 0 {
		v := run.FunctionCPUPer1k / n.FunctionCPUPer1k
		add(fmt.Sprintf("%s function CPU per call @%d / no-op's", op, checkBarConc), v, fmt.Sprintf("≤ %.2f", checkCPUBar), v <= checkCPUBar)
	}
	d := run.Latency.P99 - n.Latency.P99
	add(fmt.Sprintf("%s p99 @%d − no-op's p99, ms", op, checkBarConc), d, fmt.Sprintf("≤ %.0f", checkP99BarMs), d <= checkP99BarMs)
}

// noopOf is the no-op run an op is held to: the no-op called with the
// check's own request for the checks, with the signed create request for
// the others.
func noopOf(op string) string {
	if slices.Contains(checkOps, op) {
		return "noopcheck"
	}
	return "noop"
}

// count writes 1000 as 1k and 1000000 as 1M.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return fmt.Sprint(n)
}

// scripts is the script and transaction calls per call: what a client sends
// as one round trip each.
func scripts(c map[string]float64) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(c)) {
		if strings.HasPrefix(name, "eval") || name == "exec" || name == "fcall" {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, c[name]))
		}
	}
	return strings.Join(parts, ", ")
}

// printReport writes the report as plain tables.
func printReport(w io.Writer, r *Report) {
	fmt.Fprintln(w, markdown(r))
}

// markdown renders the report as Markdown tables (also readable as text).
func markdown(r *Report) string {
	var b bytes.Buffer
	m := r.Machine
	fmt.Fprintf(&b, "Measured %s (%s run, %.0f s) on %s, %d CPUs, %.0f GiB, Linux %s; %s; redis-server %s; MinIO %s.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), map[bool]string{true: "quick", false: "full"}[r.Plan.Quick], r.Seconds,
		m.CPU, m.CPUs, m.MemoryGiB, m.Kernel, m.Go, m.Redis, m.MinIO)

	fmt.Fprintf(&b, "### Targets\n\n")
	tw := table(&b, "target", "measured", "bar", "")
	for _, t := range r.Targets {
		verdict := "met"
		if !t.Met {
			verdict = "**missed**"
		}
		row(tw, t.Name, fmt.Sprintf("%.2f", t.Measured), t.Bar, verdict)
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail

	fmt.Fprintf(&b, "\n### Calls: the function over HTTP beside its ceilings\n\n")
	fmt.Fprintf(&b, "%d measured calls per run (list and portal: %d) after %d warm-up calls. `http` is the function called over loopback; `redis` is the same store call sent straight to Redis by the same client (the Redis ceiling); `noop` is a function of no work built with the same template (the HTTP ceiling). CPU is seconds per 1,000 calls of the function process, of the load generator (the client: for `redis`, the client is the whole work besides Redis) and of redis-server; the three share the machine's cores. Round trips are client reads Redis processed per call.\n\n", r.Plan.Ops, r.Plan.ListOps, r.Plan.Warmup)
	fmt.Fprintf(&b, "`intake` is `lockbox-intake` filing a request from a Jira \"issue created\" delivery (POST /jira, the example configuration's mapping, signed as Jira signs it), each call in one of 64 tenants for a reporter and an issue of its own, as `create` files. `portal` is `lockbox-portal`'s pending page (GET /, a page of 50 rendered as HTML) for an approver signed in once beforehand, in a tenant of %d pending requests.\n\n", portalStored)
	tw = table(&b, "op", "path", "conc", "calls/s", "p50 ms", "p99 ms", "p99.9 ms", "function CPU s/1k", "client CPU s/1k", "Redis CPU s/1k", "round trips", "scripts/call")
	for _, run := range r.Runs {
		fnCPU := "—"
		if run.Path == "http" {
			fnCPU = fmt.Sprintf("%.3f", run.FunctionCPUPer1k)
		}
		row(tw, run.Op, run.Path, fmt.Sprint(run.Concurrency), fmt.Sprintf("%.0f", run.Throughput),
			fmt.Sprintf("%.3f", run.Latency.P50), fmt.Sprintf("%.3f", run.Latency.P99), fmt.Sprintf("%.3f", run.Latency.P999),
			fnCPU, fmt.Sprintf("%.3f", run.ClientCPUPer1k), fmt.Sprintf("%.3f", run.RedisCPUPer1k), fmt.Sprintf("%.2f", run.RoundTrips), scripts(run.Commands))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail

	ratiosSection(&b, r)
	checkSection(&b, r)
	credentialSection(&b, r)
	nginxSection(&b, r)

	fmt.Fprintf(&b, "\n### List page (50) latency by requests stored in the tenant, concurrency 1, over HTTP\n\n")
	tw = table(&b, "stored", "calls", "p50 ms", "p99 ms", "p99.9 ms")
	for _, l := range r.List {
		row(tw, count(l.Stored), fmt.Sprint(l.Ops), fmt.Sprintf("%.3f", l.Latency.P50), fmt.Sprintf("%.3f", l.Latency.P99), fmt.Sprintf("%.3f", l.Latency.P999))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail

	e := r.Export
	fmt.Fprintf(&b, "\n### Audit export and sweep\n\n")
	if e.Seconds > 0 {
		var rounds []string
		for _, r := range e.Rounds {
			rounds = append(rounds, fmt.Sprintf("%.3f / %.3f s", r.Seconds, r.RawSeconds))
		}
		fmt.Fprintf(&b, "Export and raw PutObject took turns, %d rounds of %d events each (export / raw: %s); the rows add them up.\n\n",
			len(e.Rounds), e.Events/max(len(e.Rounds), 1), strings.Join(rounds, ", "))
	}
	tw = table(&b, "work", "count", "seconds", "per second", "note")
	if e.Seconds > 0 {
		row(tw, "export: lockbox-audit calls, one tenant each", fmt.Sprintf("%d events, %d objects, %.1f MB", e.Events, e.Objects, e.MB),
			fmt.Sprintf("%.3f", e.Seconds), fmt.Sprintf("%.0f events", float64(e.Events)/e.Seconds), e.CPU.describe("lockbox-audit"))
		row(tw, "raw PutObject of the same bytes", fmt.Sprintf("%d objects", e.Objects), fmt.Sprintf("%.3f", e.RawSeconds),
			fmt.Sprintf("%.0f events", float64(e.Events)/e.RawSeconds), "the ceiling; "+e.RawCPU.describe("load generator"))
	}
	s := r.Sweep
	if s.Seconds > 0 {
		row(tw, "sweep of due expiries (the store's Sweep, as lockbox-audit runs it)", fmt.Sprintf("%d expired", s.Expired), fmt.Sprintf("%.3f", s.Seconds),
			fmt.Sprintf("%.0f", float64(s.Expired)/s.Seconds), fmt.Sprintf("batches of %d, heap peak +%.1f MB", s.Batch, s.PeakHeapMB))
	}
	if a := r.Audit; a.Seconds > 0 {
		row(tw, "lockbox-audit calls over everything left", fmt.Sprintf("%d events, %d objects, %d tenants, %d calls", a.Exported, a.Objects, a.Tenants, a.Calls), fmt.Sprintf("%.3f", a.Seconds),
			fmt.Sprintf("%.0f events", float64(a.Exported)/a.Seconds), "after the load runs")
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail

	notifySection(&b, r)
	activitySection(&b, r)

	fmt.Fprintf(&b, "\n### Function processes\n\n")
	tw = table(&b, "function", "start-up ms (median)", "start-up ms (max)", "RSS MB after first call", "RSS MB after the run", "peak RSS MB")
	for _, f := range r.Functions {
		row(tw, f.Name, fmt.Sprintf("%.1f", f.StartupMs), fmt.Sprintf("%.1f", f.StartupMaxMs), fmt.Sprintf("%.1f", f.StartRSSMB),
			fmt.Sprintf("%.1f", f.RSSMB), fmt.Sprintf("%.1f", f.PeakRSSMB))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
	return b.String()
}

// redisCeiling is the Redis run an op's HTTP run is divided by: its own,
// but create's for intake (the same store call: one request filed, with
// the delivery's idempotency key besides), and none ("") for the portal,
// whose page is a session read besides a list.
func redisCeiling(op string) string {
	switch op {
	case "intake":
		return "create"
	case "portal", "noop", "noopcheck":
		return ""
	}
	return op
}

// ratiosSection renders each op's throughput over the no-op's and its
// Redis ceiling's at each concurrency.
func ratiosSection(b *bytes.Buffer, r *Report) {
	fmt.Fprintf(b, "\n### Ratios at each concurrency\n\n")
	if slices.ContainsFunc(r.Runs, func(x Run) bool { return x.Op == "intake" }) {
		fmt.Fprintf(b, "`intake` has no Redis run of its own: its Redis ceiling is `create`'s (redis/create), the same store call filing one request (intake's also records the delivery's idempotency key). `portal` has none (—): its page is a session read besides the list.\n\n")
	}
	if slices.ContainsFunc(r.Runs, func(x Run) bool { return slices.Contains(checkOps, x.Op) }) {
		fmt.Fprintf(b, "`check` and `checkdenied` are divided by `noopcheck`, the no-op called with the check's own request.\n\n")
	}
	tw := table(b, "op", "conc", "calls/s ÷ no-op", "calls/s ÷ Redis ceiling")
	for _, op := range loadOps() {
		for _, c := range r.Plan.Concurrency {
			h, ok1 := r.run(op, "http", c)
			n, ok2 := r.run(noopOf(op), "http", c)
			if op == "noop" || op == "noopcheck" || !ok1 || !ok2 {
				continue
			}
			ceiling := "—"
			if d, ok := r.run(redisCeiling(op), "redis", c); ok {
				ceiling = fmt.Sprintf("%.2f", h.Throughput/d.Throughput)
			}
			row(tw, op, fmt.Sprint(c), fmt.Sprintf("%.2f", h.Throughput/n.Throughput), ceiling)
		}
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
}

// checkSection renders lockbox-check's runs beside the no-op called with
// the same request and beside the same Redis call.
func checkSection(b *bytes.Buffer, r *Report) {
	if !slices.ContainsFunc(r.Runs, func(x Run) bool { return slices.Contains(checkOps, x.Op) }) {
		return
	}
	fmt.Fprintf(b, "\n### lockbox-check beside the no-op and its Redis call\n\n")
	fmt.Fprintf(b, "The auth subrequest a proxy sends before an engineer's call: `GET` with the engineer's token, `X-Lockbox-Tenant`, `X-Lockbox-Resource` and `X-Original-Method`/`-URI`, no body. %d engineers each hold one live grant (two resources, Read); `check` asks for one of the grant's resources (200), `checkdenied` for a resource none names (403 NoGrant, recorded at most once per engineer, resource and minute). The no-op is `bench-noop` called with the same request, in the same run; the Redis call is the store's check (one EVALSHA of the check script with the same keys and arguments) from the load generator. CPU is milliseconds per call. The bars (at %d): function CPU ≤ %.0f× the no-op's, p99 within %.0f ms of the no-op's, one round trip.\n\n",
		checkEngineers, checkBarConc, checkCPUBar, checkP99BarMs)
	tw := table(b, "op", "conc", "calls/s", "÷ no-op", "÷ Redis call", "p50 ms", "p99 ms", "no-op p99 ms", "p99 − no-op's ms",
		"function CPU ms", "no-op CPU ms", "CPU ÷ no-op's", "Redis call p99 ms", "round trips")
	for _, op := range checkOps {
		for _, c := range r.Plan.Concurrency {
			h, ok1 := r.run(op, "http", c)
			n, ok2 := r.run(noopOf(op), "http", c)
			if !ok1 || !ok2 {
				continue
			}
			redisTput, redisP99 := "—", "—"
			if d, ok := r.run(op, "redis", c); ok {
				redisTput, redisP99 = fmt.Sprintf("%.2f", h.Throughput/d.Throughput), fmt.Sprintf("%.3f", d.Latency.P99)
			}
			cpuRatio := "—"
			if n.FunctionCPUPer1k > 0 {
				cpuRatio = fmt.Sprintf("%.2f", h.FunctionCPUPer1k/n.FunctionCPUPer1k)
			}
			row(tw, op, fmt.Sprint(c), fmt.Sprintf("%.0f", h.Throughput), fmt.Sprintf("%.2f", h.Throughput/n.Throughput), redisTput,
				fmt.Sprintf("%.3f", h.Latency.P50), fmt.Sprintf("%.3f", h.Latency.P99), fmt.Sprintf("%.3f", n.Latency.P99),
				fmt.Sprintf("%+.3f", h.Latency.P99-n.Latency.P99), fmt.Sprintf("%.3f", h.FunctionCPUPer1k), fmt.Sprintf("%.3f", n.FunctionCPUPer1k),
				cpuRatio, redisP99, fmt.Sprintf("%.2f", h.RoundTrips))
		}
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
}

// credentialSection renders lockbox-credential's certificates per second.
func credentialSection(b *bytes.Buffer, r *Report) {
	if !slices.ContainsFunc(r.Runs, func(x Run) bool { return x.Op == "credential" }) {
		return
	}
	fmt.Fprintf(b, "\n### lockbox-credential: certificates per second\n\n")
	fmt.Fprintf(b, "Each call is an engineer's `POST` (token, `{\"tenantId\", \"requestId\", \"publicKey\"}` with an Ed25519 key of their own) under their live grant, answered with a signed certificate (Ed25519 CA), end to end through the function. The Redis call is the store's step alone (the grant checked live, the issue counted and recorded), with no signing. CPU is milliseconds per certificate.\n\n")
	tw := table(b, "conc", "certificates/s", "p50 ms", "p99 ms", "function CPU ms", "client CPU ms", "Redis CPU ms", "Redis call alone, calls/s", "round trips")
	for _, c := range r.Plan.Concurrency {
		h, ok := r.run("credential", "http", c)
		if !ok {
			continue
		}
		direct := "—"
		if d, ok := r.run("credential", "redis", c); ok {
			direct = fmt.Sprintf("%.0f", d.Throughput)
		}
		row(tw, fmt.Sprint(c), fmt.Sprintf("%.0f", h.Throughput), fmt.Sprintf("%.3f", h.Latency.P50), fmt.Sprintf("%.3f", h.Latency.P99),
			fmt.Sprintf("%.3f", h.FunctionCPUPer1k), fmt.Sprintf("%.3f", h.ClientCPUPer1k), fmt.Sprintf("%.3f", h.RedisCPUPer1k), direct,
			fmt.Sprintf("%.2f", h.RoundTrips))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
}

// nginxSection renders nginx with and without auth_request, or why it was
// not measured.
func nginxSection(b *bytes.Buffer, r *Report) {
	ng := r.Nginx
	if ng.Skipped == "" && len(ng.Runs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### nginx auth_request to lockbox-check\n\n")
	if ng.Skipped != "" {
		fmt.Fprintf(b, "Not measured: %s.\n", ng.Skipped)
		return
	}
	fmt.Fprintf(b, "nginx %s (%d workers) proxies the no-op function on two ports alike (HTTP/1.1 kept alive): `plain`, and `auth_request`, which first sends the engineer's call to lockbox-check as a subrequest (token passed through, tenant and resource set by the configuration, no body). The load generator sends `GET` with the engineer's token to both, in %d turns each per concurrency (%d calls per side after %d warm-up calls). CPU is milliseconds per call.\n\n",
		ng.Version, ng.Workers, nginxRounds, r.Plan.Ops, r.Plan.Warmup)
	tw := table(b, "conc", "path", "calls/s", "p50 ms", "p99 ms", "p99.9 ms", "nginx CPU ms", "lockbox-check CPU ms", "upstream CPU ms", "client CPU ms", "Redis CPU ms", "round trips")
	for _, x := range ng.Runs {
		row(tw, fmt.Sprint(x.Concurrency), x.Path, fmt.Sprintf("%.0f", x.Throughput), fmt.Sprintf("%.3f", x.Latency.P50),
			fmt.Sprintf("%.3f", x.Latency.P99), fmt.Sprintf("%.3f", x.Latency.P999), fmt.Sprintf("%.3f", x.NginxCPUPer1k),
			fmt.Sprintf("%.3f", x.CheckCPUPer1k), fmt.Sprintf("%.3f", x.UpstreamCPUPer1k), fmt.Sprintf("%.3f", x.ClientCPUPer1k),
			fmt.Sprintf("%.3f", x.RedisCPUPer1k), fmt.Sprintf("%.2f", x.RoundTrips))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
	fmt.Fprintf(b, "\nWhat auth_request adds:\n\n")
	tw = table(b, "conc", "p50 added ms", "p99 added ms", "calls/s ÷ plain")
	for _, c := range r.Plan.Concurrency {
		g, ok1 := r.nginxRun(nginxGuarded, c)
		p, ok2 := r.nginxRun(nginxPlain, c)
		if !ok1 || !ok2 {
			continue
		}
		row(tw, fmt.Sprint(c), fmt.Sprintf("%+.3f", g.Latency.P50-p.Latency.P50), fmt.Sprintf("%+.3f", g.Latency.P99-p.Latency.P99),
			fmt.Sprintf("%.2f", g.Throughput/p.Throughput))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
}

// notifySection renders lockbox-notify's runs beside their ceilings.
func notifySection(b *bytes.Buffer, r *Report) {
	if len(r.Notify) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Notifications: lockbox-notify beside direct sends\n\n")
	fmt.Fprintf(b, "Requests filed in tenants with %d approvers and one standard webhook, three deliveries each: a mail per approver (SMTP, one connection per mail) and a signed webhook, to receivers in the load generator (an SMTP server, an HTTP endpoint answering 204). `lockbox-notify` is called as the cron-connector calls it until all is sent; it works on up to %d tenants at once and sends up to %d of each tenant's deliveries at once. The ceiling is the same senders, configured alike, sending as many messages rendered beforehand straight to the same receivers, as many at once (the mails, then the webhooks). mails/s and webhooks/s count each channel over the whole run; CPU is seconds per 1,000 deliveries.\n\n",
		len(notifyApprovers), notify.Workers, notify.Senders)
	tw := table(b, "sender", "tenants", "at once", "mails", "webhooks", "calls", "seconds", "deliveries/s", "mails/s", "webhooks/s", "÷ ceiling", "CPU s/1k deliveries")
	for _, n := range r.Notify {
		c := n.Ceiling
		row(tw, "lockbox-notify", fmt.Sprint(n.Tenants), fmt.Sprint(n.Concurrency), fmt.Sprint(n.Mails), fmt.Sprint(n.Webhooks), fmt.Sprint(n.Calls),
			fmt.Sprintf("%.3f", n.Seconds), fmt.Sprintf("%.0f", n.Throughput()), fmt.Sprintf("%.0f", rate(n.Mails, n.Seconds)),
			fmt.Sprintf("%.0f", rate(n.Webhooks, n.Seconds)), fmt.Sprintf("%.2f", n.Throughput()/c.Throughput()),
			fmt.Sprintf("function %.3f, Redis %.3f, receivers %.3f", n.FunctionCPUPer1k, n.RedisCPUPer1k, n.ReceiverCPUPer1k))
		row(tw, "direct sends (ceiling)", fmt.Sprint(n.Tenants), fmt.Sprint(n.Concurrency), fmt.Sprint(c.Mails), fmt.Sprint(c.Webhooks), "—",
			fmt.Sprintf("%.3f", c.Seconds()), fmt.Sprintf("%.0f", c.Throughput()), fmt.Sprintf("%.0f", rate(c.Mails, c.Seconds())),
			fmt.Sprintf("%.0f", rate(c.Webhooks, c.Seconds())), "—", fmt.Sprintf("load generator (senders and receivers) %.3f", c.ClientCPUPer1k))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
	fmt.Fprintf(b, "\nThe ceiling's channels alone, per send:\n\n")
	tw = table(b, "at once", "mail p50 ms", "mail p99 ms", "mails/s alone", "webhook p50 ms", "webhook p99 ms", "webhooks/s alone")
	for _, n := range r.Notify {
		c := n.Ceiling
		row(tw, fmt.Sprint(n.Concurrency), fmt.Sprintf("%.3f", c.MailLatency.P50), fmt.Sprintf("%.3f", c.MailLatency.P99),
			fmt.Sprintf("%.0f", rate(c.Mails, c.MailSeconds)), fmt.Sprintf("%.3f", c.WebhookLatency.P50), fmt.Sprintf("%.3f", c.WebhookLatency.P99),
			fmt.Sprintf("%.0f", rate(c.Webhooks, c.WebhookSeconds)))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
}

// activitySection renders lockbox-activity's runs beside their ceilings.
func activitySection(b *bytes.Buffer, r *Report) {
	a := r.Activity
	if len(a.Runs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Activity log: lockbox-activity beside its S3 reads\n\n")
	var archives []string
	for _, x := range a.Archives {
		archives = append(archives, fmt.Sprintf("%s: %d events in %d objects", days(x.Days), x.Events, x.Objects))
	}
	fmt.Fprintf(b, "Archives (%s) of a request every %s decided %s later, each event in an object of its own, as lockbox-audit running every minute archives a tenant this quiet. `http` is `lockbox-activity` called over loopback with a reader's token; `s3` is the same page's List and Get calls alone, one after another, from the load generator with the same S3 client (the ceiling). %d pages per run after %d of each query; pages of 50. CPU is milliseconds per page.\n\n",
		strings.Join(archives, "; "), span(archiveEvery), span(archiveDecideAfter), r.Plan.ActivityOps, activityWarmup)
	tw := table(b, "query", "conc", "path", "pages/s", "p50 ms", "p99 ms", "p99.9 ms", "events", "S3 lists + gets", "function CPU ms", "client CPU ms", "MinIO CPU ms")
	for _, x := range a.Runs {
		fnCPU := "—"
		if x.Path == "http" {
			fnCPU = fmt.Sprintf("%.2f", x.FunctionCPUMs)
		}
		row(tw, x.describe(), fmt.Sprint(x.Concurrency), x.Path, fmt.Sprintf("%.0f", x.Throughput), fmt.Sprintf("%.3f", x.Latency.P50),
			fmt.Sprintf("%.3f", x.Latency.P99), fmt.Sprintf("%.3f", x.Latency.P999), fmt.Sprint(x.Events), fmt.Sprintf("%d + %d", x.Lists, x.Gets),
			fnCPU, fmt.Sprintf("%.2f", x.ClientCPUMs), fmt.Sprintf("%.2f", x.MinIOCPUMs))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
	fmt.Fprintf(b, "\n")
	tw = table(b, "query", "conc", "pages/s ÷ S3 reads", "p50 ÷ S3 reads'", "p99 ÷ S3 reads'")
	for _, x := range a.Runs {
		if x.Path != "http" {
			continue
		}
		if c, ok := r.activityRun(x.Query, x.Days, "s3", x.Concurrency); ok {
			row(tw, x.describe(), fmt.Sprint(x.Concurrency), fmt.Sprintf("%.2f", x.Throughput/c.Throughput),
				fmt.Sprintf("%.2f", x.Latency.P50/c.Latency.P50), fmt.Sprintf("%.2f", x.Latency.P99/c.Latency.P99))
		}
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
}

// days writes n days.
func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// span writes 2h0m0s as 2 h and 45m0s as 45 min.
func span(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return fmt.Sprintf("%d min", d/time.Minute)
}

// table starts a Markdown table with aligned columns.
func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	row(tw, header...)
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---"
	}
	row(tw, seps...)
	return tw
}

func row(tw *tabwriter.Writer, cells ...string) {
	fmt.Fprintf(tw, "| %s |\n", strings.Join(cells, "\t "))
}

// Markers around the generated part of the doc.
const (
	beginMarker = "<!-- bench:begin (generated by make bench; edit around it) -->"
	endMarker   = "<!-- bench:end -->"
)

// spliceDoc replaces the text between the markers of path with the report.
func spliceDoc(path string, r *Report) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q ... %q section", path, beginMarker, endMarker)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	out := s[:i+len(beginMarker)] + "\n" + markdown(r) + "\n" + s[j:]
	return os.WriteFile(path, []byte(out), info.Mode().Perm())
}
