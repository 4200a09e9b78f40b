package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/scripts/internal/stack"
	"lockbox.dev/shared/auditjob"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/intake"
	intakefixtures "lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startAll measures each function's start-up (process start to its first
// served call) a few times, then leaves one instance of each running.
func (b *bench) startAll() error {
	for _, name := range slices.Sorted(maps.Keys(b.bins)) {
		var times []time.Duration
		for try := range b.plan.StartupTries {
			p, took, err := b.startFunction(name)
			if err != nil {
				return err
			}
			times = append(times, took)
			if try < b.plan.StartupTries-1 {
				p.stop()
			} else {
				b.fns[name] = p
			}
		}
		slices.Sort(times)
		rss, _, err := memory(b.fns[name].cmd.Process.Pid)
		if err != nil {
			return err
		}
		b.rep.Functions = append(b.rep.Functions, FunctionReport{Name: name,
			StartupMs: ms(times[len(times)/2]), StartupMaxMs: ms(times[len(times)-1]), StartRSSMB: rss})
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// startFunction starts a function on a free port and times it to the end
// of its first served call: a real call of its kind, so that reading its
// configuration and secrets and connecting to Redis are included.
func (b *bench) startFunction(name string) (*proc, time.Duration, error) {
	return b.startFunctionOf(b.st, b.bins[name], name, name)
}

// startFunctionOf is startFunction for the function name of the stack st,
// built as bin, logging to <logName>.log.
func (b *bench) startFunctionOf(st *stack.Stack, bin, name, logName string) (*proc, time.Duration, error) {
	port, err := loopback.FreePort()
	if err != nil {
		return nil, 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	first, want := b.firstCall(name, "http://"+addr)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	t := time.Now()
	p, err := start(logName, bin, nil, b.envOf(st, name, addr), filepath.Join(b.dir, logName+".log"))
	if err != nil {
		return nil, 0, err
	}
	p.addr = addr
	var status int
	err = waitFor(20*time.Second, func() error {
		resp, err := client.Do(first())
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		status = resp.StatusCode
		return nil
	})
	took := time.Since(t)
	if err == nil && status != want {
		err = fmt.Errorf("first call answered %d, want %d", status, want)
	}
	if err != nil {
		p.stop()
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	return p, took, nil
}

// firstCall is the call that proves a function serves, and its status.
func (b *bench) firstCall(name, url string) (func() *http.Request, int) {
	webhook, _ := os.ReadFile(filepath.Join(b.secrets, "lockbox-webhook-secret"))
	jwtKey, _ := os.ReadFile(filepath.Join(b.secrets, "lockbox-jwt-secret"))
	token, _ := auth.Mint(jwtKey, auth.NewClaims("approver-1", "bench-startup", []string{string(lockbox.RoleApprover)}, time.Now(), time.Hour))
	n := 0
	switch name {
	case "lockbox-create":
		return func() *http.Request {
			n++ // every attempt is a delivery of its own
			body := createBody(Item{Tenant: "bench-startup", Key: fmt.Sprintf("eng-%d-%d", time.Now().UnixNano(), n)})
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			r.Header = signedHeader(webhook, body)
			return r
		}, http.StatusCreated
	case "lockbox-approve", "lockbox-deny":
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"requestId":"no-such-request","reason":"start-up probe"}`)))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}, http.StatusNotFound
	case "lockbox-revoke":
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"requestId":"no-such-request","reason":"start-up probe"}`)))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}, http.StatusNotFound
	case "lockbox-cancel":
		return func() *http.Request {
			body := []byte(`{"requestId":"no-such-request","reason":"start-up probe","tenantId":"bench-startup"}`)
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			r.Header = signedHeader(webhook, body)
			return r
		}, http.StatusNotFound
	case "lockbox-settings":
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}, http.StatusOK
	case "lockbox-list":
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url+"?limit=1", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}, http.StatusOK
	case "lockbox-activity":
		reader, _ := auth.Mint(jwtKey, auth.NewClaims("reader-1", "bench-startup", []string{string(lockbox.RoleReader)}, time.Now(), time.Hour))
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url+"?limit=1", nil)
			r.Header.Set("Authorization", "Bearer "+reader)
			return r
		}, http.StatusOK
	case "lockbox-intake":
		// The example Jira source's delivery of a resolved issue, signed as
		// Jira signs it: a close, which finds the ticket's requests (none)
		// in Redis; sent again, it is recognised as a re-delivery.
		return func() *http.Request {
			body, _ := intakefixtures.Body("jira-resolved")
			r, _ := http.NewRequest(http.MethodPost, url+"/jira", bytes.NewReader(body))
			if cfg, err := intake.Load(intakefixtures.Config()); err == nil {
				if src, err := cfg.Source("jira"); err == nil {
					r.Header = src.Sign(body, time.Now())
				}
			}
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusOK
	case "lockbox-portal":
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url+"/login", nil)
			return r
		}, http.StatusOK
	case "lockbox-check":
		// An engineer holding no grant: refused (NoGrant) after the script.
		eng, _ := auth.Mint(jwtKey, auth.NewClaims("eng-startup", providerTenant, []string{string(lockbox.RoleRequester)}, time.Now(), time.Hour))
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url, nil)
			r.Header = checkHeader("Bearer "+eng, Item{Tenant: "bench-startup", Key: "vm-1"})
			return r
		}, http.StatusForbidden
	case "lockbox-lockdown":
		// The tenant's state, read by its admin: the script's read, 200.
		admin, _ := auth.Mint(jwtKey, auth.NewClaims("admin-1", "bench-startup", []string{string(lockbox.RoleAdmin)}, time.Now(), time.Hour))
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("Authorization", "Bearer "+admin)
			return r
		}, http.StatusOK
	case "lockbox-review":
		// The emergency access awaiting review, read by an approver: 200.
		approver, _ := auth.Mint(jwtKey, auth.NewClaims("approver-1", "bench-startup", []string{string(lockbox.RoleApprover)}, time.Now(), time.Hour))
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("Authorization", "Bearer "+approver)
			return r
		}, http.StatusOK
	case "lockbox-metrics":
		// A scrape with the token: every tenant's figures read, 200.
		scrape, _ := os.ReadFile(filepath.Join(b.secrets, "metrics-token"))
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(scrape)))
			return r
		}, http.StatusOK
	case "lockbox-credential":
		// A certificate for a request that does not exist: the key parsed,
		// the script run, 404.
		eng, _ := auth.Mint(jwtKey, auth.NewClaims("eng-startup", providerTenant, []string{string(lockbox.RoleRequester)}, time.Now(), time.Hour))
		body, _ := json.Marshal(lockbox.CredentialInput{TenantID: "bench-startup", RequestID: "no-such-request", PublicKey: startupKey()})
		return func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+eng)
			return r
		}, http.StatusNotFound
	}
	// lockbox-audit and lockbox-notify (the cron-connector's empty POST: a
	// run over every tenant) and the no-op.
	return func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, url, nil)
		return r
	}, http.StatusOK
}

