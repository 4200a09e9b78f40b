package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// The scripts count every transition and check in the step that makes it,
// and Stats reads them with the gauges: transitions by operation, checks by
// result, requests by effective status (an ended window is Expired, an
// ended grant Completed, before the sweep records them), the audit events
// waiting, the outbox.
func TestStatsCountTransitionsAndChecks(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		lim := lockbox.Limits{PendingTTL: 300 * time.Millisecond, AccessTTL: 300 * time.Millisecond, MaxAccessTTL: time.Hour}
		s := redisstore.New(b.rdb, lim)
		ten := tenant(t)
		now := time.Now().Truncate(time.Millisecond)
		act := func(id string, a lockbox.Action, by string) {
			t.Helper()
			_, err := s.Act(ctx, ten, id, lockboxtest.Decision(a, by, "reason of "+by, nil, now))
			require.NoError(t, err)
		}
		revoked, completed := file(t, s, ten, "eng-1", now), file(t, s, ten, "eng-2", now)
		denied := file(t, s, ten, "eng-3", now)
		file(t, s, ten, "eng-4", now) // its window runs out
		canceled := file(t, s, ten, "eng-5", now)
		act(revoked.RequestID, lockbox.ActionApprove, "alice")
		act(completed.RequestID, lockbox.ActionApprove, "alice")
		act(denied.RequestID, lockbox.ActionDeny, "bob")
		act(canceled.RequestID, lockbox.ActionCancel, "eng-5")
		in := lockbox.CheckInput{TenantID: ten, ResourceID: "vm-1", AccessLevel: "Read", Method: "GET", URI: "/"}
		for _, who := range []string{"eng-1", "eng-1", "eng-9"} {
			_, err := s.Check(ctx, ten, who, in, now)
			require.NoError(t, err)
		}

		st, err := s.Stats(ctx, now, nil)
		require.NoError(t, err)
		require.Contains(t, st.Tenants, ten)
		got := st.PerTenant[ten]
		assert.Equal(t, map[string]int64{"file": 5, "approve": 2, "deny": 1, "cancel": 1}, got.Transitions)
		assert.Equal(t, map[string]int64{"allow": 2, lockbox.CodeNoGrant: 1}, got.Checks)
		assert.Equal(t, map[lockbox.Status]int64{lockbox.StatusInternalReview: 0, lockbox.StatusPending: 1, lockbox.StatusApproved: 2, lockbox.StatusDenied: 1,
			lockbox.StatusExpired: 0, lockbox.StatusCompleted: 0, lockbox.StatusRevoked: 0, lockbox.StatusCanceled: 1}, got.Requests)
		assert.Greater(t, got.Unexported, int64(8), "the events wait for export")
		assert.Positive(t, got.Outbox, "the notifications wait")
		assert.GreaterOrEqual(t, st.Transitions["file"], int64(5), "the totals hold the tenant's")

		act(revoked.RequestID, lockbox.ActionRevoke, "carol")
		later := now.Add(400 * time.Millisecond)
		if b.mini != nil {
			b.mini.FastForward(400 * time.Millisecond)
		} else {
			time.Sleep(time.Until(later))
		}
		st, err = s.Stats(ctx, later, st.Tenants)
		require.NoError(t, err)
		got = st.PerTenant[ten]
		assert.Equal(t, map[lockbox.Status]int64{lockbox.StatusInternalReview: 0, lockbox.StatusPending: 0, lockbox.StatusApproved: 0, lockbox.StatusDenied: 1,
			lockbox.StatusExpired: 1, lockbox.StatusCompleted: 1, lockbox.StatusRevoked: 1, lockbox.StatusCanceled: 1}, got.Requests,
			"ended windows and grants count as Expired and Completed before the sweep")
		_, err = s.Sweep(ctx, ten, later)
		require.NoError(t, err)
		st, err = s.Stats(ctx, later, st.Tenants)
		require.NoError(t, err)
		got = st.PerTenant[ten]
		assert.Equal(t, map[string]int64{"file": 5, "approve": 2, "deny": 1, "cancel": 1, "revoke": 1, "expire": 1, "complete": 1},
			got.Transitions, "the sweep's expiry and completion count too")
		assert.Equal(t, int64(1), got.Requests[lockbox.StatusExpired])
		assert.Equal(t, int64(1), got.Requests[lockbox.StatusCompleted])
	})
}

// The oldest pending request's age and the oldest unexported event's are
// read from the live window index and the stream.
func TestStatsAges(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		now := time.Now().Truncate(time.Millisecond)
		file(t, s, ten, "eng-1", now.Add(-time.Hour))
		file(t, s, ten, "eng-2", now)
		st, err := s.Stats(ctx, now, nil)
		require.NoError(t, err)
		got := st.PerTenant[ten]
		assert.Equal(t, time.Hour, got.OldestPending)
		assert.Equal(t, lockbox.DefaultLimits.PendingTTL-time.Hour, got.NextExpiry, "the first window ends 95 hours from now")
		assert.Less(t, got.OldestUnexported, time.Minute, "the stream's ids are Redis's clock, not the filing's")
		assert.True(t, got.LastExport.IsZero(), "nothing exported yet")
		assert.GreaterOrEqual(t, st.OldestPending, time.Hour)

		idle := tenant(t)
		denied := file(t, s, idle, "eng-1", now.Add(-time.Hour))
		_, err = s.Act(ctx, idle, denied.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, now))
		require.NoError(t, err)
		st, err = s.Stats(ctx, now, nil)
		require.NoError(t, err)
		assert.Equal(t, time.Duration(-1), st.PerTenant[idle].NextExpiry, "nothing pending")
	})
}

// A scrape is one round trip while the tenants are those the caller knew;
// a tenant that appeared costs one more. A check counts in its tenant,
// which its first filing made known.
func TestStatsRoundTrips(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		file(t, s, ten, "eng-1", time.Now())
		count := func(f func()) int64 {
			before := b.trip.n.Load()
			f()
			return b.trip.n.Load() - before
		}
		var st redisstore.Stats
		var err error
		assert.EqualValues(t, 2, count(func() { st, err = s.Stats(ctx, time.Now(), nil) }), "first scrape: the tenants, then their figures")
		require.NoError(t, err)
		assert.EqualValues(t, 1, count(func() { st, err = s.Stats(ctx, time.Now(), st.Tenants) }), "then one round trip")
		require.NoError(t, err)

		in := lockbox.CheckInput{TenantID: ten, ResourceID: "vm-9", AccessLevel: "Read", Method: "GET", URI: "/"}
		_, err = s.Check(ctx, ten, "eng-1", in, time.Now()) // loads the script
		require.NoError(t, err)
		assert.EqualValues(t, 1, count(func() { _, err = s.Check(ctx, ten, "eng-1", in, time.Now()) }), "a check is one round trip")
		require.NoError(t, err)
		assert.EqualValues(t, 1, count(func() { st, err = s.Stats(ctx, time.Now(), st.Tenants) }), "its counter is the tenant's, known")
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{lockbox.CodeNoGrant: 2}, st.PerTenant[ten].Checks)
	})
}
