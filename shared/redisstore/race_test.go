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
