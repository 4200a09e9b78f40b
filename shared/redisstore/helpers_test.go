package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// backend is a Redis to test against: miniredis (always) or a real
// redis-server (LOCKBOX_TEST_REDIS_URL).
type backend struct {
	name string
	rdb  *redis.Client
	mini *miniredis.Miniredis // nil for a real server
	trip *tripCounter
}

// eachBackend runs f on miniredis and on a real redis-server
// (LOCKBOX_TEST_REDIS_URL). Without a real server that subtest is skipped
// with the reason, and in CI it fails instead.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("miniredis", func(t *testing.T) { f(t, miniBackend(t)) })
	t.Run("redis-server", func(t *testing.T) { f(t, requireRealBackend(t)) })
}

func requireRealBackend(t *testing.T) backend {
	t.Helper()
	return realBackend(t, lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_URL", "make test-integration runs a real redis-server"))
}

func miniBackend(t *testing.T) backend {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	tc := &tripCounter{}
	rdb.AddHook(tc)
	return backend{name: "miniredis", rdb: rdb, mini: m, trip: tc}
}

func realBackend(t *testing.T, url string) backend {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("LOCKBOX_TEST_REDIS_URL: %v", err)
	}
	opt.MaxRetries = -1
	opt.PoolSize = 256
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("real redis at %s: %v", url, err)
	}
	tc := &tripCounter{}
	rdb.AddHook(tc)
	return backend{name: "redis-server", rdb: rdb, trip: tc}
}

// tripCounter counts round trips: one per command or per pipeline.
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// tenant returns a tenant id no other test uses, so tests may share a server.
func tenant(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "t-" + hex.EncodeToString(b)
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// file creates a request in tenant filed by requester at now.
func file(t *testing.T, s *redisstore.Store, tenant, requester string, now time.Time) lockbox.Request {
	t.Helper()
	in := lockboxtest.Input(lockboxtest.Scenario{})
	in.TenantID, in.Requester.ID = tenant, requester
	r := lockbox.NewRequest(in, newID(), now, s.Limits()).FiledAs(lockboxtest.Filer(lockboxtest.Scenario{}))
	r, _, err := s.Create(context.Background(), r, lockbox.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return r
}

// decodeEvent decodes a stream entry the scripts wrote.
func decodeEvent(t testing.TB, tenant string, m redis.XMessage) lockbox.Event {
	t.Helper()
	v, _ := m.Values[redisstore.EventField].(string)
	e, err := redisstore.DecodeEntry(tenant, []any{redisstore.EventField, v})
	if err != nil || len(m.Values) != 1 {
		t.Fatalf("stream entry %s: %v (%d fields)", m.ID, err, len(m.Values))
	}
	return e
}

// events returns the operations in a tenant's audit stream, in order.
func events(t *testing.T, rdb redis.UniversalClient, tenant string) []string {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), redisstore.EventsKey(tenant), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	ops := make([]string, len(msgs))
	for i, m := range msgs {
		e := decodeEvent(t, tenant, m)
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d of %s has seq %d, want %d", i, tenant, e.Seq, i+1)
		}
		ops[i] = e.OperationName
	}
	return ops
}
