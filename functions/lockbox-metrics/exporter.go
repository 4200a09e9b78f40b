package function

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisstore"
)

// EnvTenantLabels (metrics_tenant_labels=true) adds a tenant label to the
// per-tenant figures; without it no metric names a tenant.
const EnvTenantLabels = "metrics_tenant_labels"

// scrapeTimeout bounds the Redis read of one scrape.
const scrapeTimeout = 5 * time.Second

// Exporter serves lockbox-metrics: the store's figures in Prometheus's text
// exposition, to a caller holding the bearer token (the secret
// metrics-token). The token is checked before anything else is done.
type Exporter struct {
	// Token is the secret metrics-token; empty refuses every call
	// (newExporter logs why when it builds the exporter).
	Token []byte
	// Stats reads the store's figures (redisstore.Store.Stats).
	Stats func(ctx context.Context, now time.Time, known []string) (redisstore.Stats, error)
	// Eviction is the Redis guard's verdict (redisclient.Guard.Check): nil
	// when Redis's maxmemory-policy is noeviction.
	Eviction func() error
	// TenantLabels adds a tenant label to the per-tenant figures.
	TenantLabels bool
	Now          func() time.Time
	Log          *slog.Logger

	mu    sync.Mutex
	known []string // the tenants of the last scrape
}

// Serve answers one scrape.
func (e *Exporter) Serve(req handler.Request) handler.Response {
	if !e.authorized(req.Header) {
		resp := httpapi.Error(lockbox.Unauthorizedf("a scrape needs the bearer token of the secret %s", config.SecretMetricsToken), e.Log)
		resp.Header.Set("WWW-Authenticate", `Bearer realm="lockbox-metrics"`)
		return resp
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return httpapi.Error(httpapi.ErrMethodNotAllowed(http.MethodGet, http.MethodHead), e.Log)
	}
	ctx := req.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.collect(ctx))
	families, err := reg.Gather()
	if err != nil {
		return httpapi.Error(lockbox.Internal("gather metrics", err), e.Log)
	}
	var b bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	enc := expfmt.NewEncoder(&b, format)
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return httpapi.Error(lockbox.Internal("encode metrics", err), e.Log)
		}
	}
	h := http.Header{}
	h.Set("Content-Type", string(format))
	h.Set("Cache-Control", "no-store")
	if req.Method == http.MethodHead {
		return handler.Response{StatusCode: http.StatusOK, Header: h}
	}
	return handler.Response{StatusCode: http.StatusOK, Header: h, Body: b.Bytes()}
}

// authorized compares the bearer token with the secret in constant time
// (over their SHA-256, so that neither length shows either).
func (e *Exporter) authorized(h http.Header) bool {
	if len(e.Token) == 0 { // newExporter logged why, once
		return false
	}
	got, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256(e.Token)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// A family is a metric's description without and with a tenant label.
type family struct{ plain, tenant *prometheus.Desc }

func newFamily(name, help string, labels ...string) family {
	return family{prometheus.NewDesc(name, help, labels, nil), prometheus.NewDesc(name, help, append(labels, "tenant"), nil)}
}

// The metrics, named by the contract; lockbox_pending_next_expiry_seconds,
// lockbox_redis_noeviction and lockbox_tenants besides.
var (
	famRequests    = newFamily("lockbox_requests", "Requests by effective status.", "status")
	famTransitions = newFamily("lockbox_transitions_total", "Transitions by operation, counted by the scripts in the step that makes them.", "operation")
	famChecks      = newFamily("lockbox_checks_total", "lockbox-check answers by result (allow, or the refusal's code), counted by the check's script.", "result")
	famOldest      = newFamily("lockbox_pending_oldest_seconds", "Age of the oldest request waiting for a decision (0: none).")
	famNextExpiry  = newFamily("lockbox_pending_next_expiry_seconds", "Time until the first window of a request waiting for a decision ends (absent: none waits).")
	famUnexported  = newFamily("lockbox_audit_unexported_events", "Audit events waiting for export to the archive.")
	famOldestUnexp = newFamily("lockbox_audit_oldest_unexported_seconds", "Age of the oldest audit event waiting for export (0: none).")
	famLastExport  = newFamily("lockbox_audit_last_export_timestamp_seconds", "When an export last succeeded, Unix seconds (absent: never).")
	famOutbox      = newFamily("lockbox_notify_outbox", "Notifications not yet expanded into deliveries, plus deliveries waiting to be sent.")
	famDead        = newFamily("lockbox_notify_dead_letters", "Deliveries (mail, webhooks) that failed for good.")
	descRedisUp    = prometheus.NewDesc("lockbox_redis_up", "1 when this scrape read Redis, 0 when it could not.", nil, nil)
	descNoEviction = prometheus.NewDesc("lockbox_redis_noeviction",
		"1 when Redis's maxmemory-policy is noeviction, 0 when it may evict keys or cannot be read (absent: Redis unreachable).", nil, nil)
	descTenants = prometheus.NewDesc("lockbox_tenants", "Tenants read by this scrape.", nil, nil)
)

// Operations and check results always exposed, at 0 until counted, so that
// a rate over them exists from the first scrape.
var (
	operations = func() []string {
		ops := []string{"file"}
		for a := range lockbox.Transitions {
			ops = append(ops, string(a))
		}
		slices.Sort(ops)
		return ops
	}()
	checkResults = []string{"allow", lockbox.CodeNoGrant, lockbox.CodePendingApproval, lockbox.CodeGrantEnded}
)

// snapshot is one scrape's figures, as a prometheus.Collector.
type snapshot struct {
	metrics []prometheus.Metric
}

func (s *snapshot) Describe(ch chan<- *prometheus.Desc) {
	seen := map[*prometheus.Desc]bool{}
	for _, m := range s.metrics {
		if d := m.Desc(); !seen[d] {
			seen[d] = true
			ch <- d
		}
	}
}

func (s *snapshot) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s.metrics {
		ch <- m
	}
}