// fill files n pending requests in tenant straight through the store, 32 at
// a time (set-up, not measured), with requester(i) as the requester, and
// returns their ids.
func (b *bench) fill(tenant string, n int, lim lockbox.Limits, requester func(i int) string) ([]string, error) {
	s := b.redis.store(lim)
	ids := make([]string, n)
	err := setUpEach(n, func(i int) error {
		in := createInput(Item{Tenant: tenant, Key: requester(i)})
		r, _, err := s.Create(context.Background(), lockbox.NewRequest(in, lockbox.NewID(), time.Now(), lim), lockbox.CreateOptions{})
		ids[i] = r.RequestID
		return err
	})
	return ids, err
}

// setUpEach runs f for 0..n-1, 32 at a time, and returns the first error.
func setUpEach(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

// opFunction maps a load run's op to the function it calls. Besides the
// plain calls: create5rules files into tenants with five rules configured
// (none matching, so all are evaluated), approve2of2 is the approval that
// completes a two-approver quorum, intake files a Jira delivery
// (intake.go), portal renders the portal's pending page (portal.go);
// check and checkdenied are lockbox-check allowing and refusing, noopcheck
// the no-op called with the same request, credential an SSH certificate
// (binding.go).
var opFunction = map[string]string{"create": "lockbox-create", "create5rules": "lockbox-create", "approve": "lockbox-approve", // #nosec G101 -- op and function names, not credentials
	"approve2of2": "lockbox-approve", "deny": "lockbox-deny", "revoke": "lockbox-revoke", "cancel": "lockbox-cancel",
	"list": "lockbox-list", "intake": "lockbox-intake", "portal": "lockbox-portal", "noop": noop,
	"noopcheck": noop, "check": "lockbox-check", "checkdenied": "lockbox-check", "credential": "lockbox-credential"}

// transitionOps are the load runs that change a request, in report order.
var transitionOps = []string{"create", "create5rules", "approve", "approve2of2", "deny", "revoke", "cancel"}

// checkOps are lockbox-check's load runs, each held to the no-op called
// with the same request (noopcheck).
var checkOps = []string{"check", "checkdenied"}

// loadOps are the load runs of each concurrency, in run and report order:
// the no-op, the transitions with intake next to create (both file a
// request), then list and the portal's page (both read a page of 50), then
// the binding's: the no-op called as lockbox-check is, the checks right
// after it, and the certificates.
func loadOps() []string {
	ops := []string{"noop"}
	for _, op := range transitionOps {
		ops = append(ops, op)
		if op == "create" {
			ops = append(ops, "intake")
		}
	}
	ops = append(ops, "list", "portal", "noopcheck")
	return append(append(ops, checkOps...), "credential")
}

// loadPaths are the paths an op is measured over: HTTP, and straight to
// Redis for the ops with a store call of their own (not the no-ops, intake
// or the portal; report.go compares intake with create's Redis run).
func loadPaths(op string) []string {
	switch op {
	case "noop", "noopcheck", "intake", "portal":
		return []string{"http"}
	}
	return []string{"http", "redis"}
}

// readTenants are what the load runs share, prepared once: lockbox-list's
// tenant of 1,000 requests, the portal's session in a tenant of
// portalStored, and the live grants the checks and certificates are asked
// under.
type readTenants struct {
	list   string
	portal portalSession
	grants grantSet
}

// configure saves settings in tenant straight through the store (set-up).
func (b *bench) configure(tenant string, f func(s *lockbox.Settings)) error {
	s := b.redis.store(lockbox.DefaultLimits)
	set := lockbox.DefaultSettings(true)
	f(&set)
	_, err := s.PutSettings(context.Background(), tenant, set, 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "bench-admin"}, "bench", time.Now())
	return err
}

