package redisstore_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

var ada = lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}

func lockdownIn(reason string, until *time.Time) lockbox.LockdownInput {
	return lockbox.LockdownInput{Reason: reason, Until: until}
}

// A lockdown against a request of every status: a live grant is revoked, a
// request waiting for a decision (also one approval short of a quorum) is
// canceled, each with the audit event its action always records; every
// other status — and a window or grant that ended without the sweep having
// recorded it — is left exactly as it was.
func TestLockdownAgainstEveryStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten, now := tenant(t), time.Now()
		act := func(id string, a lockbox.Action, by string) {
			t.Helper()
			d := lockboxtest.Decision(a, by, "ok", nil, now)
			if a == lockbox.ActionCancel {
				d.Principal = lockbox.UserKey(lockboxtest.Requester)
			}
			_, err := s.Act(ctx, ten, id, d)
			require.NoError(t, err)
		}
		endKey := func(kind, id string) {
			t.Helper()
			require.NoError(t, b.rdb.Del(ctx, "lb:{"+ten+"}:"+kind+":"+id).Err())
		}
		type row struct {
			name  string
			setup func(id string)
			want  lockbox.Status // after the lockdown
			ended string         // "revoked", "canceled" or ""
		}
		rows := []row{
			{"in the provider's internal review", nil, lockbox.StatusCanceled, "canceled"},
			{"pending", func(string) {}, lockbox.StatusCanceled, "canceled"},
			{"approved (live grant)", func(id string) { act(id, lockbox.ActionApprove, "alice") }, lockbox.StatusRevoked, "revoked"},
			{"denied", func(id string) { act(id, lockbox.ActionDeny, "alice") }, lockbox.StatusDenied, ""},
			{"revoked", func(id string) { act(id, lockbox.ActionApprove, "alice"); act(id, lockbox.ActionRevoke, "bob") }, lockbox.StatusRevoked, ""},
			{"canceled", func(id string) { act(id, lockbox.ActionCancel, "x") }, lockbox.StatusCanceled, ""},
			{"expired, not yet swept", func(id string) { endKey("pending", id) }, lockbox.StatusExpired, ""},
			{"expired and swept", func(id string) { endKey("pending", id) }, lockbox.StatusExpired, ""},
			{"completed, not yet swept", func(id string) { act(id, lockbox.ActionApprove, "alice"); endKey("grant", id) }, lockbox.StatusCompleted, ""},
			{"completed and swept", func(id string) { act(id, lockbox.ActionApprove, "alice"); endKey("grant", id) }, lockbox.StatusCompleted, ""},
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			if r.setup == nil { // filed under a policy requiring an internal approval
				ids[i] = fileForReview(t, s, ten, 1, now).RequestID
				continue
			}
			ids[i] = file(t, s, ten, lockboxtest.Requester, now).RequestID
			r.setup(ids[i])
		}
		// The sweep records what time did to the "swept" rows (and the
		// unswept ones' keys are deleted only now, after it).
		_, err := s.Sweep(ctx, ten, now.Add(lockbox.DefaultLimits.PendingTTL+lockbox.DefaultLimits.MaxAccessTTL+time.Hour))
		require.NoError(t, err)
		for i, r := range rows {
			if r.name == "expired and swept" || r.name == "completed and swept" {
				got, err := s.Get(ctx, ten, ids[i])
				require.NoError(t, err)
				require.Equal(t, r.want, got.Status, r.name)
			}
		}
		before := map[string]lockbox.Request{}
		for i := range rows {
			before[ids[i]], err = s.Get(ctx, ten, ids[i])
			require.NoError(t, err)
		}
		opsBefore := events(t, b.rdb, ten)

		res, err := s.Lockdown(ctx, ten, lockdownIn("incident INC-7 under investigation", nil), ada, now)
		require.NoError(t, err)
		assert.True(t, res.Active)
		assert.Equal(t, "ada", res.By)
		assert.Nil(t, res.Until)

		var wantRevoked, wantCanceled, wantOps []string
		for i, r := range rows {
			got, err := s.Get(ctx, ten, ids[i])
			require.NoError(t, err)
			assert.Equal(t, r.want, got.Status, r.name)
			switch r.ended {
			case "revoked":
				wantRevoked = append(wantRevoked, ids[i])
				wantOps = append(wantOps, lockbox.OpRevoke)
				assert.False(t, got.AccessActive, r.name)
				require.NotNil(t, got.Closure, r.name)
				assert.Equal(t, "ada", got.Closure.By)
				assert.Equal(t, "incident INC-7 under investigation", got.Closure.Reason)
				n, err := b.rdb.Exists(ctx, "lb:{"+ten+"}:grant:"+ids[i]).Result()
				require.NoError(t, err)
				assert.Zero(t, n, "the grant key is gone")
			case "canceled":
				wantCanceled = append(wantCanceled, ids[i])
				wantOps = append(wantOps, lockbox.OpCancel)
				require.NotNil(t, got.Closure, r.name)
				assert.Equal(t, "ada", got.Closure.By)
			default:
				assert.Equal(t, before[ids[i]], got, "%s is untouched", r.name)
			}
		}
		assert.ElementsMatch(t, wantRevoked, res.Revoked)
		assert.ElementsMatch(t, wantCanceled, res.Canceled)
		ops := events(t, b.rdb, ten)
		require.Len(t, ops, len(opsBefore)+len(wantOps)+1)
		assert.ElementsMatch(t, wantOps, ops[len(opsBefore):len(ops)-1])
		assert.Equal(t, lockbox.OpLockdown, ops[len(ops)-1])

		// While locked down, nothing is filed, and nothing is written.
		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.TenantID = ten
		r := lockbox.NewRequest(in, newID(), now.Add(time.Minute), s.Limits()).FiledAs(lockboxtest.Filer(lockboxtest.Scenario{}))
		_, _, err = s.Create(ctx, r, lockbox.CreateOptions{})
		require.Error(t, err)
		assert.Equal(t, lockbox.KindLocked, lockbox.KindOf(err))
		assert.Equal(t, len(ops), len(events(t, b.rdb, ten)), "a refused filing appends nothing")
		_, err = s.Get(ctx, ten, r.RequestID)
		assert.Equal(t, lockbox.KindNotFound, lockbox.KindOf(err))

		state, err := s.LockdownState(ctx, ten, now.Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, state.Active)
		assert.Equal(t, "incident INC-7 under investigation", state.Reason)

		// Lifted: filings are accepted again; lifting again is a conflict.
		_, err = s.LiftLockdown(ctx, ten, ada, "contained", now.Add(2*time.Minute))
		require.NoError(t, err)
		_, err = s.LiftLockdown(ctx, ten, ada, "again", now.Add(3*time.Minute))
		assert.Equal(t, lockbox.KindConflict, lockbox.KindOf(err))
		assert.Equal(t, lockbox.StatusPending, file(t, s, ten, "eng-8", now.Add(4*time.Minute)).Status)
		ops = events(t, b.rdb, ten)
		assert.Equal(t, []string{lockbox.OpLiftLockdown, lockbox.OpCreate}, ops[len(ops)-2:])
	})
}

