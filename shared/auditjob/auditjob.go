// Package auditjob is the work of lockbox-audit, which the cron-connector
// calls on a schedule: record every due expiry and grant completion, then
// export every tenant's pending audit events to object storage. It is
// idempotent housekeeping: safe to run twice at once or again after a crash.
package auditjob

import (
	"context"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/redisstore"
)

// Timeout bounds one run; stack.yml gives lockbox-audit a longer
// exec_timeout than the other functions.
const Timeout = 50 * time.Second

// SweepBatch is how many deadlines one sweep step reads (and settles in one
// pipeline).
const SweepBatch = 1000

// Summary is what a run did. Tenants lists only tenants where something
// happened or failed.
type Summary struct {
	Expired   int       `json:"expired"`
	Completed int       `json:"completed"`
	Exported  int       `json:"exported"`
	Objects   int       `json:"objects"`
	Tenants   []Tenant  `json:"tenants"`
	Errors    []string  `json:"errors"`
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
}

// Tenant is what a run did for one tenant.
type Tenant struct {
	TenantID  string   `json:"tenantId"`
	Expired   int      `json:"expired"`
	Completed int      `json:"completed"`
	Exported  int      `json:"exported"`
	Objects   []string `json:"objects"`
	Busy      bool     `json:"busy,omitempty"` // another run was exporting it
	Error     string   `json:"error,omitempty"`
}

// Job sweeps and exports.
type Job struct {
	deps     *app.Deps
	exporter *audit.Exporter
}

// New returns the job for d, whose configuration must include S3.
func New(d *app.Deps, store audit.ObjectStore) *Job {
	e := audit.NewExporter(d.Redis, store)
	e.Now = d.Now
	if s3 := d.Config.S3; s3.AuditBatch > 0 {
		e.Batch = s3.AuditBatch
	}
	e.Retention = time.Duration(d.Config.S3.ObjectLockDays) * 24 * time.Hour
	return &Job{deps: d, exporter: e}
}

// Workers is how many tenants a run works on at once. A tenant's export
// holds up to three batches in memory, so only tenants with at most
// SmallTenant events waiting are exported side by side; larger ones are
// exported one at a time, which bounds a run's memory by the batch size.
const Workers = 8

// SmallTenant is the most events a tenant may have waiting to be exported
// alongside others.
const SmallTenant = 1000

// Run sweeps and exports every tenant and reports what it did. It sweeps
// every tenant first (Workers at a time), so that the expiries it records
// are exported in the same run, then exports them.
func (j *Job) Run(ctx context.Context) Summary {
	start := j.deps.Now()
	s := Summary{Tenants: []Tenant{}, Errors: []string{}, Started: start.UTC()}
	tenants, err := j.deps.Store.Tenants(ctx)
	if err != nil {
		s.Errors = append(s.Errors, err.Error())
		return s
	}
	results := make([]Tenant, len(tenants))
	for i, tenant := range tenants {
		results[i] = Tenant{TenantID: tenant, Objects: []string{}}
	}
	parallel(len(tenants), Workers, func(i int) {
		t := &results[i]
		swept, err := j.deps.Store.Sweep(ctx, t.TenantID, j.deps.Now(), SweepBatch)
		t.Expired, t.Completed = swept.Expired, swept.Completed
		if err != nil {
			t.Error = err.Error()
		}
	})

	small, large, err := j.bySize(ctx, results)
	if err != nil {
		s.Errors = append(s.Errors, err.Error())
		return s
	}
	export := func(i int) {
		t := &results[i]
		res, err := j.exporter.ExportTenant(ctx, t.TenantID)
		t.Exported, t.Objects, t.Busy = res.Exported, res.Objects, res.Busy
		if err != nil {
			t.Error = err.Error()
		}
	}
	parallel(len(small), Workers, func(k int) { export(small[k]) })
	for _, i := range large {
		export(i)
	}

	for _, t := range results {
		if t.Error != "" {
			s.Errors = append(s.Errors, t.TenantID+": "+t.Error)
			j.deps.Log.Error("audit run failed for a tenant", "tenantId", t.TenantID, "err", t.Error)
		}
		s.Expired += t.Expired
		s.Completed += t.Completed
		s.Exported += t.Exported
		s.Objects += len(t.Objects)
		if t.Expired+t.Completed+t.Exported > 0 || t.Busy || t.Error != "" {
			s.Tenants = append(s.Tenants, t)
		}
	}
	s.Seconds = j.deps.Now().Sub(start).Seconds()
	return s
}

// bySize splits the tenants that swept cleanly by the events they have
// waiting (XLEN, pipelined): the indexes of small and of large ones.
func (j *Job) bySize(ctx context.Context, results []Tenant) (small, large []int, err error) {
	lens := make([]*redis.IntCmd, len(results))
	_, err = j.deps.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range results {
			if t.Error == "" {
				lens[i] = p.XLen(ctx, redisstore.EventsKey(t.TenantID))
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, lockbox.Unavailable("read audit stream lengths", err)
	}
	for i, n := range lens {
		switch {
		case n == nil: // its sweep failed: its events wait for the next run
		case n.Val() <= SmallTenant:
			small = append(small, i)
		default:
			large = append(large, i)
		}
	}
	return small, large, nil
}

// parallel calls f(0..n-1) from at most workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

// Once builds the job on the first call of a process and serves
// lockbox-audit with it.
type Once struct {
	once sync.Once
	job  *Job
}

// Flow is lockbox-audit's call flow: any method, an empty body (the
// cron-connector sends none). 200 with the summary when everything
// succeeded; 503 with the summary when a tenant could not be swept or
// exported (its events stay in Redis for the next run).
func (o *Once) Flow(d *app.Deps, req handler.Request) (handler.Response, error) {
	if len(req.Body) > 0 {
		return handler.Response{}, lockbox.Invalidf("lockbox-audit takes no body")
	}
	o.once.Do(func() {
		c := d.Config.S3
		o.job = New(d, objectstore.New(objectstore.Config{Endpoint: c.Endpoint, Region: c.Region, Bucket: c.Bucket,
			PathStyle: c.PathStyle, AccessKey: c.AccessKey, SecretKey: c.SecretKey, LockMode: c.ObjectLockMode}))
	})
	ctx, cancel := httpapi.Context(req, Timeout)
	defer cancel()
	s := o.job.Run(ctx)
	// A run holds up to three batches per exporting tenant; the function then
	// idles until the next schedule. Handing the memory back now keeps the
	// process small between runs instead of whenever the runtime would.
	debug.FreeOSMemory()
	status := http.StatusOK
	if len(s.Errors) > 0 {
		status = http.StatusServiceUnavailable
	}
	d.Log.Info("audit run", "expired", s.Expired, "completed", s.Completed, "exported", s.Exported, "objects", s.Objects, "errors", len(s.Errors))
	return httpapi.JSON(status, s), nil
}