// fiveRules are five rules no benchmark request matches: every create
// evaluates them all.
func fiveRules(s *lockbox.Settings) {
	for i := range 5 {
		s.Rules = append(s.Rules, lockbox.Rule{Name: fmt.Sprintf("rule-%d", i), Effect: lockbox.EffectAutoDeny,
			Match: lockbox.RuleMatch{ResourceTypes: []string{fmt.Sprintf("other-%d", i)}, AccessLevels: []string{"Admin"}}})
	}
}

// act applies an action to ids of tenant straight through the store
// (set-up), as by.
func (b *bench) act(tenant string, ids []string, action lockbox.Action, by string) error {
	s := b.redis.store(lockbox.DefaultLimits)
	for _, id := range ids {
		if _, err := s.Act(context.Background(), tenant, id, lockboxtest.Decision(action, by, "bench set-up", nil, time.Now())); err != nil {
			return err
		}
	}
	return nil
}

// loadRuns runs every op at every concurrency, over HTTP and (for the Lockbox
// ops with a store call of their own) straight to Redis.
func (b *bench) loadRuns() error {
	read := readTenants{list: "bench-list-1000"}
	if _, err := b.fill(read.list, 1000, lockbox.DefaultLimits, func(i int) string { return fmt.Sprintf("eng-%d", i) }); err != nil {
		return err
	}
	var err error
	if read.portal, err = b.portalSetup(); err != nil {
		return err
	}
	if read.grants, err = b.grantSetup("bench-check"); err != nil {
		return err
	}
	for _, c := range b.plan.Concurrency {
		for _, op := range loadOps() {
			for _, path := range loadPaths(op) {
				run, err := b.loadRun(op, path, c, read)
				if err != nil {
					return fmt.Errorf("%s/%s at %d: %w", op, path, c, err)
				}
				b.rep.Runs = append(b.rep.Runs, run)
				b.log.Info("run", "op", op, "path", path, "concurrency", c, "ops/s", fmt.Sprintf("%.0f", run.Throughput),
					"p99ms", fmt.Sprintf("%.2f", run.Latency.P99))
			}
		}
	}
	return nil
}