// A lockdown and its lift put the tenant in the tenants set (even one the
// audit run pruned as idle), so that their events are exported and their
// notifications sent.
func TestLockdownJoinsTheTenants(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		member := func() bool { return b.rdb.SIsMember(ctx, redisstore.TenantsKey, ten).Val() }
		_, err := s.Lockdown(ctx, ten, lockdownIn("audit", nil), ada, time.Now())
		require.NoError(t, err)
		assert.True(t, member())
		require.NoError(t, b.rdb.SRem(ctx, redisstore.TenantsKey, ten).Err())
		_, err = s.LiftLockdown(ctx, ten, ada, "done", time.Now())
		require.NoError(t, err)
		assert.True(t, member())
	})
}

// A lockdown with an until refuses filings up to that instant and accepts
// them from it on, by the caller's clock, as the scripts compare it.
func TestLockdownUntil(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten, now := tenant(t), time.Now().Truncate(time.Millisecond)
		until := now.Add(2 * time.Hour)
		res, err := s.Lockdown(ctx, ten, lockdownIn("audit week", &until), ada, now)
		require.NoError(t, err)
		require.NotNil(t, res.Until)
		assert.True(t, res.Until.Equal(until))
		ttl, err := b.rdb.PTTL(ctx, "lb:{"+ten+"}:lockdown").Result()
		require.NoError(t, err)
		assert.Greater(t, ttl, 2*time.Hour, "the key outlives its until (a day), and does not stay forever")
		assert.Less(t, ttl, 27*time.Hour)

		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.TenantID = ten
		at := func(t0 time.Time) error {
			r := lockbox.NewRequest(in, newID(), t0, s.Limits()).FiledAs(lockboxtest.Filer(lockboxtest.Scenario{}))
			_, _, err := s.Create(ctx, r, lockbox.CreateOptions{})
			return err
		}
		err = at(until.Add(-time.Millisecond))
		require.Error(t, err)
		assert.Equal(t, lockbox.KindLocked, lockbox.KindOf(err))
		assert.Contains(t, err.Error(), until.UTC().Format(time.RFC3339))
		require.NoError(t, at(until), "the lockdown ends at until")

		state, err := s.LockdownState(ctx, ten, until)
		require.NoError(t, err)
		assert.False(t, state.Active)
		_, err = s.LiftLockdown(ctx, ten, ada, "", until)
		assert.Equal(t, lockbox.KindConflict, lockbox.KindOf(err), "an ended lockdown is not lifted")
	})
}

