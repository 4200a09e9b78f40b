package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisstore"
)

// The load generator is this program started again with -loadgen: a process
// of its own, so that what it spends never counts against the function or
// Redis it drives. It reads one Job per line on stdin and answers each with
// one Outcome line on stdout.

// Job is one thing for the load generator to do.
type Job struct {
	// Op is a load run (create, intake, approve, deny, list, portal, noop,
	// check and the other loadOps; proxy: calls through nginx), or sweep,
	// readback (read a tenant's audit objects) or rawput (write them again
	// with plain PutObject); sinks (start the notification receivers),
	// sinkcount (what they received), rawmail and rawwebhook (send
	// notifications straight to them: notify.go); activity (pages of the
	// activity log: activity.go).
	Op string `json:"op"`
	// Path is "http" (call the function at URL) or "redis" (issue the same
	// store call straight to Redis, the ceiling); for activity, "http" or
	// "s3" (the page's S3 reads alone, the ceiling).
	Path        string `json:"path"`
	URL         string `json:"url,omitempty"`
	Concurrency int    `json:"concurrency"`
	// Items holds one entry per call: the tenant, and the requester (create),
	// request id (approve, deny, credential) or resource (check).
	Items []Item `json:"items,omitempty"`
	// Raw asks for every call's latency besides the percentiles.
	Raw bool `json:"raw,omitempty"`

	RedisURL   string         `json:"redisUrl"`
	SecretsDir string         `json:"secretsDir"`
	S3         objectstoreCfg `json:"s3"`
	Tenant     string         `json:"tenant,omitempty"` // sweep, readback, rawput

	Query  string        `json:"query,omitempty"`  // activity: the page's query string
	Cookie string        `json:"cookie,omitempty"` // portal: the session's Cookie header (portal.go)
	Notify *notifyConfig `json:"notify,omitempty"` // rawmail, rawwebhook
}

// Item is the subject of one call.
type Item struct {
	Tenant string `json:"t"`
	Key    string `json:"k,omitempty"`
	// Who is the engineer whose token makes the call (check, credential and
	// proxy runs: binding.go, nginx.go).
	Who string `json:"w,omitempty"`
}

type objectstoreCfg struct {
	Endpoint, Bucket, AccessKey, SecretKey string
}

// Outcome is what the load generator measured.
type Outcome struct {
	Ops        int       `json:"ops"`
	Errors     int       `json:"errors"`
	FirstError string    `json:"firstError,omitempty"`
	Seconds    float64   `json:"seconds"`
	Latencies  Latencies `json:"latencies"`
	Raw        []int64   `json:"raw,omitempty"` // each call's latency in µs, with Job.Raw

	// Sweep, readback and rawput.
	Count      int     `json:"count,omitempty"`
	Objects    int     `json:"objects,omitempty"`
	Bytes      int     `json:"bytes,omitempty"`
	PeakHeapMB float64 `json:"peakHeapMB,omitempty"`
	BaseHeapMB float64 `json:"baseHeapMB,omitempty"`

	// sinks and sinkcount.
	Sinks    *sinkAddrs `json:"sinks,omitempty"`
	Mails    int        `json:"mails,omitempty"`
	Webhooks int        `json:"webhooks,omitempty"`
	// activity: the S3 calls of one page (Count is its events).
	Lists int `json:"lists,omitempty"`
	Gets  int `json:"gets,omitempty"`

	raw []time.Duration // drive's latencies, sorted
}

// Latencies are percentiles of one run, in milliseconds.
type Latencies struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Mean float64 `json:"mean"`
}