// items prepares the calls of one run: creates spread over 64 tenants,
// each by an engineer of its own; intake deliveries likewise, each an
// issue of its own; decisions of requests filed for them; list pages of
// the 1,000-request tenant; the portal's page of its tenant.
func (b *bench) items(op, path string, c, n int, read readTenants) ([]Item, error) {
	items := make([]Item, n)
	run := fmt.Sprintf("%s-%s-c%d-%s", op, path, c, randomHex()[:6])
	switch op {
	case "create", "noop":
		for i := range items {
			items[i] = Item{Tenant: fmt.Sprintf("bench-%s-%d", run, i%64), Key: fmt.Sprintf("eng-%d", i)}
		}
	case "intake":
		// The key is the reporter's (eng-<key>@support.example) and the
		// issue's (ACC-<key>); the tenants are the run's own.
		for i := range items {
			items[i] = Item{Tenant: fmt.Sprintf("bench-%s-%d", run, i%64), Key: strconv.Itoa(i + 1)}
		}
	case "create5rules":
		// The same 64 configured tenants for the warm-up and the run, so
		// that the settings are known to the function and the client.
		for i := range items {
			items[i] = Item{Tenant: fmt.Sprintf("bench-rules-%s-c%d-%d", path, c, i%64), Key: fmt.Sprintf("eng-%s-%d", run, i)}
		}
	case "approve", "deny", "revoke", "cancel", "approve2of2":
		for t := range 64 {
			tenant := fmt.Sprintf("bench-%s-%d", run, t)
			if op == "approve2of2" {
				if err := b.configure(tenant, func(s *lockbox.Settings) { s.RequiredApprovals = 2 }); err != nil {
					return nil, err
				}
			}
			count := (n - t + 63) / 64
			ids, err := b.fill(tenant, count, lockbox.DefaultLimits, func(i int) string { return fmt.Sprintf("eng-%d", i) })
			if err != nil {
				return nil, err
			}
			switch op {
			case "revoke": // a live grant to end
				err = b.act(tenant, ids, lockbox.ActionApprove, "approver-0")
			case "approve2of2": // the first of two approvals
				err = b.act(tenant, ids, lockbox.ActionApprove, "approver-0")
			}
			if err != nil {
				return nil, err
			}
			for i, id := range ids {
				items[t+64*i] = Item{Tenant: tenant, Key: id}
			}
		}
	case "list":
		for i := range items {
			items[i] = Item{Tenant: read.list}
		}
	case "portal":
		for i := range items {
			items[i] = Item{Tenant: read.portal.Tenant}
		}
	case "check", "noopcheck":
		items = read.grants.checkItems(n, true)
	case "checkdenied":
		items = read.grants.checkItems(n, false)
	case "credential":
		items = read.grants.credentialItems(n)
	}
	return items, nil
}

