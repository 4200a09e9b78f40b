// Package auditjob is the work of lockbox-audit, which the cron-connector
// calls on a schedule: record every due expiry and grant completion, then
// export every tenant's pending audit events to object storage. It is
// idempotent housekeeping: safe to run twice at once or again after a crash.
package auditjob

import (
	"context"
	"net/http"
	"sync"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
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

// Run sweeps and exports every tenant and reports what it did.
func (j *Job) Run(ctx context.Context) Summary {
	start := j.deps.Now()
	s := Summary{Tenants: []Tenant{}, Errors: []string{}, Started: start.UTC()}
	tenants, err := j.deps.Store.Tenants(ctx)
	if err != nil {
		s.Errors = append(s.Errors, err.Error())
		return s
	}
	for _, tenant := range tenants {
		t := Tenant{TenantID: tenant, Objects: []string{}}
		swept, err := j.deps.Store.Sweep(ctx, tenant, j.deps.Now(), SweepBatch)
		t.Expired, t.Completed = swept.Expired, swept.Completed
		if err == nil {
			var res audit.TenantResult
			res, err = j.exporter.ExportTenant(ctx, tenant)
			t.Exported, t.Objects, t.Busy = res.Exported, res.Objects, res.Busy
		}
		if err != nil {
			t.Error = err.Error()
			s.Errors = append(s.Errors, tenant+": "+err.Error())
			j.deps.Log.Error("audit run failed for a tenant", "tenantId", tenant, "err", err)
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
	status := http.StatusOK
	if len(s.Errors) > 0 {
		status = http.StatusServiceUnavailable
	}
	d.Log.Info("audit run", "expired", s.Expired, "completed", s.Completed, "exported", s.Exported, "objects", s.Objects, "errors", len(s.Errors))
	return httpapi.JSON(status, s), nil
}
