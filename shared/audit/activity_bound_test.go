package audit

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// pageReadBound is the most event bytes one activity page may read from
// Redis whatever the backlog: far inside a function's 64 MiB.
const pageReadBound = 9 << 20

// countingEvents counts the events, and their bytes, a page reads from the
// store.
type countingEvents struct {
	*redisstore.Store
	events, bytes int
}

func (c *countingEvents) count(evs []lockbox.LoggedEvent) {
	c.events += len(evs)
	for _, e := range evs {
		c.bytes += len(e.Event.Reason) + len(e.Event.SupportRequest) + len(e.Event.RequestID) + len(e.Event.Actor.ID)
	}
}

func (c *countingEvents) ReadEvents(ctx context.Context, tenant, after, upto string, n int) ([]lockbox.LoggedEvent, error) {
	evs, err := c.Store.ReadEvents(ctx, tenant, after, upto, n)
	c.count(evs)
	return evs, err
}

func (c *countingEvents) ReadEventsBefore(ctx context.Context, tenant, before, after string, n int) ([]lockbox.LoggedEvent, error) {
	evs, err := c.Store.ReadEventsBefore(ctx, tenant, before, after, n)
	c.count(evs)
	return evs, err
}

// fillBacklog appends n events of one requester, each with a reason of
// reasonBytes, to tenant's stream as the store's scripts write them, none
// exported: seqs 1..n, a second apart from start.
func fillBacklog(t testing.TB, rdb redis.UniversalClient, tenant string, n, reasonBytes int, start time.Time) {
	reason := strings.Repeat("x", reasonBytes)
	for i := 0; i < n; i += 200 {
		_, err := rdb.Pipelined(context.Background(), func(p redis.Pipeliner) error {
			for j := i; j < min(i+200, n); j++ {
				p.XAdd(context.Background(), &redis.XAddArgs{Stream: redisstore.EventsKey(tenant), Values: []any{
					redisstore.EventField, redisstore.EncodeEvent(lockbox.Event{
						Seq: uint64(j + 1), OperationName: lockbox.OpCreate, RequestID: fmt.Sprintf("00000000-0000-4000-8000-%012d", j),
						Time: start.Add(time.Duration(j) * time.Second), Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"},
						ToStatus: lockbox.StatusPending, Reason: reason, SupportRequest: "INC-1001",
					}),
				}})
			}
			return nil
		})
		require.NoError(t, err)
	}
}

// One requester's 3,000 waiting events with 16 KiB reasons: whatever page
// is asked for — the newest event, a full page, or a filter that matches
// nothing waiting — it reads a bounded number of events and bytes.
func TestActivityPageIsBounded(t *testing.T) {
	f := setup(t)
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	fillBacklog(t, f.rdb, "contoso", 3000, 16<<10, start)
	counting := &countingEvents{Store: f.store}
	a := &Activity{Events: counting, Archive: f.bkt}
	window := lockbox.ActivityQuery{TenantID: "contoso", From: start.Add(-time.Hour), To: start.Add(24 * time.Hour)}
	for _, q := range []lockbox.ActivityQuery{
		{Limit: 1},
		{Limit: MaxActivityLimit},
		{Limit: 10, RequestID: "00000000-0000-4000-8000-999999999999"},
		{Limit: 10, Operations: []string{lockbox.OpRevoke}},
	} {
		q.TenantID, q.From, q.To = window.TenantID, window.From, window.To
		counting.events, counting.bytes = 0, 0
		page, err := a.Activity(t.Context(), q)
		require.NoError(t, err)
		t.Logf("limit %d, request %q, operations %v: %d events on the page, %d events and %.1f MiB read",
			q.Limit, q.RequestID, q.Operations, len(page.Events), counting.events, float64(counting.bytes)/(1<<20))
		assert.LessOrEqual(t, counting.bytes, pageReadBound, "%+v: bytes read", q)
		assert.Less(t, counting.events, 3000, "%+v: events read", q)
		if q.RequestID == "" && len(q.Operations) == 0 {
			require.NotEmpty(t, page.Events)
			assert.Equal(t, uint64(3000), page.Events[0].Seq, "newest first")
		}
	}
}

// The same backlog on a real Redis: a page's allocations (the replies
// decoded, the events held) stay under 16 MiB, far inside a function's
// 64 MiB.
func TestActivityPageMemoryIsBounded(t *testing.T) {
	url := lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_URL", "make test-integration runs a real redis-server")
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	tenant := uniqueTenant("bounded")
	t.Cleanup(func() { rdb.Del(context.Background(), redisstore.EventsKey(tenant)) })
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	fillBacklog(t, rdb, tenant, 3000, 16<<10, start)
	a := &Activity{Events: redisstore.New(rdb, lockbox.DefaultLimits), Archive: newMemStore()}
	for _, limit := range []int{1, MaxActivityLimit} {
		q := lockbox.ActivityQuery{TenantID: tenant, From: start.Add(-time.Hour), To: start.Add(24 * time.Hour), Limit: limit}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		page, err := a.Activity(t.Context(), q)
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		require.NotEmpty(t, page.Events)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("limit %d: %d events, %.1f MiB allocated", limit, len(page.Events), float64(allocated)/(1<<20))
		assert.Less(t, allocated, uint64(16<<20), "limit %d: bytes allocated by one page", limit)
	}
}