// loadRun warms up, then runs one measured load run and reads the CPU and
// Redis counters around it.
func (b *bench) loadRun(op, path string, c int, read readTenants) (Run, error) {
	j := Job{Op: op, Path: path, Concurrency: c, RedisURL: b.redis.clientURL(), SecretsDir: b.secrets}
	fn := b.fns[opFunction[op]]
	if path == "http" {
		j.URL = "http://" + fn.addr
	}
	if op == "portal" {
		j.Cookie = read.portal.Cookie
	}
	if op == "create5rules" {
		for t := range 64 {
			if err := b.configure(fmt.Sprintf("bench-rules-%s-c%d-%d", path, c, t), fiveRules); err != nil {
				return Run{}, err
			}
		}
	}
	warm, err := b.items(op, path, c, b.plan.Warmup, read)
	if err != nil {
		return Run{}, err
	}
	n := b.plan.Ops
	if op == "list" || op == "portal" { // a page costs ten times a transition
		n = b.plan.ListOps
	}
	measured, err := b.items(op, path, c, n, read)
	if err != nil {
		return Run{}, err
	}
	return b.measureRun(j, fn, warm, measured)
}

// measureRun has the load generator warm up with warm, then run measured
// (the job j otherwise), and reads the CPU and Redis counters around the
// measured run; fn is the function called over HTTP.
func (b *bench) measureRun(j Job, fn *proc, warm, measured []Item) (Run, error) {
	op, path, c := j.Op, j.Path, j.Concurrency
	j.Items = warm
	if o, err := b.lg.do(j); err != nil || o.Errors > 0 {
		return Run{}, fmt.Errorf("warm-up: %v %s", err, o.FirstError)
	}

	ctx := context.Background()
	fnPid := 0
	if path == "http" {
		fnPid = fn.cmd.Process.Pid
	}
	c0, err := b.cpu(ctx, fnPid)
	if err != nil {
		return Run{}, err
	}
	j.Items = measured
	o, err := b.lg.do(j)
	if err != nil {
		return Run{}, err
	}
	c1, err := b.cpu(ctx, fnPid)
	if err != nil {
		return Run{}, err
	}
	if o.Errors > 0 {
		return Run{}, fmt.Errorf("%d of %d calls failed, the first: %s", o.Errors, o.Ops, o.FirstError)
	}
	per1k := 1000 / float64(o.Ops)
	perOp := 1 / float64(o.Ops)
	rs0, rs1 := c0.stats, c1.stats
	r := Run{Op: op, Path: path, Concurrency: c, Ops: o.Ops, Seconds: o.Seconds, Throughput: float64(o.Ops) / o.Seconds,
		Latency: o.Latencies, FunctionCPUPer1k: (c1.function - c0.function) * per1k, ClientCPUPer1k: (c1.client - c0.client) * per1k,
		RedisCPUPer1k: (c1.redis - c0.redis) * per1k,
		// The second INFO's own read is in the count.
		RoundTrips: (rs1.reads - rs0.reads - 1) * perOp, Commands: map[string]float64{}}
	for name, calls := range rs1.commands {
		if name == "info" {
			continue
		}
		if d := calls - rs0.commands[name]; d > 0 {
			r.Commands[name] = d * perOp
		}
	}
	return r, nil
}

// cpuTimes are the CPU seconds used so far by the processes of a run.
type cpuTimes struct {
	function, client, redis, minio float64
	stats                          redisStats
}

// cpu reads the CPU time of the function process (pid, 0 for none), the
// load generator, redis-server (from INFO, with its counters) and MinIO.
func (b *bench) cpu(ctx context.Context, pid int) (cpuTimes, error) {
	var t cpuTimes
	var err error
	if pid != 0 {
		if t.function, err = cpuSeconds(pid); err != nil {
			return t, err
		}
	}
	if t.client, err = cpuSeconds(b.lg.pid); err != nil {
		return t, err
	}
	if t.minio, err = cpuSeconds(b.minio.cmd.Process.Pid); err != nil {
		return t, err
	}
	if t.stats, err = b.redis.stats(ctx); err != nil {
		return t, err
	}
	t.redis = t.stats.cpu
	return t, nil
}

