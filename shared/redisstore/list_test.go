package redisstore_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// ids returns the request ids of a page.
func ids(p lockbox.Page) []string {
	out := make([]string, len(p.Requests))
	for i, r := range p.Requests {
		out[i] = r.RequestID
	}
	return out
}

// Paging walks every request newest first, and stays stable while new
// requests arrive between pages.
func TestListPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		var filed []string
		for range 25 {
			filed = append([]string{file(t, s, ten, "eng-1", time.Now()).RequestID}, filed...)
		}
		q := lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 10}
		var seen []string
		for page := 0; ; page++ {
			p, err := s.List(ctx, q)
			require.NoError(t, err)
			seen = append(seen, ids(p)...)
			// New requests arriving mid-walk never shift the pages.
			file(t, s, ten, "eng-1", time.Now())
			if p.Next == "" {
				break
			}
			require.Less(t, page, 5, "paging does not end")
			q.Cursor = p.Next
		}
		assert.Equal(t, filed, seen)
	})
}

// Status filters report the effective status, before any sweep.
func TestListStatusFilter(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		lim := lockbox.Limits{PendingTTL: 200 * time.Millisecond, AccessTTL: time.Hour, MaxAccessTTL: time.Hour}
		s := redisstore.New(b.rdb, lim)
		ten := tenant(t)
		expired := file(t, s, ten, "eng-1", time.Now())
		approved := file(t, s, ten, "eng-2", time.Now())
		denied := file(t, s, ten, "eng-1", time.Now())
		_, err := s.Act(ctx, ten, approved.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
		require.NoError(t, err)
		_, err = s.Act(ctx, ten, denied.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, time.Now()))
		require.NoError(t, err)
		if b.mini != nil {
			b.mini.FastForward(250 * time.Millisecond)
		} else {
			time.Sleep(250 * time.Millisecond)
		}
		pending := file(t, s, ten, "eng-1", time.Now())

		list := func(st lockbox.Status, requester string) []string {
			p, err := s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: ten, RequesterID: requester}, Status: st, Limit: 50})
			require.NoError(t, err)
			return ids(p)
		}
		assert.Equal(t, []string{pending.RequestID}, list(lockbox.StatusPending, ""))
		assert.Equal(t, []string{expired.RequestID}, list(lockbox.StatusExpired, ""), "expired before any sweep")
		assert.Equal(t, []string{approved.RequestID}, list(lockbox.StatusApproved, ""))
		assert.Equal(t, []string{denied.RequestID}, list(lockbox.StatusDenied, ""))
		assert.Empty(t, list(lockbox.StatusCompleted, ""))
		assert.Equal(t, []string{pending.RequestID, denied.RequestID, approved.RequestID, expired.RequestID}, list("", ""))
		assert.Equal(t, []string{approved.RequestID}, list("", "eng-2"), "a requester sees only their own")
		assert.Equal(t, []string{expired.RequestID}, list(lockbox.StatusExpired, "eng-1"))

		// After the sweep the same answers come from the recorded status.
		_, err = s.Sweep(ctx, ten, time.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, []string{expired.RequestID}, list(lockbox.StatusExpired, ""))
		assert.Empty(t, list(lockbox.StatusPending, "eng-2"))
	})
}

// A page examines a bounded number of entries: with many expired-but-unswept
// requests in the way, it ends early with a cursor and the walk still finds
// everything.
func TestListScanCap(t *testing.T) {
	b := miniBackend(t)
	lim := lockbox.Limits{PendingTTL: time.Second, AccessTTL: time.Hour, MaxAccessTTL: time.Hour}
	s := redisstore.New(b.rdb, lim)
	s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
	ten := tenant(t)
	old := file(t, s, ten, "eng-1", time.Now())
	for range 1500 {
		file(t, s, ten, "eng-1", time.Now())
	}
	b.mini.FastForward(2 * time.Second) // all 1501 are now effectively Expired
	live := file(t, s, ten, "eng-1", time.Now())
	_ = live

	// Pending: only `live`, found at once; the expired entries are examined
	// in bounded chunks.
	q := lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Status: lockbox.StatusPending, Limit: 10}
	p, err := s.List(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, []string{live.RequestID}, ids(p))
	pages := 1
	for p.Next != "" {
		q.Cursor = p.Next
		p, err = s.List(ctx, q)
		require.NoError(t, err)
		assert.Empty(t, p.Requests)
		pages++
	}
	assert.Equal(t, 2, pages, "1001 entries examined in the first page, the other 500 in the second")

	// Expired: the oldest is reached by walking.
	q = lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Status: lockbox.StatusExpired, Limit: 100}
	var all []string
	for {
		p, err := s.List(ctx, q)
		require.NoError(t, err)
		all = append(all, ids(p)...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	assert.Len(t, all, 1501)
	assert.Equal(t, old.RequestID, all[len(all)-1])
}

func TestListCursorBinding(t *testing.T) {
	b := miniBackend(t)
	s := redisstore.New(b.rdb, lockbox.DefaultLimits)
	ten := tenant(t)
	for range 3 {
		file(t, s, ten, "eng-1", time.Now())
	}
	p, err := s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)

	for name, q := range map[string]lockbox.Query{
		"another tenant":    {Scope: lockbox.Scope{TenantID: "other"}, Limit: 1, Cursor: p.Next},
		"another status":    {Scope: lockbox.Scope{TenantID: ten}, Status: lockbox.StatusPending, Limit: 1, Cursor: p.Next},
		"another requester": {Scope: lockbox.Scope{TenantID: ten, RequesterID: "eng-1"}, Limit: 1, Cursor: p.Next},
		"garbage":           {Scope: lockbox.Scope{TenantID: ten}, Limit: 1, Cursor: "!!!"},
		"edited":            {Scope: lockbox.Scope{TenantID: ten}, Limit: 1, Cursor: p.Next + "A"},
		"limit zero":        {Scope: lockbox.Scope{TenantID: ten}, Limit: 0},
		"limit 101":         {Scope: lockbox.Scope{TenantID: ten}, Limit: 101},
	} {
		_, err := s.List(ctx, q)
		assert.Equal(t, lockbox.KindInvalid, lockbox.KindOf(err), name)
	}
}

