// Package auditjob is the work of lockbox-audit, which the cron-connector
// calls on a schedule: record every due expiry and grant completion, export
// every tenant's waiting audit events to object storage, and drop idle
// tenants from the set a run walks. It is idempotent housekeeping: safe to
// run twice at once or again after a crash.
package auditjob

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/workers"
)

// Timeout bounds one run; stack.yml gives lockbox-audit a longer
// exec_timeout than the other functions.
const Timeout = 50 * time.Second

// Store is what a run needs of the store (redisstore.Store implements it).
type Store interface {
	lockbox.Sweeper
	// WaitingEvents returns how many events each tenant has waiting for
	// export, in the order given.
	WaitingEvents(ctx context.Context, tenants []string) ([]int64, error)
	// Prune drops tenant from the tenants a run walks when nothing of it
	// is pending, live or unexported; it reports whether it did.
	Prune(ctx context.Context, tenant string) (bool, error)
}

// Summary is what a run did. Tenants lists only tenants where something
// happened or failed. Errors name the tenant and what failed, in words safe
// to show (never a raw cause: those are logged).
type Summary struct {
	Expired   int       `json:"expired"`
	Completed int       `json:"completed"`
	Exported  int       `json:"exported"`
	Objects   int       `json:"objects"`
	Pruned    int       `json:"pruned"`
	Failed    int       `json:"failed"` // tenants that could not be swept or exported
	Tenants   []Tenant  `json:"tenants,omitempty"`
	Errors    []string  `json:"errors,omitempty"`
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

	err error // the full cause, for the log
}

// Job sweeps, exports and prunes.
type Job struct {
	Store    Store
	Exporter *audit.Exporter
	Now      func() time.Time
	Log      *slog.Logger
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
// are exported in the same run, then exports them, then prunes the tenants
// left with nothing to do.
func (j *Job) Run(ctx context.Context) Summary {
	start := j.Now()
	s := Summary{Tenants: []Tenant{}, Errors: []string{}, Started: start.UTC()}
	tenants, err := j.Store.Tenants(ctx)
	if err != nil {
		j.Log.Error("audit run cannot list tenants", "err", err)
		s.Errors = append(s.Errors, publicMessage(err))
		return s
	}
	results := make([]Tenant, len(tenants))
	for i, tenant := range tenants {
		results[i] = Tenant{TenantID: tenant, Objects: []string{}}
	}
	workers.Each(len(tenants), Workers, func(i int) {
		t := &results[i]
		swept, err := j.Store.Sweep(ctx, t.TenantID, j.Now())
		t.Expired, t.Completed, t.err = swept.Expired, swept.Completed, err
	})

	small, large, err := j.bySize(ctx, results)
	if err != nil {
		j.Log.Error("audit run cannot read the waiting events", "err", err)
		s.Errors = append(s.Errors, publicMessage(err))
		return s
	}
	export := func(i int) {
		t := &results[i]
		res, err := j.Exporter.ExportTenant(ctx, t.TenantID)
		t.Exported, t.Objects, t.Busy, t.err = res.Exported, res.Objects, res.Busy, err
	}
	workers.Each(len(small), Workers, func(k int) { export(small[k]) })
	for _, i := range large {
		export(i)
	}
	var pruned atomic.Int64
	workers.Each(len(results), Workers, func(i int) {
		if t := &results[i]; t.err == nil && !t.Busy {
			if ok, err := j.Store.Prune(ctx, t.TenantID); err != nil {
				j.Log.Warn("audit run could not prune a tenant", "tenantId", t.TenantID, "err", err)
			} else if ok {
				pruned.Add(1)
			}
		}
	})
	s.Pruned = int(pruned.Load())

	for _, t := range results {
		if t.err != nil {
			t.Error = publicMessage(t.err)
			s.Failed++
			s.Errors = append(s.Errors, t.TenantID+": "+t.Error)
			j.Log.Error("audit run failed for a tenant", "tenantId", t.TenantID, "err", t.err)
		}
		s.Expired += t.Expired
		s.Completed += t.Completed
		s.Exported += t.Exported
		s.Objects += len(t.Objects)
		if t.Expired+t.Completed+t.Exported > 0 || t.Busy || t.err != nil {
			s.Tenants = append(s.Tenants, t)
		}
	}
	s.Seconds = j.Now().Sub(start).Seconds()
	return s
}

// publicMessage is what callers may see of an error: a domain error's
// message (written for callers), or "internal error".
func publicMessage(err error) string {
	var le *lockbox.Error
	if errors.As(err, &le) {
		return le.Message
	}
	var gap *audit.GapError
	if errors.As(err, &gap) {
		return gap.Error()
	}
	return "internal error"
}

// bySize splits the tenants that swept cleanly by the events they have
// waiting: the indexes of small and of large ones.
func (j *Job) bySize(ctx context.Context, results []Tenant) (small, large []int, err error) {
	var idx []int
	var names []string
	for i, t := range results {
		if t.err == nil { // a failed sweep's events wait for the next run
			idx = append(idx, i)
			names = append(names, t.TenantID)
		}
	}
	lens, err := j.Store.WaitingEvents(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	for k, n := range lens {
		if n <= SmallTenant {
			small = append(small, idx[k])
		} else {
			large = append(large, idx[k])
		}
	}
	return small, large, nil
}

// Authenticator identifies callers who present credentials (auth.Verifier
// implements it).
type Authenticator interface {
	Authenticate(h http.Header, payload []byte, accept ...lockbox.PrincipalKind) (lockbox.Principal, error)
}

// Handler serves lockbox-audit.
type Handler struct {
	Job  *Job
	Auth Authenticator
}

// Serve is lockbox-audit's call flow: any method, an empty body (the
// cron-connector sends none). 200 with the summary when everything
// succeeded; 503 with it when a tenant could not be swept or exported (its
// events stay in Redis for the next run). The cron-connector sends no
// credentials and gets the counts only; a signed call (the signature over
// the empty body) or an operator's token also gets the tenants, their
// objects and what failed. Credentials that do not verify are a 401.
func (h *Handler) Serve(req handler.Request) (handler.Response, error) {
	if len(req.Body) > 0 {
		return handler.Response{}, lockbox.Invalidf("lockbox-audit takes no body")
	}
	p, err := h.Auth.Authenticate(req.Header, req.Body, lockbox.KindService, lockbox.KindUser)
	if err != nil && !lockbox.IsNoCredentials(err) {
		return handler.Response{}, err
	}
	detail := err == nil && (p.Kind == lockbox.KindService || p.Has(lockbox.RoleOperator))
	ctx, cancel := httpapi.Context(req, Timeout)
	defer cancel()
	s := h.Job.Run(ctx)
	// A run holds up to three batches per exporting tenant; the function then
	// idles until the next schedule. Handing the memory back now keeps the
	// process small between runs instead of whenever the runtime would.
	debug.FreeOSMemory()
	status := http.StatusOK
	if len(s.Errors) > 0 {
		status = http.StatusServiceUnavailable
	}
	h.Job.Log.Info("audit run", "expired", s.Expired, "completed", s.Completed, "exported", s.Exported, "objects", s.Objects,
		"pruned", s.Pruned, "failed", s.Failed)
	if !detail {
		s.Tenants, s.Errors = nil, nil
	}
	return httpapi.JSON(status, s), nil
}