// measure has the load generator do j and reads the CPU counters around
// it; pid is the function process's (0 for none).
func (b *bench) measure(j Job, pid int) (Outcome, cpuUse, error) {
	ctx := context.Background()
	c0, err := b.cpu(ctx, pid)
	if err != nil {
		return Outcome{}, cpuUse{}, err
	}
	o, err := b.lg.do(j)
	if err != nil {
		return o, cpuUse{}, err
	}
	c1, err := b.cpu(ctx, pid)
	if err != nil {
		return o, cpuUse{}, err
	}
	return o, c1.used(c0), nil
}

// s3Config is how the load generator reaches this run's archive.
func (b *bench) s3Config() objectstoreCfg {
	return objectstoreCfg{Endpoint: b.minio.endpoint, Bucket: b.bucket, AccessKey: b.minio.user, SecretKey: b.minio.pass}
}

// cpuUse is the CPU seconds each process spent between two readings.
type cpuUse struct{ function, client, redis, minio float64 }

// used is the CPU each process spent from t0 to t.
func (t cpuTimes) used(t0 cpuTimes) cpuUse {
	return cpuUse{function: t.function - t0.function, client: t.client - t0.client, redis: t.redis - t0.redis, minio: t.minio - t0.minio}
}

// since is the CPU used from t0 to t by the client, Redis and MinIO.
func (t cpuTimes) since(t0 cpuTimes) CPUSplit {
	return CPUSplit{Client: t.client - t0.client, Redis: t.redis - t0.redis, MinIO: t.minio - t0.minio}
}

// listRounds is how many rounds list scaling takes turns in.
const listRounds = 5

// listScaling times list pages at concurrency 1 with 1,000, 100,000 and
// 1,000,000 requests stored in the tenant. All tenants are filled first;
// then the sizes take turns, a fifth of the calls each per round, so that
// whatever else the machine does meanwhile falls on every size alike.
func (b *bench) listScaling() error {
	ctx := context.Background()
	tenants := make([]string, len(b.plan.ListStored))
	for i, stored := range b.plan.ListStored {
		tenants[i] = fmt.Sprintf("bench-scale-%d", stored)
		t := time.Now()
		if _, err := b.fill(tenants[i], stored, lockbox.DefaultLimits, func(i int) string { return fmt.Sprintf("eng-%d", i%10_000) }); err != nil {
			return err
		}
		b.log.Info("filled", "tenant", tenants[i], "requests", stored, "seconds", fmt.Sprintf("%.1f", time.Since(t).Seconds()))
		// The fill's events are set-up, not audit history worth exporting.
		if err := b.redis.store(lockbox.DefaultLimits).ForgetEvents(ctx, tenants[i]); err != nil {
			return err
		}
	}
	call := func(tenant string, n int) (Outcome, error) {
		items := make([]Item, n)
		for i := range items {
			items[i] = Item{Tenant: tenant}
		}
		o, err := b.lg.do(Job{Op: "list", Path: "http", URL: "http://" + b.fns["lockbox-list"].addr, Concurrency: 1, Items: items,
			Raw: true, RedisURL: b.redis.clientURL(), SecretsDir: b.secrets})
		if err == nil && o.Errors > 0 {
			err = fmt.Errorf("list of %s: %s", tenant, o.FirstError)
		}
		return o, err
	}
	for _, tenant := range tenants {
		if _, err := call(tenant, 200); err != nil { // warm-up
			return err
		}
	}
	raw := make([][]time.Duration, len(tenants))
	for range listRounds {
		for i, tenant := range tenants {
			o, err := call(tenant, b.plan.ListOps/listRounds)
			if err != nil {
				return err
			}
			for _, us := range o.Raw {
				raw[i] = append(raw[i], time.Duration(us)*time.Microsecond)
			}
		}
	}
	for i, stored := range b.plan.ListStored {
		b.rep.List = append(b.rep.List, ListScale{Stored: stored, Ops: len(raw[i]), Latency: percentiles(raw[i])})
	}
	return nil
}

