package function

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisstore"
)

const token = "Mq3Vx8Rt1Lk6Zp4Wn9Hb2Jc7Fd5Gs0Ya"

func scrape(auth string) handler.Request {
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	return handler.Request{Method: http.MethodGet, Header: h}
}

// exporterOn is an exporter over the test environment's store.
func exporterOn(e *apitest.Env) *Exporter {
	return &Exporter{Token: []byte(token), Stats: e.Store.Stats, Eviction: func() error { return nil },
		Now: func() time.Time { return e.Now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// parse decodes a text exposition into its samples, by metric and labels
// (rendered as model.Metric's String).
func parse(t *testing.T, resp handler.Response) map[string]float64 {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4"), resp.Header.Get("Content-Type"))
	dec := expfmt.NewDecoder(strings.NewReader(string(resp.Body)), expfmt.NewFormat(expfmt.TypeTextPlain))
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, decodeAll(t, dec)...)
	require.NoError(t, err)
	out := map[string]float64{}
	for _, s := range vec {
		out[s.Metric.String()] = float64(s.Value)
	}
	return out
}

func decodeAll(t *testing.T, dec expfmt.Decoder) []*dto.MetricFamily {
	t.Helper()
	var fams []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		err := dec.Decode(f)
		if errors.Is(err, io.EOF) {
			return fams
		}
		require.NoError(t, err)
		fams = append(fams, f)
	}
}

// Without the token, with another or with a malformed header, a scrape is
// 401 and reads nothing; the method is checked after the token.
func TestScrapeNeedsTheToken(t *testing.T) {
	e := apitest.New(t)
	x := exporterOn(e)
	x.Stats = func(context.Context, time.Time, []string) (redisstore.Stats, error) {
		t.Error("Redis was read before the token was checked")
		return redisstore.Stats{}, nil
	}
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer " + token[:10], "Bearer " + token + "x", "Basic " + token, token,
		"bearer " + strings.ToUpper(token)} {
		resp := x.Serve(scrape(auth))
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "Authorization %q", auth)
		assert.Equal(t, `Bearer realm="lockbox-metrics"`, resp.Header.Get("WWW-Authenticate"))
		assert.Equal(t, "Unauthorized", apitest.ErrorOf(t, resp).Code)
	}
	post := scrape("Bearer " + token)
	post.Method = http.MethodPost
	x.Stats = e.Store.Stats
	assert.Equal(t, http.StatusMethodNotAllowed, x.Serve(post).StatusCode)

	// No secret: nobody is let in.
	x.Token = nil
	assert.Equal(t, http.StatusUnauthorized, x.Serve(scrape("Bearer ")).StatusCode)
}

// A scrape shows the contract's metrics, without any tenant's name: the
// counters the scripts keep and the gauges.
func TestScrape(t *testing.T) {
	e := apitest.New(t)
	x := exporterOn(e)
	got := parse(t, x.Serve(scrape("Bearer "+token)))
	assert.Equal(t, 1.0, got[`lockbox_redis_up`])
	assert.Equal(t, 1.0, got[`lockbox_redis_noeviction`])
	assert.Equal(t, 0.0, got[`lockbox_transitions_total{operation="approve"}`], "every operation is there from the start")
	assert.Contains(t, got, `lockbox_checks_total{result="allow"}`)

	r := e.File("contoso", "eng-7")
	e.File("fabrikam", "eng-8")
	_, err := e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	in := lockbox.CheckInput{TenantID: "contoso", ResourceID: r.ResourceIDs[0], AccessLevel: "Read", Method: "GET", URI: "/"}
	_, err = e.Store.Check(t.Context(), "contoso", "eng-7", in, e.Now)
	require.NoError(t, err)
	e.Advance(time.Hour)

	resp := x.Serve(scrape("Bearer " + token))
	got = parse(t, resp)
	assert.Equal(t, 2.0, got[`lockbox_transitions_total{operation="file"}`])
	assert.Equal(t, 1.0, got[`lockbox_transitions_total{operation="approve"}`])
	assert.Equal(t, 1.0, got[`lockbox_checks_total{result="allow"}`])
	assert.Equal(t, 1.0, got[`lockbox_requests{status="Pending"}`])
	assert.Equal(t, 1.0, got[`lockbox_requests{status="Approved"}`])
	assert.Equal(t, 3600.0, got[`lockbox_pending_oldest_seconds`])
	assert.Equal(t, 95*3600.0, got[`lockbox_pending_next_expiry_seconds`])
	assert.Equal(t, 2.0, got[`lockbox_tenants`])
	assert.Positive(t, got[`lockbox_audit_unexported_events`])
	assert.Contains(t, got, `lockbox_notify_outbox`)
	assert.Equal(t, 0.0, got[`lockbox_notify_dead_letters`])
	for _, name := range []string{"lockbox_audit_oldest_unexported_seconds"} {
		assert.Contains(t, got, name)
	}
	assert.NotContains(t, string(resp.Body), "contoso", "no tenant is named unless configured")

	// With metrics_tenant_labels=true, each tenant's figures.
	x.TenantLabels = true
	got = parse(t, x.Serve(scrape("Bearer "+token)))
	assert.Equal(t, 1.0, got[`lockbox_transitions_total{operation="approve", tenant="contoso"}`])
	assert.Equal(t, 0.0, got[`lockbox_transitions_total{operation="approve", tenant="fabrikam"}`])
	assert.Equal(t, 1.0, got[`lockbox_requests{status="Pending", tenant="fabrikam"}`])
}

// Redis unreachable: the scrape still answers, lockbox_redis_up 0; a Redis
// that may evict keys: lockbox_redis_noeviction 0.
func TestScrapeRedisRefusing(t *testing.T) {
	e := apitest.New(t)
	x := exporterOn(e)
	x.Eviction = func() error {
		return &redisclient.PolicyError{Kind: redisclient.ErrEvictionPolicy, Policy: "allkeys-lru"}
	}
	got := parse(t, x.Serve(scrape("Bearer "+token)))
	assert.Equal(t, 0.0, got[`lockbox_redis_noeviction`])
	assert.Equal(t, 1.0, got[`lockbox_redis_up`])

	e.Mini.Close()
	x.Eviction = func() error { return &redisclient.PolicyError{Kind: redisclient.ErrUnavailable} }
	got = parse(t, x.Serve(scrape("Bearer "+token)))
	assert.Equal(t, map[string]float64{`lockbox_redis_up`: 0}, got, "nothing but the verdict when Redis cannot be read")
}

// The function as deployed: the token from secret_mount_path, Redis from
// redis_url.
func TestHandle(t *testing.T) {
	e := apitest.New(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "metrics-token"), []byte(token+"\n"), 0o600))
	t.Setenv("secret_mount_path", dir)
	t.Setenv("redis_url", "redis://"+e.Mini.Addr())
	e.File("contoso", "eng-7")
	resp, err := Handle(scrape("Bearer " + token))
	require.NoError(t, err)
	got := parse(t, resp)
	assert.Equal(t, 1.0, got[`lockbox_transitions_total{operation="file"}`])
	resp, err = Handle(scrape("Bearer nope"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
