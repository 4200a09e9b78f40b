package audit

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

const benchEvents = 100_000

// fillStream appends n events to tenant's stream as the store's scripts
// write them, 1,000 per pipeline.
func fillStream(b *testing.B, rdb redis.UniversalClient, tenant string, n int) {
	ctx := context.Background()
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC).UnixMilli()
	for i := 0; i < n; i += 1000 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < min(i+1000, n); j++ {
				p.XAdd(ctx, &redis.XAddArgs{Stream: redisstore.EventsKey(tenant), Values: []any{
					redisstore.EventField, redisstore.EncodeEvent(lockbox.Event{
						Seq: uint64(j + 1), OperationName: lockbox.OpCreate, RequestID: fmt.Sprintf("00000000-0000-4000-8000-%012d", j),
						Time: time.UnixMilli(start + int64(j)).UTC(), Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"},
						ToStatus: lockbox.StatusPending, SupportRequest: "INC-1001",
					}),
				}})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchRedis(b *testing.B) redis.UniversalClient {
	if url := os.Getenv("LOCKBOX_TEST_REDIS_URL"); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			b.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		b.Cleanup(func() { rdb.Close() })
		return rdb
	}
	m := miniredis.RunT(b)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	b.Cleanup(func() { rdb.Close() })
	return rdb
}

// BenchmarkExportMinIO exports 100,000 events of one tenant into MinIO
// (objects of the default batch) and, in the same run, PutObjects the same bytes
// as the same objects: the ceiling the export is measured against.
func BenchmarkExportMinIO(b *testing.B) {
	m := startMinIO(b)
	bucket := m.store(b, "bench", false)
	rdb := benchRedis(b)
	var tenant string
	e := NewExporter(redisstore.New(rdb, lockbox.DefaultLimits), bucket, testKey)
	ctx := context.Background()

	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			tenant = uniqueTenant("bench") // a fresh archive each time
			fillStream(b, rdb, tenant, benchEvents)
			b.StartTimer()
			res, err := e.ExportTenant(ctx, tenant)
			if err != nil || res.Exported != benchEvents {
				b.Fatalf("exported %d: %v", res.Exported, err)
			}
		}
		b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	keys, err := bucket.List(ctx, TenantPrefix(tenant))
	if err != nil || len(keys) != benchEvents/e.Batch {
		b.Fatalf("%d objects: %v", len(keys), err)
	}
	bodies := make([][]byte, len(keys))
	size := 0
	for i, k := range keys {
		if bodies[i], err = bucket.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
		size += len(bodies[i])
	}
	b.Run("raw-putobject", func(b *testing.B) {
		for b.Loop() {
			for i, body := range bodies {
				if err := bucket.Put(ctx, fmt.Sprintf("raw/%d.jsonl", i), body, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(size)/1e6, "MB/op")
	})
}

// BenchmarkActivityBacklog reads the newest page of a tenant whose 3,000
// waiting events carry 16 KiB reasons (one requester's worst): B/op is what
// one page allocates.
func BenchmarkActivityBacklog(b *testing.B) {
	rdb := benchRedis(b)
	tenant := uniqueTenant("backlog")
	b.Cleanup(func() { rdb.Del(context.Background(), redisstore.EventsKey(tenant)) })
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	fillBacklog(b, rdb, tenant, 3000, 16<<10, start)
	a := &Activity{Events: redisstore.New(rdb, lockbox.DefaultLimits), Archive: newMemStore()}
	for _, limit := range []int{1, MaxActivityLimit} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			q := lockbox.ActivityQuery{TenantID: tenant, From: start.Add(-time.Hour), To: start.Add(24 * time.Hour), Limit: limit}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Activity(context.Background(), q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