// exportRounds is how many times the export and its ceiling are measured,
// taking turns, so that MinIO's own background work falls on both alike.
const exportRounds = 2

// export measures lockbox-audit exporting 100,000 events of one tenant,
// then the load generator writing the same bytes as the same objects with
// plain PutObject; exportRounds times, each with a tenant of its own. It
// runs before the load runs, so that the function has nothing else to
// export.
func (b *bench) export() error {
	if _, err := b.callAuditOK(); err != nil { // the start-up probes' events
		return err
	}
	var total ExportReport
	for round := range exportRounds {
		r, err := b.exportRound(fmt.Sprintf("bench-export-%d", round))
		if err != nil {
			return err
		}
		b.log.Info("export round", "events", r.Events, "seconds", fmt.Sprintf("%.3f", r.Seconds), "rawSeconds", fmt.Sprintf("%.3f", r.RawSeconds))
		total.Events += r.Events
		total.Objects += r.Objects
		total.MB += r.MB
		total.Seconds += r.Seconds
		total.RawSeconds += r.RawSeconds
		total.CPU, total.RawCPU = total.CPU.add(r.CPU), total.RawCPU.add(r.RawCPU)
		total.Rounds = append(total.Rounds, ExportRound{Seconds: r.Seconds, RawSeconds: r.RawSeconds})
	}
	b.rep.Export = total
	return nil
}

// exportRound measures one export of a freshly filled tenant and its
// ceiling.
func (b *bench) exportRound(tenant string) (ExportReport, error) {
	ctx := context.Background()
	audit := b.fns["lockbox-audit"]
	if _, err := b.fill(tenant, b.plan.ExportEvents, lockbox.DefaultLimits, func(i int) string { return fmt.Sprintf("eng-%d", i) }); err != nil {
		return ExportReport{}, err
	}
	c0, err := b.cpu(ctx, audit.cmd.Process.Pid)
	if err != nil {
		return ExportReport{}, err
	}
	t := time.Now()
	s, err := b.callAuditOK()
	if err != nil {
		return ExportReport{}, err
	}
	took := time.Since(t).Seconds()
	c1, err := b.cpu(ctx, audit.cmd.Process.Pid)
	if err != nil {
		return ExportReport{}, err
	}
	if s.Exported != b.plan.ExportEvents {
		return ExportReport{}, fmt.Errorf("lockbox-audit exported %d events, want %d", s.Exported, b.plan.ExportEvents)
	}

	s3 := b.s3Config()
	back, err := b.lg.do(Job{Op: "readback", RedisURL: b.redis.clientURL(), SecretsDir: b.secrets, S3: s3, Tenant: tenant})
	if err != nil || back.FirstError != "" {
		return ExportReport{}, fmt.Errorf("read back: %v %s", err, back.FirstError)
	}
	c2, err := b.cpu(ctx, audit.cmd.Process.Pid)
	if err != nil {
		return ExportReport{}, err
	}
	raw, err := b.lg.do(Job{Op: "rawput", RedisURL: b.redis.clientURL(), SecretsDir: b.secrets, S3: s3, Tenant: tenant})
	if err != nil || raw.FirstError != "" {
		return ExportReport{}, fmt.Errorf("raw PutObject: %v %s", err, raw.FirstError)
	}
	c3, err := b.cpu(ctx, audit.cmd.Process.Pid)
	if err != nil {
		return ExportReport{}, err
	}
	exportCPU, rawCPU := c1.since(c0), c3.since(c2)
	exportCPU.Client, rawCPU.Client = c1.function-c0.function, c3.client-c2.client
	return ExportReport{Events: s.Exported, Objects: back.Objects, MB: float64(back.Bytes) / 1e6, Seconds: took,
		RawSeconds: raw.Seconds, CPU: exportCPU, RawCPU: rawCPU}, nil
}

