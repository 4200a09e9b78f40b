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
	Op          string    `json:"op"`   // one of transitionOps, list or noop
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
	Exported int     `json:"exported"`
	Objects  int     `json:"objects"`
	Expired  int     `json:"expired"`
	Tenants  int     `json:"tenants"`
	Seconds  float64 `json:"seconds"`
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
	fmt.Fprintf(&b, "%d measured calls per run (list: %d) after %d warm-up calls. `http` is the function called over loopback; `redis` is the same store call sent straight to Redis by the same client (the Redis ceiling); `noop` is a function of no work built with the same template (the HTTP ceiling). CPU is seconds per 1,000 calls of the function process, of the load generator (the client: for `redis`, the client is the whole work besides Redis) and of redis-server; the three share the machine's cores. Round trips are client reads Redis processed per call.\n\n", r.Plan.Ops, r.Plan.ListOps, r.Plan.Warmup)
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

	fmt.Fprintf(&b, "\n### Ratios at each concurrency\n\n")
	tw = table(&b, "op", "conc", "calls/s ÷ no-op", "calls/s ÷ Redis ceiling")
	for _, op := range append(slices.Clone(transitionOps), "list") {
		for _, c := range r.Plan.Concurrency {
			h, ok1 := r.run(op, "http", c)
			n, ok2 := r.run("noop", "http", c)
			d, ok3 := r.run(op, "redis", c)
			if ok1 && ok2 && ok3 {
				row(tw, op, fmt.Sprint(c), fmt.Sprintf("%.2f", h.Throughput/n.Throughput), fmt.Sprintf("%.2f", h.Throughput/d.Throughput))
			}
		}
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail

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
		row(tw, "lockbox-audit call over everything left", fmt.Sprintf("%d events, %d objects, %d tenants", a.Exported, a.Objects, a.Tenants), fmt.Sprintf("%.3f", a.Seconds),
			fmt.Sprintf("%.0f events", float64(a.Exported)/a.Seconds), "after the load runs")
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail

	fmt.Fprintf(&b, "\n### Function processes\n\n")
	tw = table(&b, "function", "start-up ms (median)", "start-up ms (max)", "RSS MB after first call", "RSS MB after the run", "peak RSS MB")
	for _, f := range r.Functions {
		row(tw, f.Name, fmt.Sprintf("%.1f", f.StartupMs), fmt.Sprintf("%.1f", f.StartupMaxMs), fmt.Sprintf("%.1f", f.StartRSSMB),
			fmt.Sprintf("%.1f", f.RSSMB), fmt.Sprintf("%.1f", f.PeakRSSMB))
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
	return b.String()
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
