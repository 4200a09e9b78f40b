package redisstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// 200 concurrent approvals, denials, revocations and cancellations of one
// request: each step of its life has exactly one outcome (approve, deny or
// cancel from Pending; then, if approved, at most one revoke), every other
// call is refused, and the audit stream holds exactly the events of the
// outcome.
func TestEveryActionRacing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		for round := range 5 {
			ten := tenant(t)
			r := file(t, s, ten, "eng-1", time.Now())
			actions := []lockbox.Action{lockbox.ActionApprove, lockbox.ActionDeny, lockbox.ActionRevoke, lockbox.ActionCancel}
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := map[lockbox.Action]int{}
			for i := range 200 {
				wg.Go(func() {
					a := actions[i%len(actions)]
					act := lockboxtest.Decision(a, fmt.Sprintf("approver-%d", i), "race", nil, time.Now())
					if a == lockbox.ActionCancel {
						act.Actor.Kind = lockbox.ActorEngineer
					}
					_, err := s.Act(ctx, ten, r.RequestID, act)
					mu.Lock()
					defer mu.Unlock()
					switch k := lockbox.KindOf(err); {
					case err == nil:
						wins[a]++
					case k != lockbox.KindConflict:
						t.Errorf("%s: %v", a, err)
					}
				})
			}
			wg.Wait()
			got, err := s.Get(ctx, ten, r.RequestID)
			require.NoError(t, err)
			ops := events(t, b.rdb, ten)
			first := wins[lockbox.ActionApprove] + wins[lockbox.ActionDeny] + wins[lockbox.ActionCancel]
			require.Equal(t, 1, first, "round %d: one outcome from Pending: %v", round, wins)
			switch got.Status {
			case lockbox.StatusRevoked:
				assert.Equal(t, map[lockbox.Action]int{lockbox.ActionApprove: 1, lockbox.ActionRevoke: 1}, wins)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpApprove, lockbox.OpRevoke}, ops)
			case lockbox.StatusApproved:
				assert.Equal(t, map[lockbox.Action]int{lockbox.ActionApprove: 1}, wins)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpApprove}, ops)
			case lockbox.StatusDenied:
				assert.Equal(t, map[lockbox.Action]int{lockbox.ActionDeny: 1}, wins)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpDeny}, ops)
			case lockbox.StatusCanceled:
				assert.Equal(t, map[lockbox.Action]int{lockbox.ActionCancel: 1}, wins)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpCancel}, ops)
			default:
				t.Fatalf("round %d: final status %s", round, got.Status)
			}
		}
	})
}