// percentiles summarises durations (it sorts them).
func percentiles(d []time.Duration) Latencies {
	if len(d) == 0 {
		return Latencies{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.5) - 1
		i = max(0, min(i, len(d)-1))
		return float64(d[i]) / 1e6
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Latencies{P50: at(0.50), P99: at(0.99), P999: at(0.999), Mean: float64(sum) / float64(len(d)) / 1e6}
}

// loadgen serves jobs from r until it is closed.
func loadgen(r io.Reader, w io.Writer) error {
	lg := &generator{tokens: map[string]string{}}
	in := bufio.NewScanner(r)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	enc := json.NewEncoder(w)
	for in.Scan() {
		var j Job
		if err := json.Unmarshal(in.Bytes(), &j); err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		out, err := lg.do(j)
		if err != nil {
			out = Outcome{Errors: 1, FirstError: err.Error()}
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return in.Err()
}

// generator keeps what jobs share: clients, secrets and minted tokens.
type generator struct {
	rdb      *redis.Client
	store    *redisstore.Store
	webhook  []byte
	jwt      []byte
	tokens   map[string]string // tenant -> approver token
	client   *http.Client
	sigCount atomic.Int64
	exported [][]byte               // the objects readBack read
	sinks    *sinks                 // the notification receivers, once started
	senders  senders                // the notification ceiling's
	sshKeys  map[string]engineerKey // by engineer (binding.go)
}

func (g *generator) setup(j Job) error {
	if g.rdb != nil {
		return nil
	}
	// The same client, tuned the same way, as the functions build.
	opt, err := redis.ParseURL(j.RedisURL)
	if err != nil {
		return err
	}
	redisclient.Tune(opt)
	g.rdb = redis.NewClient(opt)
	g.store = redisstore.New(g.rdb, lockbox.DefaultLimits)
	if g.webhook, err = os.ReadFile(filepath.Join(j.SecretsDir, "lockbox-webhook-secret")); err != nil {
		return err
	}
	if g.jwt, err = os.ReadFile(filepath.Join(j.SecretsDir, "lockbox-jwt-secret")); err != nil {
		return err
	}
	g.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128, IdleConnTimeout: time.Minute}}
	return nil
}

func (g *generator) do(j Job) (Outcome, error) {
	if err := g.setup(j); err != nil {
		return Outcome{}, err
	}
	switch j.Op {
	case "sweep":
		return g.sweep(j)
	case "readback":
		return g.readBack(j)
	case "rawput":
		return g.rawPut(j)
	case "sinks":
		if g.sinks == nil {
			s, err := startSinks()
			if err != nil {
				return Outcome{}, err
			}
			g.sinks = s
		}
		return Outcome{Sinks: &g.sinks.addrs}, nil
	case "sinkcount":
		if g.sinks == nil {
			return Outcome{}, errors.New("the receivers are not started")
		}
		return Outcome{Mails: int(g.sinks.mails.Load()), Webhooks: int(g.sinks.webhooks.Load())}, nil
	case "rawmail":
		return g.rawMail(j)
	case "rawwebhook":
		return g.rawWebhook(j)
	case "activity":
		return g.activity(j)
	}
	call, err := g.caller(j)
	if err != nil {
		return Outcome{}, err
	}
	out := drive(j.Concurrency, len(j.Items), func(ctx context.Context, i int) error { return call(ctx, j.Items[i]) })
	if !j.Raw {
		out.raw = nil
	}
	for _, d := range out.raw {
		out.Raw = append(out.Raw, d.Microseconds())
	}
	return out, nil
}

// drive makes n calls from conc workers and measures each.
func drive(conc, n int, call func(ctx context.Context, i int) error) Outcome {
	var next atomic.Int64
	var mu sync.Mutex
	var out Outcome
	lat := make([]time.Duration, 0, n)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Go(func() {
			mine := make([]time.Duration, 0, n/max(conc, 1)+1)
			var errs int
			var first string
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				t := time.Now()
				err := call(ctx, i)
				mine = append(mine, time.Since(t))
				if err != nil {
					if errs == 0 {
						first = err.Error()
					}
					errs++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			out.Errors += errs
			if first != "" && out.FirstError == "" {
				out.FirstError = first
			}
		})
	}
	wg.Wait()
	out.Seconds = time.Since(start).Seconds()
	out.Ops = n
	out.Latencies = percentiles(lat)
	out.raw = lat
	return out
}

// caller returns the call a load run makes per item.
func (g *generator) caller(j Job) (func(context.Context, Item) error, error) {
	// Tokens are minted before the run, as a client would hold them: an
	// approver's, and for revocations the tenant's admin's.
	sub, role := "approver-1", lockbox.RoleApprover
	if j.Op == "revoke" {
		sub, role = "admin-1", lockbox.RoleAdmin
	}
	if err := g.mintTokens(sub, role, j.Items); err != nil {
		return nil, err
	}
	bearer := func(it Item) string { return g.bearer(role, it.Tenant) }
	switch j.Path + "/" + j.Op {
	case "http/intake":
		return g.intakeCaller(j)
	case "http/portal":
		return g.portalCaller(j)
	case "http/check", "http/checkdenied", "http/noopcheck":
		return g.checkCaller(j)
	case "redis/check", "redis/checkdenied":
		return g.checkRedisCaller(j), nil
	case "http/credential":
		return g.credentialCaller(j)
	case "redis/credential":
		return g.credentialRedisCaller(j), nil
	case "http/proxy":
		return g.proxyCaller(j)
	case "http/create", "http/noop", "http/create5rules":
		return func(ctx context.Context, it Item) error {
			body := createBody(it)
			h := signedHeader(g.webhook, body)
			want := http.StatusCreated
			if j.Op == "noop" {
				want = http.StatusOK
			}
			return g.call(ctx, http.MethodPost, j.URL, h, body, want)
		}, nil
	case "http/approve", "http/deny", "http/approve2of2", "http/revoke":
		return func(ctx context.Context, it Item) error {
			body, _ := json.Marshal(lockbox.DecisionInput{RequestID: it.Key, Reason: "benchmark decision"})
			h := http.Header{"Content-Type": {"application/json"}, "Authorization": {bearer(it)}}
			return g.call(ctx, http.MethodPost, j.URL, h, body, http.StatusOK)
		}, nil
	case "http/cancel":
		return func(ctx context.Context, it Item) error {
			body, _ := json.Marshal(lockbox.CancelInput{RequestID: it.Key, Reason: "benchmark withdrawal", TenantID: it.Tenant})
			return g.call(ctx, http.MethodPost, j.URL, signedHeader(g.webhook, body), body, http.StatusOK)
		}, nil
	case "http/list":
		return func(ctx context.Context, it Item) error {
			h := http.Header{"Authorization": {bearer(it)}}
			return g.call(ctx, http.MethodGet, j.URL+"?limit=50", h, nil, http.StatusOK)
		}, nil
	case "redis/create", "redis/create5rules":
		return func(ctx context.Context, it Item) error {
			// A distinct replay marker per call, as each signed delivery has.
			opts := lockbox.CreateOptions{SignatureHash: fmt.Sprintf("%064x", g.sigCount.Add(1))}
			_, _, err := g.store.Create(ctx, lockbox.NewRequest(createInput(it), lockbox.NewID(), time.Now(), g.store.Limits()), opts)
			return err
		}, nil
	case "redis/approve", "redis/approve2of2", "redis/deny", "redis/revoke", "redis/cancel":
		action := map[string]lockbox.Action{"approve": lockbox.ActionApprove, "approve2of2": lockbox.ActionApprove,
			"deny": lockbox.ActionDeny, "revoke": lockbox.ActionRevoke, "cancel": lockbox.ActionCancel}[j.Op]
		return func(ctx context.Context, it Item) error {
			_, err := g.store.Act(ctx, it.Tenant, it.Key, lockboxtest.Decision(action, sub, "benchmark decision", nil, time.Now()))
			return err
		}, nil
	case "redis/list":
		return func(ctx context.Context, it Item) error {
			p, err := g.store.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: it.Tenant}, Limit: 50})
			if err == nil && len(p.Requests) == 0 {
				err = fmt.Errorf("empty page for %s", it.Tenant)
			}
			return err
		}, nil
	}
	return nil, fmt.Errorf("unknown load run %s/%s", j.Path, j.Op)
}