// sweep files requests with a one-second approval window and, once all are
// due, sweeps them as lockbox-audit does, from the load generator, which
// samples its heap meanwhile.
func (b *bench) sweep() error {
	tenant := "bench-sweep"
	lim := lockbox.DefaultLimits
	lim.PendingTTL = time.Second
	t := time.Now()
	if _, err := b.fill(tenant, b.plan.SweepDue, lim, func(i int) string { return fmt.Sprintf("eng-%d", i) }); err != nil {
		return err
	}
	due := time.Now().Add(lim.PendingTTL + 50*time.Millisecond)
	b.log.Info("filled", "tenant", tenant, "requests", b.plan.SweepDue, "seconds", fmt.Sprintf("%.1f", time.Since(t).Seconds()))
	// The fill's events are set-up, not audit history worth exporting.
	if err := b.redis.store(lim).ForgetEvents(context.Background(), tenant); err != nil {
		return err
	}
	time.Sleep(time.Until(due))
	o, err := b.lg.do(Job{Op: "sweep", RedisURL: b.redis.clientURL(), SecretsDir: b.secrets, Tenant: tenant})
	if err != nil || o.FirstError != "" {
		return fmt.Errorf("sweep: %v %s", err, o.FirstError)
	}
	if o.Count != b.plan.SweepDue {
		return fmt.Errorf("sweep expired %d of %d due requests", o.Count, b.plan.SweepDue)
	}
	b.rep.Sweep = SweepReport{Due: b.plan.SweepDue, Expired: o.Count, Batch: redisstore.DefaultSweepBatch, Seconds: o.Seconds,
		PeakHeapMB: o.PeakHeapMB - o.BaseHeapMB}
	return nil
}

// callAudit calls lockbox-audit as the cron-connector does and returns its
// summary and status.
func (b *bench) callAudit() (auditjob.Summary, int, error) {
	var s auditjob.Summary
	resp, err := http.Post("http://"+b.fns["lockbox-audit"].addr, "", nil)
	if err != nil {
		return s, 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, resp.StatusCode, err
	}
	return s, resp.StatusCode, nil
}

// callAuditOK is one run of lockbox-audit that must do all there is (200).
func (b *bench) callAuditOK() (auditjob.Summary, error) {
	s, status, err := b.callAudit()
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("lockbox-audit answered %d: %v", status, s.Errors)
	}
	return s, err
}

// maxAuditCalls bounds the calls of the lockbox-audit step.
const maxAuditCalls = 10

// auditRun calls lockbox-audit as the cron-connector does, to export every
// event the benchmark left in Redis (the transitions' and the sweep's, over
// thousands of tenants) through the real function. A run is bounded in
// time: one that runs out of it answers 503 with what it did, and the next
// continues, as the next minute's does; the step calls again until a run
// ends with nothing left (200), and adds the runs up.
func (b *bench) auditRun() error {
	t := time.Now()
	var a AuditReport
	for a.Calls < maxAuditCalls {
		s, status, err := b.callAudit()
		if err != nil {
			return err
		}
		a.Calls++
		a.Exported += s.Exported
		a.Objects += s.Objects
		a.Expired += s.Expired
		a.Tenants = max(a.Tenants, len(s.Tenants))
		if status == http.StatusOK {
			a.Seconds = time.Since(t).Seconds()
			b.rep.Audit = a
			return nil
		}
		if status != http.StatusServiceUnavailable || s.Exported+s.Expired == 0 {
			return fmt.Errorf("lockbox-audit answered %d after %d calls, having done nothing more: %v", status, a.Calls, s.Errors)
		}
	}
	return fmt.Errorf("lockbox-audit had not exported everything after %d calls", maxAuditCalls)
}

// memory reads each function's RSS after all the work.
func (b *bench) memory() error {
	for i, f := range b.rep.Functions {
		rss, peak, err := memory(b.fns[f.Name].cmd.Process.Pid)
		if err != nil {
			return err
		}
		b.rep.Functions[i].RSSMB, b.rep.Functions[i].PeakRSSMB = rss, peak
	}
	return nil
}
