package redisstore_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// benchRedis returns a real Redis when LOCKBOX_TEST_REDIS_URL is set (make
// bench starts one), miniredis otherwise.
func benchRedis(b *testing.B) (*redis.Client, *tripCounter, string) {
	b.Helper()
	tc := &tripCounter{}
	if url := os.Getenv("LOCKBOX_TEST_REDIS_URL"); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			b.Fatal(err)
		}
		opt.PoolSize = 64
		rdb := redis.NewClient(opt)
		b.Cleanup(func() { rdb.Close() })
		rdb.AddHook(tc)
		return rdb, tc, "redis-server"
	}
	t := &testing.T{}
	m := miniBackend(t)
	b.Cleanup(func() { m.mini.Close() })
	m.rdb.AddHook(tc)
	return m.rdb, tc, "miniredis"
}

// fill files n requests in tenant, 16 at a time.
func fill(b *testing.B, s *redisstore.Store, tenant string, n int) {
	b.Helper()
	in := lockboxtest.Input(lockboxtest.Scenario{})
	in.TenantID = tenant
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for range next {
				if _, _, err := s.Create(b.Context(), lockbox.NewRequest(in, lockbox.NewID(), time.Now(), s.Limits()), lockbox.CreateOptions{}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// A page of 50 costs the same however many requests the tenant holds.
func BenchmarkListPage(b *testing.B) {
	rdb, tc, name := benchRedis(b)
	s := redisstore.New(rdb, lockbox.DefaultLimits)
	s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30} // 100,000 pending in one tenant
	for _, stored := range []int{1_000, 100_000} {
		ten := fmt.Sprintf("bench-list-%d-%d", stored, time.Now().UnixNano())
		fill(b, s, ten, stored)
		for _, status := range []lockbox.Status{"", lockbox.StatusPending} {
			label := "all"
			if status != "" {
				label = string(status)
			}
			b.Run(fmt.Sprintf("%s/stored=%d/status=%s", name, stored, label), func(b *testing.B) {
				q := lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Status: status, Limit: 50}
				before := tc.n.Load()
				for b.Loop() {
					p, err := s.List(b.Context(), q)
					if err != nil || len(p.Requests) != 50 {
						b.Fatalf("got %d requests, %v", len(p.Requests), err)
					}
				}
				b.ReportMetric(float64(tc.n.Load()-before)/float64(b.N), "roundtrips/op")
			})
		}
	}
}

// Each transition is one round trip; the metric shows it.
func BenchmarkTransitions(b *testing.B) {
	rdb, tc, name := benchRedis(b)
	s := redisstore.New(rdb, lockbox.DefaultLimits)
	s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
	ten := fmt.Sprintf("bench-tx-%d", time.Now().UnixNano())
	in := lockboxtest.Input(lockboxtest.Scenario{})
	in.TenantID = ten
	create := func() lockbox.Request {
		r, _, err := s.Create(b.Context(), lockbox.NewRequest(in, lockbox.NewID(), time.Now(), s.Limits()), lockbox.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	create() // load the scripts

	b.Run(name+"/create", func(b *testing.B) {
		before := tc.n.Load()
		for b.Loop() {
			create()
		}
		b.ReportMetric(float64(tc.n.Load()-before)/float64(b.N), "roundtrips/op")
	})
	for _, action := range []string{"approve", "deny"} {
		b.Run(name+"/"+action, func(b *testing.B) {
			var trips int64
			for b.Loop() {
				b.StopTimer()
				id := create().RequestID
				before := tc.n.Load()
				b.StartTimer()
				var err error
				if action == "approve" {
					_, err = s.Act(b.Context(), ten, id, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
				} else {
					_, err = s.Act(b.Context(), ten, id, lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, time.Now()))
				}
				if err != nil {
					b.Fatal(err)
				}
				trips += tc.n.Load() - before
			}
			b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
		})
	}
}