// mintTokens mints a token of sub with role for each tenant of items that
// has none yet, before a run, as a client would hold them.
func (g *generator) mintTokens(sub string, role lockbox.Role, items []Item) error {
	for _, it := range items {
		if _, ok := g.tokens[string(role)+"/"+it.Tenant]; !ok {
			tok, err := auth.Mint(g.jwt, auth.NewClaims(sub, it.Tenant, []string{string(role)}, time.Now(), 2*time.Hour))
			if err != nil {
				return err
			}
			g.tokens[string(role)+"/"+it.Tenant] = tok
		}
	}
	return nil
}

// bearer is the Authorization header of role's token in tenant
// (mintTokens).
func (g *generator) bearer(role lockbox.Role, tenant string) string {
	return "Bearer " + g.tokens[string(role)+"/"+tenant]
}

// call sends one request and reads the whole answer, which must have the
// status want.
func (g *generator) call(ctx context.Context, method, url string, h http.Header, body []byte, want int) error {
	_, _, err := g.exchange(ctx, method, url, h, body, want)
	return err
}

// exchange is call returning the answer's header and body.
func (g *generator) exchange(ctx context.Context, method, url string, h http.Header, body []byte, want int) (http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header = h
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp.Header, b, nil
}

// createBody is createInput as JSON.
// signedHeader is the header of a JSON body signed with secret now, as a
// ticketing system sends a webhook.
func signedHeader(secret, body []byte) http.Header {
	ts := time.Now().Unix()
	h := http.Header{"Content-Type": {"application/json"}}
	h.Set(auth.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(auth.HeaderSignature, auth.Sign(secret, ts, body))
	return h
}

func createBody(it Item) []byte {
	b, _ := json.Marshal(createInput(it)) // strings and slices of strings always encode
	return b
}

// createInput is a valid create for an item: the tenant and requester it
// names, and a support case of its own so that every delivery differs.
func createInput(it Item) lockbox.CreateInput {
	return lockbox.CreateInput{
		TenantID: it.Tenant, ResourceType: "Microsoft.Compute/virtualMachines", ResourceIDs: []string{"vm-1", "vm-2"},
		AccessLevel: "Read", Justification: "benchmark: disk latency on vm-1", SupportRequest: "INC-" + it.Key,
		SupportCaseURL: "https://support.example/cases/INC-" + it.Key, WorkItemSource: "ServiceNow",
		Requester: lockbox.Requester{ID: it.Key, DisplayName: "Support Engineer"},
	}
}

// sweep records every due expiry of the job's tenant the way lockbox-audit
// does, and samples the heap while it runs.
func (g *generator) sweep(j Job) (Outcome, error) {
	var out Outcome
	stop := sampleHeap(&out)
	start := time.Now()
	res, err := g.store.Sweep(context.Background(), j.Tenant, time.Now())
	out.Seconds = time.Since(start).Seconds()
	stop()
	out.Count = res.Expired + res.Completed
	return out, err
}

// sampleHeap records the heap in use before and at its highest until stop
// is called.
func sampleHeap(out *Outcome) (stop func()) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out.BaseHeapMB = float64(ms.HeapInuse) / 1e6
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			out.PeakHeapMB = max(out.PeakHeapMB, float64(m.HeapInuse)/1e6)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// readBack reads the audit objects of the job's tenant for rawPut.
func (g *generator) readBack(j Job) (Outcome, error) {
	var out Outcome
	s3 := g.objectStore(j)
	keys, err := s3.List(context.Background(), audit.TenantPrefix(j.Tenant))
	if err != nil {
		return out, err
	}
	g.exported = make([][]byte, len(keys))
	for i, k := range keys {
		b, err := s3.Get(context.Background(), k)
		if err != nil {
			return out, err
		}
		g.exported[i] = b
		out.Bytes += len(b)
	}
	out.Objects = len(g.exported)
	return out, nil
}

// rawPut writes the objects readBack read as the same number of objects
// with plain PutObject, one after another as the export writes them: the
// ceiling.
func (g *generator) rawPut(j Job) (Outcome, error) {
	var out Outcome
	s3 := g.objectStore(j)
	start := time.Now()
	for i, b := range g.exported {
		if err := s3.Put(context.Background(), fmt.Sprintf("bench-raw/%s/%d.jsonl", j.Tenant, i), b, time.Time{}); err != nil {
			return out, err
		}
		out.Bytes += len(b)
	}
	out.Seconds = time.Since(start).Seconds()
	out.Objects = len(g.exported)
	g.exported = nil
	return out, nil
}

func (g *generator) objectStore(j Job) *objectstore.Store {
	return objectstore.New(objectstore.Config{Endpoint: j.S3.Endpoint, Region: "us-east-1", Bucket: j.S3.Bucket,
		PathStyle: true, AccessKey: j.S3.AccessKey, SecretKey: j.S3.SecretKey})
}