// A quorum's last approval racing a deny: exactly one of them takes effect.
func TestQuorumLastApprovalRacingADeny(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		outcomes := map[lockbox.Status]int{}
		for range 40 {
			ten := tenant(t)
			set := lockbox.DefaultSettings(true)
			set.RequiredApprovals = 2
			_, err := s.PutSettings(ctx, ten, set, 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, "quorum", time.Now())
			require.NoError(t, err)
			r := file(t, s, ten, "eng-1", time.Now())
			_, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "one", nil, time.Now()))
			require.NoError(t, err)

			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() {
				_, errs[0] = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "bob", "two", nil, time.Now()))
			})
			wg.Go(func() {
				_, errs[1] = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "carol", "no", nil, time.Now()))
			})
			wg.Wait()
			require.True(t, (errs[0] == nil) != (errs[1] == nil), "exactly one wins: %v", errs)
			got, err := s.Get(ctx, ten, r.RequestID)
			require.NoError(t, err)
			outcomes[got.Status]++
			ops := events(t, b.rdb, ten)
			if errs[0] == nil {
				assert.Equal(t, lockbox.StatusApproved, got.Status)
				assert.Len(t, got.Approvals, 2)
				assert.Equal(t, []string{lockbox.OpUpdateSettings, lockbox.OpCreate, lockbox.OpApprove, lockbox.OpApprove}, ops)
			} else {
				assert.Equal(t, lockbox.StatusDenied, got.Status)
				assert.Len(t, got.Approvals, 1)
				assert.Equal(t, []string{lockbox.OpUpdateSettings, lockbox.OpCreate, lockbox.OpApprove, lockbox.OpDeny}, ops)
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

// fileForReview files a request that the provider's internal review holds
// (n provider-approvers must approve it first).
func fileForReview(t *testing.T, s *redisstore.Store, tenant string, n int, now time.Time) lockbox.Request {
	t.Helper()
	return fileScreened(t, s, tenant, lockboxtest.Scenario{Policy: lockboxtest.Review(n)}, now)
}

// fileScreened files sc's request in tenant as sc's filer, screened by
// sc's policy, which holds it for the provider's approvers.
func fileScreened(t *testing.T, s *redisstore.Store, tenant string, sc lockboxtest.Scenario, now time.Time) lockbox.Request {
	t.Helper()
	in := lockboxtest.Input(sc)
	in.TenantID = tenant
	filer := lockboxtest.Filer(sc)
	r, err := sc.Policy.Screen(lockbox.NewRequest(in, newID(), now, s.Limits()).FiledAs(filer), filer)
	require.NoError(t, err)
	r, _, err = s.Create(ctx, r, lockbox.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, lockbox.StatusInternalReview, r.Status)
	return r
}

func internal(a lockbox.Action, by string) lockbox.Act {
	return lockbox.Act{Action: a, Actor: lockbox.Actor{Kind: lockbox.ActorProviderApprover, ID: by}, Principal: lockbox.UserKey(by),
		Reason: "race", At: time.Now()}
}

// The internal approval that releases a request racing the end of its
// review window (and the sweep recording it): the request is either
// released to the customer (Pending, its approval window open, the customer
// told) or expired, never both, and the audit log holds exactly the events
// of that outcome.
func TestInternalApprovalRacingExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		lim := lockbox.DefaultLimits
		lim.InternalReviewTTL = 20 * time.Millisecond
		s := redisstore.New(b.rdb, lim)
		outcomes := map[lockbox.Status]int{}
		for round := range 40 {
			ten := tenant(t)
			r := fileForReview(t, s, ten, 1, time.Now())
			var wg sync.WaitGroup
			var approveErr error
			wg.Go(func() {
				time.Sleep(time.Duration(round%8) * 5 * time.Millisecond)
				_, approveErr = s.Act(ctx, ten, r.RequestID, internal(lockbox.ActionInternalApprove, "lead-1"))
			})
			wg.Go(func() {
				time.Sleep(lim.InternalReviewTTL)
				if b.mini != nil {
					b.mini.FastForward(lim.InternalReviewTTL)
				}
				_, err := s.Sweep(ctx, ten, time.Now().Add(time.Hour))
				assert.NoError(t, err)
			})
			wg.Wait()
			_, err := s.Sweep(ctx, ten, time.Now().Add(time.Hour)) // whatever the first sweep found not yet due
			require.NoError(t, err)
			got, err := s.Get(ctx, ten, r.RequestID)
			require.NoError(t, err)
			outcomes[got.Status]++
			ops := events(t, b.rdb, ten)
			notes, err := b.rdb.XLen(ctx, "lb:{"+ten+"}:outbox").Result()
			require.NoError(t, err)
			if approveErr == nil {
				assert.Equal(t, lockbox.StatusPending, got.Status, "round %d", round)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpInternalApprove}, ops, "round %d", round)
				assert.Equal(t, int64(1), notes, "the customer is told of the released request")
			} else {
				assert.Equal(t, lockbox.KindConflict, lockbox.KindOf(approveErr), "round %d: %v", round, approveErr)
				assert.Equal(t, lockbox.StatusExpired, got.Status, "round %d", round)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpExpire}, ops, "round %d", round)
				assert.Zero(t, notes, "nobody is told of an expired review")
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

// The last of a review's internal approvals racing a provider's deny:
// exactly one takes effect.
func TestLastInternalApprovalRacingADeny(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		outcomes := map[lockbox.Status]int{}
		for range 40 {
			ten := tenant(t)
			r := fileForReview(t, s, ten, 2, time.Now())
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
			ops := events(t, b.rdb, ten)
			if errs[0] == nil {
				assert.Equal(t, lockbox.StatusPending, got.Status)
				assert.Len(t, got.ProviderChecks.InternalApprovals, 2)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpInternalApprove, lockbox.OpInternalApprove}, ops)
			} else {
				assert.Equal(t, lockbox.StatusDenied, got.Status)
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpInternalApprove, lockbox.OpInternalDeny}, ops)
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

// An internal approval racing the engineer's cancel of a request in
// review: the cancel either wins at once (the approval refused, the
// customer never told) or comes after the release (withdrawing the pending
// request); an approval never follows a cancel.
func TestInternalApprovalRacingACancel(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		outcomes := map[string]int{}
		for range 40 {
			ten := tenant(t)
			r := fileForReview(t, s, ten, 1, time.Now())
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { _, errs[0] = s.Act(ctx, ten, r.RequestID, internal(lockbox.ActionInternalApprove, "lead-1")) })
			wg.Go(func() {
				_, errs[1] = s.Act(ctx, ten, r.RequestID, lockbox.Act{Action: lockbox.ActionCancel,
					Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: lockboxtest.Requester}, Principal: lockbox.UserKey(lockboxtest.Requester),
					Reason: "fixed", OnlyRequester: lockbox.UserKey(lockboxtest.Requester), At: time.Now()})
			})
			wg.Wait()
			require.NoError(t, errs[1], "the cancel always succeeds: in review or just released")
			got, err := s.Get(ctx, ten, r.RequestID)
			require.NoError(t, err)
			assert.Equal(t, lockbox.StatusCanceled, got.Status)
			ops := events(t, b.rdb, ten)
			if errs[0] == nil {
				outcomes["released, then canceled"]++
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpInternalApprove, lockbox.OpCancel}, ops)
			} else {
				outcomes["canceled in review"]++
				assert.Equal(t, lockbox.KindConflict, lockbox.KindOf(errs[0]))
				assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpCancel}, ops)
				notes, err := b.rdb.XLen(ctx, "lb:{"+ten+"}:outbox").Result()
				require.NoError(t, err)
				assert.Zero(t, notes, "the customer never hears of it")
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}
