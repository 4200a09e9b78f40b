package redisstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// fileEmergency files emergency access in tenant under a policy that lets
// n provider-approvers in, for at most 4 hours.
func fileEmergency(t *testing.T, s *redisstore.Store, tenant string, n int, now time.Time) lockbox.Request {
	t.Helper()
	return fileScreened(t, s, tenant, lockboxtest.Scenario{Policy: lockboxtest.BreakGlass(n, 4), Duration: lockboxtest.Hours(2),
		Emergency: lockboxtest.Incident}, now)
}

// The approval that lets emergency access in racing a provider-approver's
// deny: exactly one wins; either the access is live, awaiting the
// customer's review (its deadline's timer set, the customer told), or it
// is denied and the customer never sees it.
func TestLastEmergencyApprovalRacingADeny(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		outcomes := map[lockbox.Status]int{}
		for range 30 {
			ten := tenant(t)
			r := fileEmergency(t, s, ten, 2, time.Now())
			_, err := s.Act(ctx, ten, r.RequestID, internal(lockbox.ActionInternalApprove, "lead-1"))
			require.NoError(t, err)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { _, errs[0] = s.Act(ctx, ten, r.RequestID, internal(lockbox.ActionInternalApprove, "lead-2")) })
			wg.Go(func() { _, errs[1] = s.Act(ctx, ten, r.RequestID, internal(lockbox.ActionInternalDeny, "lead-3")) })
			wg.Wait()
			require.True(t, (errs[0] == nil) != (errs[1] == nil), "exactly one wins: %v", errs)
			got, err := s.Get(ctx, ten, r.RequestID)
			require.NoError(t, err)
			outcomes[got.Status]++
			unreviewed, err := s.Unreviewed(ctx, ten)
			require.NoError(t, err)
			timers, err := b.rdb.ZRange(ctx, "lb:{"+ten+"}:timers", 0, -1).Result()
			require.NoError(t, err)
			if errs[0] == nil {
				assert.Equal(t, lockbox.StatusApproved, got.Status)
				assert.True(t, got.AwaitsReview())
				require.Len(t, unreviewed, 1)
				assert.Contains(t, timers, "review:"+r.RequestID)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpEmergencyApprove, lockbox.OpEmergencyApprove}, events(t, b.rdb, ten))
			} else {
				assert.Equal(t, lockbox.StatusDenied, got.Status)
				assert.Empty(t, unreviewed)
				assert.NotContains(t, timers, "review:"+r.RequestID)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpEmergencyApprove, lockbox.OpInternalDeny}, events(t, b.rdb, ten))
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

// The approval that lets emergency access in racing the tenant's lockdown:
// the access is either let in before the lockdown (and revoked by it) or
// canceled by it first (and the approval refused); no grant is live after
// the lockdown either way.
func TestEmergencyApprovalRacingALockdown(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		outcomes := map[lockbox.Status]int{}
		for range 30 {
			ten := tenant(t)
			r := fileEmergency(t, s, ten, 1, time.Now())
			var wg sync.WaitGroup
			var approveErr, lockErr error
			wg.Go(func() {
				_, approveErr = s.Act(ctx, ten, r.RequestID, internal(lockbox.ActionInternalApprove, "lead-1"))
			})
			wg.Go(func() { _, lockErr = s.Lockdown(ctx, ten, lockdownIn("race", nil), ada, time.Now()) })
			wg.Wait()
			require.NoError(t, lockErr)
			got, err := s.Get(ctx, ten, r.RequestID)
			require.NoError(t, err)
			outcomes[got.Status]++
			assert.False(t, got.AccessActive, "no grant is live after the lockdown")
			if approveErr == nil {
				assert.Equal(t, lockbox.StatusRevoked, got.Status, "let in first, then revoked")
			} else {
				assert.Equal(t, lockbox.KindConflict, lockbox.KindOf(approveErr))
				assert.Equal(t, lockbox.StatusCanceled, got.Status)
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

// An emergency approval asked of a request that is no emergency access is
// the internal approval it is (the record decides, whatever was asked):
// it releases the request to the customer, with nothing half-written.
func TestEmergencyApprovalOfAnOrdinaryReview(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		r := fileForReview(t, s, ten, 1, time.Now())
		got, err := s.Act(ctx, ten, r.RequestID, internal(lockbox.ActionEmergencyApprove, "lead-1"))
		require.NoError(t, err)
		assert.Equal(t, lockbox.StatusPending, got.Status)
		assert.False(t, got.AccessActive)
		grants, err := b.rdb.Keys(ctx, "lb:{"+ten+"}:grant:*").Result()
		require.NoError(t, err)
		assert.Empty(t, grants)
		assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpInternalApprove}, events(t, b.rdb, ten))

		e := fileEmergency(t, s, ten, 1, time.Now())
		got, err = s.Act(ctx, ten, e.RequestID, internal(lockbox.ActionInternalApprove, "lead-1"))
		require.NoError(t, err)
		assert.Equal(t, lockbox.StatusApproved, got.Status, "and an internal approval of emergency access lets it in")
	})
}
