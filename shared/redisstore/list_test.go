package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

// ids returns the request ids of a page.
func ids(p redisstore.Page) []string {
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
		q := redisstore.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 10}
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
		_, err := s.Approve(ctx, ten, approved.RequestID, "alice", "ok", nil, time.Now())
		require.NoError(t, err)
		_, err = s.Deny(ctx, ten, denied.RequestID, "alice", "no", time.Now())
		require.NoError(t, err)
		if b.mini != nil {
			b.mini.FastForward(250 * time.Millisecond)
		} else {
			time.Sleep(250 * time.Millisecond)
		}
		pending := file(t, s, ten, "eng-1", time.Now())

		list := func(st lockbox.Status, requester string) []string {
			p, err := s.List(ctx, redisstore.Query{Scope: lockbox.Scope{TenantID: ten, RequesterID: requester}, Status: st, Limit: 50})
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
		_, err = s.Sweep(ctx, ten, time.Now().Add(time.Hour), 10)
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
	s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
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
	q := redisstore.Query{Scope: lockbox.Scope{TenantID: ten}, Status: lockbox.StatusPending, Limit: 10}
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
	q = redisstore.Query{Scope: lockbox.Scope{TenantID: ten}, Status: lockbox.StatusExpired, Limit: 100}
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
	p, err := s.List(ctx, redisstore.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)

	for name, q := range map[string]redisstore.Query{
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