// Filings racing a lockdown: every filing is either accepted before the
// lockdown's step (and then canceled by it) or refused as TenantLockedDown;
// in the audit log no CreateLockboxRequest follows LockdownTenant, and
// nothing is left waiting.
func TestLockdownRacingFilings(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		s.Caps = redisstore.Caps{MaxPendingPerTenant: 100000, MaxPendingPerRequester: 100000, MaxActiveGrantsPerRequester: 100}
		for round := range 3 {
			ten := tenant(t)
			var accepted, locked atomic.Int64
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for w := range 16 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						in := lockboxtest.Input(lockboxtest.Scenario{})
						in.TenantID, in.Requester.ID = ten, fmt.Sprintf("eng-%d-%d", w, i%7)
						r := lockbox.NewRequest(in, newID(), time.Now(), s.Limits()).FiledAs(lockboxtest.Filer(lockboxtest.Scenario{}))
						_, _, err := s.Create(ctx, r, lockbox.CreateOptions{})
						switch {
						case err == nil:
							accepted.Add(1)
						case lockbox.KindOf(err) == lockbox.KindLocked:
							locked.Add(1)
							if locked.Load() > 200 {
								return
							}
						default:
							t.Errorf("filing: %v", err)
							return
						}
					}
				})
			}
			time.Sleep(30 * time.Millisecond)
			res, err := s.Lockdown(ctx, ten, lockdownIn("race", nil), ada, time.Now())
			require.NoError(t, err)
			time.Sleep(30 * time.Millisecond)
			close(stop)
			wg.Wait()

			ops := events(t, b.rdb, ten)
			at := slices.Index(ops, lockbox.OpLockdown)
			require.GreaterOrEqual(t, at, 0)
			assert.NotContains(t, ops[at+1:], lockbox.OpCreate, "nothing filed after the lockdown's step")
			creates := 0
			for _, op := range ops[:at] {
				if op == lockbox.OpCreate {
					creates++
				}
			}
			assert.Equal(t, int(accepted.Load()), creates, "every accepted filing precedes the lockdown")
			assert.Len(t, res.Canceled, creates, "and the lockdown canceled each")
			assert.Positive(t, locked.Load(), "filings after it were refused")
			pending, err := b.rdb.ZCard(ctx, "lb:{"+ten+"}:idx:status:Pending").Result()
			require.NoError(t, err)
			assert.Zero(t, pending, "nothing waits")
			t.Logf("round %d: %d filings accepted before the lockdown, %d refused after", round, accepted.Load(), locked.Load())
		}
	})
}

