package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"lockbox.dev/scripts/internal/fnbuild"
	"lockbox.dev/scripts/internal/stack"
)

// The comparison (-compare dir, make bench-compare BASE=<commit>) measures
// this tree's lockbox-create, -approve and -deny beside the same functions
// of another checkout, both running at once on one redis-server and called
// alike over HTTP. The two sides alternate in short runs, round after
// round, and each round's ratio is taken from two runs seconds apart: on a
// shared machine whose speed drifts by half within minutes, separate
// benchmark runs cannot tell a change of 10%, adjacent runs can.

// compareOps are the load runs compared.
var compareOps = []string{"create", "approve", "deny"}

// compareConcurrency is the concurrency compared, the one the throughput
// targets name.
const compareConcurrency = 32

// CompareReport is what a comparison measured.
type CompareReport struct {
	Base        string           `json:"base"` // the other checkout
	Rounds      int              `json:"rounds"`
	Ops         int              `json:"opsPerRun"`
	Concurrency int              `json:"concurrency"`
	Machine     Machine          `json:"machine"`
	Runs        []CompareRun     `json:"runs"`
	Summary     []CompareSummary `json:"summary"`
}

// CompareRun is one measured run of one side.
type CompareRun struct {
	Round int    `json:"round"`
	Side  string `json:"side"` // "base" or "this"
	Run
}

// CompareSummary sums up one op over the rounds.
type CompareSummary struct {
	Op string `json:"op"`
	// Median calls per second of each side.
	Base float64 `json:"baseThroughput"`
	This float64 `json:"thisThroughput"`
	// Ratio is the median over the rounds of this side's throughput over
	// the base's in the same round; Min and Max bound it.
	Ratio    float64 `json:"ratio"`
	MinRatio float64 `json:"minRatio"`
	MaxRatio float64 `json:"maxRatio"`
	// Median CPU milliseconds per call: function, load generator and
	// redis-server together.
	BaseCPUms float64 `json:"baseCpuMsPerCall"`
	ThisCPUms float64 `json:"thisCpuMsPerCall"`
}

// side is one checkout's functions.
type side struct {
	name string
	st   *stack.Stack
	fns  map[string]*proc
}

// compare runs the comparison with baseDir's functions.
func compare(stackFile, baseDir, minioBin string, rounds, ops int, log *slog.Logger) (*CompareReport, error) {
	b, err := setUp(plan{Warmup: max(ops/10, 50)}, stackFile, minioBin, log)
	ok := false
	defer func() { b.close(ok) }()
	if err != nil {
		return nil, err
	}
	baseStack, err := stack.Load(filepath.Join(baseDir, "stack.yml"), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("the base checkout: %w", err)
	}
	// Changes nudge lockbox-notify, as in make bench (base's functions may
	// predate nudges).
	if b.nudges, err = startNudgeSink(); err != nil {
		return nil, err
	}
	b.nudgeURL = b.nudges.url
	sides := []*side{{name: "base", st: baseStack}, {name: "this", st: b.st}}
	names := make([]string, len(compareOps))
	for i, op := range compareOps {
		names[i] = opFunction[op]
	}
	for _, s := range sides {
		bins, err := buildNamed(s.st, names, log)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", s.name, err)
		}
		s.fns = map[string]*proc{}
		for _, name := range names {
			p, _, err := b.startFunctionOf(s.st, bins[name], name, s.name+"-"+name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			s.fns[name] = p
			b.fns[s.name+"-"+name] = p // stopped with the rest
		}
	}
	if b.lg, err = startLoadgen(b.dir); err != nil {
		return nil, err
	}

	rep := &CompareReport{Base: baseDir, Rounds: rounds, Ops: ops, Concurrency: compareConcurrency, Machine: b.rep.Machine}
	for round := range rounds {
		for _, op := range compareOps {
			order := []*side{sides[0], sides[1]}
			if round%2 == 1 {
				order = []*side{sides[1], sides[0]}
			}
			for _, s := range order {
				run, err := b.compareRun(s, op, ops)
				if err != nil {
					return nil, fmt.Errorf("%s %s, round %d: %w", s.name, op, round+1, err)
				}
				rep.Runs = append(rep.Runs, CompareRun{Round: round + 1, Side: s.name, Run: run})
				log.Info("run", "round", round+1, "side", s.name, "op", op, "ops/s", fmt.Sprintf("%.0f", run.Throughput))
			}
		}
	}
	rep.Summary = summarize(rep.Runs)
	ok = true
	return rep, nil
}

