package portal_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisstore"
)

// benchRequests is how many requests the benchmarks' tenant holds.
const benchRequests = 10_000

// benchPortal is a portal whose tenant holds benchRequests pending
// requests, on the Redis of LOCKBOX_TEST_REDIS_URL (make bench's) or
// miniredis, with the real clock; it returns the portal, a signed-in
// approver's cookie and one request's id.
func benchPortal(b *testing.B) (*portal.Portal, string, string) {
	b.Helper()
	var store *redisstore.Store
	backend := "miniredis"
	if url := os.Getenv("LOCKBOX_TEST_REDIS_URL"); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			b.Fatal(err)
		}
		redisclient.Tune(opt)
		rdb := redis.NewClient(opt)
		b.Cleanup(func() { _ = rdb.Close() })
		store, backend = redisstore.New(rdb, lockbox.DefaultLimits), "redis-server"
	}
	e := portaltest.New(b, portaltest.Options{NoActivity: true, Deps: func(d *portal.Deps) {
		if store != nil {
			c := *d.Cases
			c.Store, c.SettingsStore, c.DeliveryLog, c.Marks = store, store, store, store
			d.Cases, d.Sessions = &c, store.PortalKV()
		}
		d.Now = time.Now
		d.Cases.Now = time.Now
	}})
	if store == nil {
		store = e.Store
	}
	store.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
	tenant := fmt.Sprintf("bench-portal-%d", time.Now().UnixNano())
	start := time.Now()
	ids := fill(b, store, tenant, benchRequests)
	b.Logf("%d requests filed in %s on %s", benchRequests, time.Since(start).Round(time.Millisecond), backend)
	e.Now = time.Now()
	br := e.Browser()
	br.SignIn(e.Token("approver-1", tenant, lockbox.RoleApprover))
	return e.Portal, portal.SessionCookie + "=" + br.Cookie(portal.SessionCookie), ids[len(ids)/2]
}

// fill files n requests in tenant, 8 at a time, and returns their ids.
func fill(b *testing.B, s *redisstore.Store, tenant string, n int) []string {
	b.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				in := apitest.CreateInput(tenant, fmt.Sprintf("eng-%d", i%100))
				r := lockbox.NewRequest(in, lockbox.NewID(), time.Now(), s.Limits())
				r.FiledBy = "service:webhook"
				if _, _, err := s.Create(b.Context(), r, lockbox.CreateOptions{}); err != nil {
					b.Error(err)
				}
				ids[i] = r.RequestID
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids
}

// benchPage serves path b.N times as the function does (Serve, from the
// template's request to its response) and reports the 99th percentile
// next to the mean: the target is 50 ms p99.
func benchPage(b *testing.B, p *portal.Portal, cookie, path string) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h := http.Header{"Cookie": {cookie}, httpapi.HeaderPath: {path}}
		start := time.Now()
		resp, err := p.Serve(handler.Request{Method: http.MethodGet, Header: h, Host: "127.0.0.1"})
		lat = append(lat, time.Since(start))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d %v %.200s", path, resp.StatusCode, err, resp.Body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// The landing page (50 pending requests) and a request's page with
// 10,000 requests in the tenant.
func BenchmarkPortalPages(b *testing.B) {
	p, cookie, id := benchPortal(b)
	b.Run("pending", func(b *testing.B) { benchPage(b, p, cookie, "/") })
	b.Run("request", func(b *testing.B) { benchPage(b, p, cookie, "/requests/"+id) })
	b.Run("history", func(b *testing.B) { benchPage(b, p, cookie, "/requests") })
}