// Approvals racing a lockdown: each request is either approved before the
// lockdown's step (and its grant revoked by it) or canceled by it (and the
// approval refused): no grant is live after the lockdown, and no
// ApproveLockboxRequest follows LockdownTenant.
func TestLockdownRacingApprovals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		s.Caps = redisstore.Caps{MaxPendingPerTenant: 10000, MaxPendingPerRequester: 10000, MaxActiveGrantsPerRequester: 10000}
		for round := range 3 {
			ten := tenant(t)
			const n = 300
			ids := make([]string, n)
			for i := range ids {
				ids[i] = file(t, s, ten, fmt.Sprintf("eng-%d", i%10), time.Now()).RequestID
			}
			var approved, refused atomic.Int64
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < n; i += 8 {
						_, err := s.Act(ctx, ten, ids[i], lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
						switch {
						case err == nil:
							approved.Add(1)
						case lockbox.KindOf(err) == lockbox.KindConflict:
							refused.Add(1)
						default:
							t.Errorf("approve: %v", err)
						}
					}
				})
			}
			time.Sleep(5 * time.Millisecond)
			res, err := s.Lockdown(ctx, ten, lockdownIn("race", nil), ada, time.Now())
			require.NoError(t, err)
			wg.Wait()

			assert.Equal(t, int(approved.Load()), len(res.Revoked), "every approval before the lockdown was revoked by it")
			assert.Equal(t, n-int(approved.Load()), len(res.Canceled))
			assert.Equal(t, int(refused.Load()), len(res.Canceled), "every approval after it was refused")
			for _, id := range ids {
				got, err := s.Get(ctx, ten, id)
				require.NoError(t, err)
				assert.Contains(t, []lockbox.Status{lockbox.StatusRevoked, lockbox.StatusCanceled}, got.Status)
				assert.False(t, got.AccessActive)
			}
			grants, err := b.rdb.Keys(ctx, "lb:{"+ten+"}:grant:*").Result()
			require.NoError(t, err)
			assert.Empty(t, grants, "no grant is live")
			ops := events(t, b.rdb, ten)
			at := slices.Index(ops, lockbox.OpLockdown)
			assert.NotContains(t, ops[at+1:], lockbox.OpApprove)
			t.Logf("round %d: %d approved then revoked, %d canceled first", round, approved.Load(), len(res.Canceled))
		}
	})
}

// The lockdown of a tenant at its caps, on a real redis-server: 1,000
// requests waiting (max_pending_per_tenant) and 250 live grants (50
// engineers at max_active_grants_per_requester) end in one script; how long
// Redis is busy with it is logged (docs/controls.md, "Bounded work").
func TestLockdownOfAFullTenant(t *testing.T) {
	b := requireRealBackend(t)
	s := redisstore.New(b.rdb, lockbox.DefaultLimits)
	ten, now := tenant(t), time.Now()
	for i := range 250 {
		r := file(t, s, ten, fmt.Sprintf("granted-%d", i%50), now)
		_, err := s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, now))
		require.NoError(t, err)
	}
	for i := range 1000 {
		file(t, s, ten, fmt.Sprintf("waiting-%d", i%25), now)
	}
	start := time.Now()
	res, err := s.Lockdown(ctx, ten, lockdownIn("full tenant", nil), ada, now)
	took := time.Since(start)
	require.NoError(t, err)
	assert.Len(t, res.Revoked, 250)
	assert.Len(t, res.Canceled, 1000)
	info, err := b.rdb.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	for line := range strings.SplitSeq(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_evalsha:") || strings.HasPrefix(line, "cmdstat_eval:") {
			t.Logf("%s", strings.TrimSpace(line))
		}
	}
	t.Logf("a lockdown ending 250 grants and 1,000 waiting requests took %s (one script, one round trip)", took.Round(time.Millisecond))
}