// pageBytes is the bound on a list page's record bytes that the
// architecture promises (DefaultMaxPageBytes).
const pageBytes = 1 << 20

// A page is bounded by bytes as well as by count: fifty records of the
// largest body, all '<' (which JSON with HTML escaping would store six times
// larger), are stored as they are, and a page of them returns early with a
// cursor, holding at most 1 MiB of records and one more, whatever the
// records hold. What the page allocates is asserted against a real
// redis-server only: miniredis runs the script inside the test's own
// process, and its Lua interpreter's allocations would count as the
// client's.
func TestListPageIsBoundedByBytes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
		ten := tenant(t)
		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.TenantID = ten
		in.Justification = strings.Repeat("<", lockbox.MaxJustification)
		in.ResourceIDs = make([]string, lockbox.MaxResourceIDs)
		for i := range in.ResourceIDs {
			in.ResourceIDs[i] = strings.Repeat("<", 1024)
		}
		for range 50 {
			_, _, err := s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), s.Limits()), lockbox.CreateOptions{})
			require.NoError(t, err)
		}
		doc, err := b.rdb.HGet(ctx, "lb:{"+ten+"}:req:"+firstID(t, s, ten), "doc").Result()
		require.NoError(t, err)
		assert.Less(t, len(doc), 60_000, "stored without HTML escaping (a record holds about 56 KB of '<')")
		assert.NotContains(t, doc, `\u003c`)

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		p, err := s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 50})
		require.NoError(t, err)
		runtime.ReadMemStats(&after)
		require.NotEmpty(t, p.Next, "the page ends early, with a cursor")
		require.NotEmpty(t, p.Requests, "a page holds at least one record")
		require.NoError(t, checkPageBytes(b, ten, p, pageBytes))
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: a page of %d records allocated %.1f MB in this process", b.name, len(p.Requests), float64(allocated)/1e6)
		if b.mini == nil {
			assert.Less(t, allocated, uint64(16<<20), "a page allocates far less than a function's 64 MiB")
		}

		// The check fails a page of a store whose bound is larger.
		wide := redisstore.New(b.rdb, lockbox.DefaultLimits)
		wide.MaxPageBytes = 5 << 19 // 2.5 MiB
		wp, err := wide.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 50})
		require.NoError(t, err)
		assert.Error(t, checkPageBytes(b, ten, wp, pageBytes), "a page of %d records passes the check", len(wp.Requests))

		// The cursor walks the rest, and every record is seen once.
		seen := len(p.Requests)
		for p.Next != "" {
			p, err = s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 50, Cursor: p.Next})
			require.NoError(t, err)
			require.NoError(t, checkPageBytes(b, ten, p, pageBytes))
			seen += len(p.Requests)
		}
		assert.Equal(t, 50, seen)
	})
}

func checkPageBytes(b backend, tenant string, p lockbox.Page, limit int) error {
	total, largest := 0, 0
	for _, r := range p.Requests {
		rec, err := b.rdb.HGetAll(ctx, "lb:{"+tenant+"}:req:"+r.RequestID).Result()
		if err != nil {
			return err
		}
		n := 0
		for _, v := range rec {
			n += len(v)
		}
		total, largest = total+n, max(largest, n)
	}
	if total > limit+largest {
		return fmt.Errorf("a page of %d records holds %d bytes of records, more than %d and one record of %d", len(p.Requests), total, limit, largest)
	}
	return nil
}

func firstID(t *testing.T, s *redisstore.Store, tenant string) string {
	t.Helper()
	p, err := s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: tenant}, Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, p.Requests)
	return p.Requests[0].RequestID
}