// collect reads Redis once and returns the scrape's metrics.
func (e *Exporter) collect(ctx context.Context) *snapshot {
	s := &snapshot{}
	add := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		s.metrics = append(s.metrics, prometheus.MustNewConstMetric(d, t, v, labels...))
	}
	e.mu.Lock()
	known := e.known
	e.mu.Unlock()
	now := e.Now()
	st, err := e.Stats(ctx, now, known)
	up := 1.0
	if err != nil {
		up = 0
		e.Log.Error("lockbox-metrics could not read Redis", "err", err)
	}
	add(descRedisUp, prometheus.GaugeValue, up)
	switch err := e.Eviction(); {
	case err == nil:
		add(descNoEviction, prometheus.GaugeValue, 1)
	case errors.Is(err, redisclient.ErrEvictionPolicy), errors.Is(err, redisclient.ErrPolicyUnknown):
		add(descNoEviction, prometheus.GaugeValue, 0)
	}
	if up == 0 {
		return s
	}
	e.mu.Lock()
	e.known = st.Tenants
	e.mu.Unlock()
	add(descTenants, prometheus.GaugeValue, float64(len(st.Tenants)))
	if !e.TenantLabels {
		figures(st.Tenant, add, func(f family) *prometheus.Desc { return f.plain }, nil)
		return s
	}
	for _, t := range st.Tenants {
		figures(st.PerTenant[t], add, func(f family) *prometheus.Desc { return f.tenant }, []string{t})
	}
	return s
}

// figures adds one set of figures (the totals, or a tenant's with its
// label) through add, each metric's desc chosen by of.
func figures(t redisstore.Tenant, add func(*prometheus.Desc, prometheus.ValueType, float64, ...string),
	of func(family) *prometheus.Desc, extra []string) {
	l := func(labels ...string) []string { return append(labels, extra...) }
	for _, status := range lockbox.Statuses {
		add(of(famRequests), prometheus.GaugeValue, float64(t.Requests[status]), l(string(status))...)
	}
	ops := union(operations, slices.Collect(maps.Keys(t.Transitions)))
	for _, op := range ops {
		add(of(famTransitions), prometheus.CounterValue, float64(t.Transitions[op]), l(op)...)
	}
	for _, r := range union(checkResults, slices.Collect(maps.Keys(t.Checks))) {
		add(of(famChecks), prometheus.CounterValue, float64(t.Checks[r]), l(r)...)
	}
	add(of(famOldest), prometheus.GaugeValue, t.OldestPending.Seconds(), extra...)
	if t.NextExpiry >= 0 {
		add(of(famNextExpiry), prometheus.GaugeValue, t.NextExpiry.Seconds(), extra...)
	}
	add(of(famUnexported), prometheus.GaugeValue, float64(t.Unexported), extra...)
	add(of(famOldestUnexp), prometheus.GaugeValue, t.OldestUnexported.Seconds(), extra...)
	if !t.LastExport.IsZero() {
		add(of(famLastExport), prometheus.GaugeValue, float64(t.LastExport.UnixMilli())/1000, extra...)
	}
	add(of(famOutbox), prometheus.GaugeValue, float64(t.Outbox), extra...)
	add(of(famDead), prometheus.GaugeValue, float64(t.DeadLetters), extra...)
}

// union is a and b's distinct values, sorted.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// newExporter builds the function's exporter from its environment and
// secrets. A problem with Redis's configuration is logged and shows as
// lockbox_redis_up 0; a missing token refuses every call.
func newExporter() *Exporter {
	log := slog.Default()
	dir := os.Getenv("secret_mount_path")
	if dir == "" {
		dir = config.DefaultSecretMountPath
	}
	token, err := config.ReadSecret(dir, config.SecretMetricsToken)
	if err != nil {
		log.Error("lockbox-metrics refuses every scrape until it is redeployed with its secret", "err", err)
	}
	e := &Exporter{Token: token, Now: time.Now, Log: log, Eviction: func() error { return nil }}
	switch v := os.Getenv(EnvTenantLabels); v {
	case "", "false":
	case "true":
		e.TenantLabels = true
	default:
		log.Error("lockbox-metrics is misconfigured", "err", fmt.Errorf("%s=%q must be true or false", EnvTenantLabels, v))
	}
	cfg, err := config.Load(os.Getenv, config.Needs{})
	if err == nil {
		var client redis.UniversalClient
		if client, err = redisclient.New(cfg.Redis); err == nil {
			guard := redisclient.NewGuard(client, redisclient.RecheckEvery, redisclient.RetryEvery)
			e.Stats, e.Eviction = app.Store(client, cfg).Stats, guard.Check
		}
	}
	if err != nil {
		log.Error("lockbox-metrics is misconfigured", "err", err)
		e.Stats = func(context.Context, time.Time, []string) (redisstore.Stats, error) {
			return redisstore.Stats{}, fmt.Errorf("misconfigured: %w", err)
		}
		e.Eviction = func() error { return redisclient.ErrUnavailable }
	}
	return e
}