// buildNamed builds the functions names of st as their images are built.
func buildNamed(st *stack.Stack, names []string, log *slog.Logger) (map[string]string, error) {
	fns := make([]stack.Function, 0, len(names))
	for _, name := range names {
		fn, ok := st.Functions[name]
		if !ok {
			return nil, fmt.Errorf("%s has no %s", st.Path("stack.yml"), name)
		}
		fns = append(fns, fn)
	}
	builder := &fnbuild.Builder{Stack: st, Dir: st.Path(".data/build")}
	return builder.BuildAll(fns, log)
}

// compareRun measures op on one side: creates of tenants of their own, or
// decisions of requests that side's lockbox-create filed, so that each
// side decides on records its own code wrote.
func (b *bench) compareRun(s *side, op string, n int) (Run, error) {
	fn := s.fns[opFunction[op]]
	warm, measured := b.plan.Warmup, n
	var items []Item
	var err error
	if op == "create" {
		items, err = b.items(op, "http", compareConcurrency, warm+measured, readTenants{})
	} else {
		items, err = b.fileVia(s.fns["lockbox-create"], warm+measured)
	}
	if err != nil {
		return Run{}, err
	}
	j := Job{Op: op, Path: "http", Concurrency: compareConcurrency, RedisURL: b.redis.clientURL(), SecretsDir: b.secrets,
		URL: "http://" + fn.addr}
	return b.measureRun(j, fn, items[:warm], items[warm:])
}

// fileVia files n requests through the lockbox-create fn, 32 at a time, in
// 64 tenants of their own (set-up, not measured), and returns them as items
// for decisions.
func (b *bench) fileVia(fn *proc, n int) ([]Item, error) {
	secret, err := os.ReadFile(filepath.Join(b.secrets, "lockbox-webhook-secret"))
	if err != nil {
		return nil, err
	}
	run := randomHex()[:8]
	items := make([]Item, n)
	client := &http.Client{Timeout: 30 * time.Second}
	err = setUpEach(n, func(i int) error {
		it := Item{Tenant: fmt.Sprintf("bench-cmp-%s-%d", run, i%64), Key: fmt.Sprintf("eng-%d", i)}
		id, err := createVia(client, "http://"+fn.addr, secret, it)
		items[i] = Item{Tenant: it.Tenant, Key: id}
		return err
	})
	return items, err
}

// createVia files the create of it at url, signed with secret, and returns
// the new request's id.
func createVia(client *http.Client, url string, secret []byte, it Item) (string, error) {
	body := createBody(it)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header = signedHeader(secret, body)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create answered %d: %s", resp.StatusCode, out)
	}
	var r struct {
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.RequestID == "" {
		return "", fmt.Errorf("create answered no requestId: %s", out)
	}
	return r.RequestID, nil
}

// summarize sums up the runs per op.
func summarize(runs []CompareRun) []CompareSummary {
	var out []CompareSummary
	for _, op := range compareOps {
		var base, this, ratios, baseCPU, thisCPU []float64
		byRound := map[int]map[string]float64{}
		for _, r := range runs {
			if r.Op != op {
				continue
			}
			cpu := (r.FunctionCPUPer1k + r.ClientCPUPer1k + r.RedisCPUPer1k) // ms per call
			if r.Side == "base" {
				base, baseCPU = append(base, r.Throughput), append(baseCPU, cpu)
			} else {
				this, thisCPU = append(this, r.Throughput), append(thisCPU, cpu)
			}
			if byRound[r.Round] == nil {
				byRound[r.Round] = map[string]float64{}
			}
			byRound[r.Round][r.Side] = r.Throughput
		}
		for _, sides := range byRound {
			if sides["base"] > 0 && sides["this"] > 0 {
				ratios = append(ratios, sides["this"]/sides["base"])
			}
		}
		if len(ratios) == 0 {
			continue
		}
		out = append(out, CompareSummary{Op: op, Base: median(base), This: median(this), Ratio: median(ratios),
			MinRatio: slices.Min(ratios), MaxRatio: slices.Max(ratios), BaseCPUms: median(baseCPU), ThisCPUms: median(thisCPU)})
	}
	return out
}

// median is the median of v (the mean of the middle two for an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printCompare writes the comparison as a table.
func printCompare(w io.Writer, rep *CompareReport) {
	fmt.Fprintf(w, "This tree beside %s: %d rounds of %d calls per function at concurrency %d, the sides alternating.\n\n",
		rep.Base, rep.Rounds, rep.Ops, rep.Concurrency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "op\tbase calls/s\tthis calls/s\tthis/base (median of rounds)\tmin–max\tCPU ms per call, base / this")
	for _, s := range rep.Summary {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f–%.2f\t%.3f / %.3f\n", s.Op, s.Base, s.This, s.Ratio, s.MinRatio, s.MaxRatio,
			s.BaseCPUms, s.ThisCPUms)
	}
	_ = tw.Flush()
}
