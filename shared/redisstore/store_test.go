package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

var ctx = context.Background()

// miniSystem runs the lifecycle scenarios on the store over miniredis, moving
// miniredis's TTL clock with the scenario's clock.
type miniSystem struct {
	m      *miniredis.Miniredis
	s      *redisstore.Store
	tenant string
	now    time.Time
}

func (x *miniSystem) advance(at time.Time) {
	if at.After(x.now) {
		x.m.FastForward(at.Sub(x.now))
		x.now = at
	}
}

func (x *miniSystem) Create(t *testing.T, f lockboxtest.Filing) lockbox.Request {
	in, set, at := f.Input, f.Settings, f.At
	x.now = at
	in.TenantID = x.tenant
	x.s.DefaultEnabled = f.DefaultEnabled
	if set != nil {
		by := set.UpdatedBy
		if by == "" {
			by = "admin"
		}
		_, err := x.s.PutSettings(ctx, x.tenant, *set, 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: by}, "scenario", at)
		require.NoError(t, err)
	}
	r := lockbox.NewRequest(in, newID(), at, x.s.Limits()).FiledAs(f.Filer)
	r, err := f.Policy.Screen(r, f.Filer)
	require.NoError(t, err)
	r, _, err = x.s.Create(ctx, r, lockbox.CreateOptions{})
	require.NoError(t, err)
	return r
}

func (x *miniSystem) Act(id string, act lockbox.Act) (lockbox.Request, error) {
	x.advance(act.At)
	return x.s.Act(ctx, x.tenant, id, act)
}

func (x *miniSystem) Get(id string, at time.Time) (lockbox.Request, error) {
	x.advance(at)
	return x.s.Get(ctx, x.tenant, id)
}

// The store follows exactly the rules of the pure domain functions.
func TestScenarios(t *testing.T) {
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	lockboxtest.Run(t, start, func(t *testing.T) lockboxtest.System {
		b := miniBackend(t)
		return &miniSystem{m: b.mini, s: redisstore.New(b.rdb, lockboxtest.Limits), tenant: tenant(t)}
	})
}

func TestCreateAndGet(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		now := time.Now().UTC()
		r := file(t, s, ten, "eng-1", now)

		got, err := s.Get(ctx, ten, r.RequestID)
		require.NoError(t, err)
		assert.Equal(t, lockbox.StatusPending, got.Status)
		assert.Equal(t, r.CreatedDateTime, got.CreatedDateTime)
		assert.Equal(t, r.CreatedDateTime.Add(96*time.Hour), got.ExpirationDateTime)
		assert.Equal(t, 8, got.Duration)
		assert.Nil(t, got.Decision)
		assert.Nil(t, got.AccessExpirationDateTime)
		assert.Equal(t, []string{lockbox.OpCreate}, events(t, b.rdb, ten))

		// The pending key carries the 4-day window as its TTL.
		ttl := b.rdb.PTTL(ctx, "lb:{"+ten+"}:pending:"+r.RequestID).Val()
		assert.InDelta(t, (96 * time.Hour).Seconds(), ttl.Seconds(), 5)

		// Another tenant cannot see it: its keys are elsewhere.
		_, err = s.Get(ctx, tenant(t), r.RequestID)
		assert.Equal(t, lockbox.KindNotFound, lockbox.KindOf(err))
		_, err = s.Act(ctx, tenant(t), r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "mallory", "x", nil, now))
		assert.Equal(t, lockbox.KindNotFound, lockbox.KindOf(err))
		got, _ = s.Get(ctx, ten, r.RequestID)
		assert.Equal(t, lockbox.StatusPending, got.Status, "a refused cross-tenant approve changed nothing")
	})
}

// Short TTLs on the real clock: the approval window and the grant end at the
// instant their keys expire, before any sweep runs.
func TestTTLExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		// Margins of a second keep this steady on a loaded machine.
		lim := lockbox.Limits{PendingTTL: 300 * time.Millisecond, AccessTTL: 1500 * time.Millisecond, MaxAccessTTL: time.Hour}
		s := redisstore.New(b.rdb, lim)
		ten := tenant(t)
		// One clock for the test and for Redis's TTLs: miniredis's is moved
		// by hand, a real server's is the wall clock.
		virtual := time.Now()
		clock := time.Now
		wait := time.Sleep
		if b.mini != nil {
			clock = func() time.Time { return virtual }
			wait = func(d time.Duration) { b.mini.FastForward(d); virtual = virtual.Add(d) }
		}

		expiring := file(t, s, ten, "eng-1", clock())
		granted := file(t, s, ten, "eng-1", clock())
		_, err := s.Act(ctx, ten, granted.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, clock()))
		require.NoError(t, err)
		got, _ := s.Get(ctx, ten, granted.RequestID)
		assert.True(t, got.AccessActive)

		wait(500 * time.Millisecond)
		got, _ = s.Get(ctx, ten, expiring.RequestID)
		assert.Equal(t, lockbox.StatusExpired, got.Status, "window over: expired before any sweep")
		_, err = s.Act(ctx, ten, expiring.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "late", nil, clock()))
		var le *lockbox.Error
		require.True(t, errors.As(err, &le), "got %v", err)
		assert.Equal(t, lockbox.KindConflict, le.Kind)
		assert.Equal(t, lockbox.StatusExpired, le.CurrentStatus)

		got, _ = s.Get(ctx, ten, granted.RequestID)
		assert.True(t, got.AccessActive, "grant of 1.5s still live after 0.5s")
		wait(1100 * time.Millisecond)
		got, _ = s.Get(ctx, ten, granted.RequestID)
		assert.False(t, got.AccessActive)
		assert.Equal(t, lockbox.StatusCompleted, got.Status)

		// The sweep records both, once.
		res, err := s.Sweep(ctx, ten, clock())
		require.NoError(t, err)
		assert.Equal(t, lockbox.SweepResult{Expired: 1, Completed: 1}, res)
		res, err = s.Sweep(ctx, ten, clock())
		require.NoError(t, err)
		assert.Equal(t, lockbox.SweepResult{}, res, "a second sweep finds nothing")
		assert.ElementsMatch(t, []string{lockbox.OpCreate, lockbox.OpCreate, lockbox.OpApprove, lockbox.OpExpire, lockbox.OpComplete}, events(t, b.rdb, ten))
	})
}

// 200 concurrent approvals and denials of one request: one decision wins,
// every other call gets 409, and the stream holds exactly one decision event.
func TestDecisionRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		r := file(t, s, ten, "eng-1", time.Now())

		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := map[lockbox.Status]int{}, 0
		for i := range 200 {
			wg.Go(func() {
				approver := fmt.Sprintf("approver-%d", i)
				var got lockbox.Request
				var err error
				if i%2 == 0 {
					got, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, approver, "ok", nil, time.Now()))
				} else {
					got, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionDeny, approver, "no", nil, time.Now()))
				}
				mu.Lock()
				defer mu.Unlock()
				switch lockbox.KindOf(err) {
				case lockbox.KindConflict:
					conflicts++
				default:
					if err != nil {
						t.Errorf("unexpected error: %v", err)
						return
					}
					wins[got.Status]++
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, wins[lockbox.StatusApproved]+wins[lockbox.StatusDenied], "exactly one decision: %v", wins)
		assert.Equal(t, 199, conflicts)
		ops := events(t, b.rdb, ten)
		require.Len(t, ops, 2, "create and one decision: %v", ops)
		assert.Contains(t, []string{lockbox.OpApprove, lockbox.OpDeny}, ops[1])
	})
}

// Approvals racing the expiry sweep at the end of the window: for each
// request exactly one of them takes effect, never both. Each approval is
// sent at its request's window end plus an offset: most within 4 ms of it,
// racing the sweep; those of the first requests filed 300 ms after it (the
// expiry wins) and those of the last filed 600 ms before it (the approval
// wins), so that every run sees both outcomes. The margins are wide for a
// loaded machine under the race detector, where a call has been seen to
// take 200 ms.
func TestApproveSweepRace(t *testing.T) {
	t.Run("redis-server", func(t *testing.T) {
		b := requireRealBackend(t) // needs the real clock to race against the TTL
		lim := lockbox.Limits{PendingTTL: time.Second, AccessTTL: time.Hour, MaxAccessTTL: time.Hour}
		s := redisstore.New(b.rdb, lim)
		s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30} // one engineer, 40 grants
		ten := tenant(t)
		const n, anchors = 40, 4
		warmUp(t, s, n)
		reqs := make([]lockbox.Request, n)
		for i := range reqs {
			reqs[i] = file(t, s, ten, "eng-1", time.Now())
		}
		offset := func(i int) time.Duration {
			switch {
			case i < anchors:
				return 300 * time.Millisecond
			case i >= n-anchors:
				return -600 * time.Millisecond
			}
			return time.Duration(i%9-4) * time.Millisecond
		}
		approved := make([]bool, n)
		var wg sync.WaitGroup
		for i := range reqs {
			wg.Go(func() {
				time.Sleep(time.Until(reqs[i].ExpirationDateTime.Add(offset(i))))
				_, err := s.Act(ctx, ten, reqs[i].RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
				switch {
				case err == nil:
					approved[i] = true
				case lockbox.KindOf(err) != lockbox.KindConflict:
					t.Errorf("approve %d: %v", i, err)
				}
			})
		}
		end := reqs[n-1].ExpirationDateTime.Add(100 * time.Millisecond)
		wg.Go(func() {
			for time.Now().Before(end) {
				if _, err := s.Sweep(ctx, ten, time.Now()); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Wait()
		_, err := s.Sweep(ctx, ten, time.Now().Add(time.Second))
		require.NoError(t, err)

		msgs, err := b.rdb.XRange(ctx, redisstore.EventsKey(ten), "-", "+").Result()
		require.NoError(t, err)
		decided := map[string][]string{}
		for _, m := range msgs {
			e := decodeEvent(t, ten, m)
			decided[e.RequestID] = append(decided[e.RequestID], e.OperationName)
		}
		wonApprove := 0
		for i, r := range reqs {
			got, err := s.Get(ctx, ten, r.RequestID)
			require.NoError(t, err)
			ops := decided[r.RequestID]
			require.Len(t, ops, 2, "request %d: create plus exactly one outcome, got %v", i, ops)
			if approved[i] {
				wonApprove++
				assert.Equal(t, lockbox.OpApprove, ops[1])
				assert.Equal(t, lockbox.StatusApproved, got.Status)
			} else {
				assert.Equal(t, lockbox.OpExpire, ops[1])
				assert.Equal(t, lockbox.StatusExpired, got.Status)
			}
		}
		t.Logf("%d of %d approvals beat the expiry", wonApprove, n)
		assert.Positive(t, wonApprove, "no approval won")
		assert.Less(t, wonApprove, n, "no expiry won")
		for i := range anchors {
			assert.False(t, approved[i], "an approval 300 ms after the window's end won (request %d)", i)
			assert.True(t, approved[n-1-i], "an approval 600 ms before the window's end lost (request %d)", n-1-i)
		}
	})
}

// warmUp readies what n concurrent approvals use, as a running function
// has: n connections in the pool and the act script in Redis's cache.
func warmUp(t *testing.T, s *redisstore.Store, n int) {
	t.Helper()
	ten := tenant(t)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.Get(ctx, ten, "none"); lockbox.KindOf(err) != lockbox.KindNotFound {
				t.Errorf("warm up: %v", err)
			}
		})
	}
	wg.Wait()
	r := file(t, s, ten, "eng-1", time.Now())
	_, err := s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
	require.NoError(t, err)
}

// Concurrent retries of one create with one Idempotency-Key file exactly one
// request; the same key with another body is refused.
func TestIdempotentCreate(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.TenantID = ten
		idem := &lockbox.Idempotency{KeyHash: "k1", BodyHash: "body-a"}

		var wg sync.WaitGroup
		var mu sync.Mutex
		ids, replays := map[string]int{}, 0
		for range 50 {
			wg.Go(func() {
				r, replayed, err := s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), s.Limits()), lockbox.CreateOptions{Idempotency: idem})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
				ids[r.RequestID]++
				if replayed {
					replays++
				}
			})
		}
		wg.Wait()
		assert.Len(t, ids, 1, "one request filed: %v", ids)
		assert.Equal(t, 49, replays)
		assert.Equal(t, []string{lockbox.OpCreate}, events(t, b.rdb, ten))

		_, _, err := s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), s.Limits()),
			lockbox.CreateOptions{Idempotency: &lockbox.Idempotency{KeyHash: "k1", BodyHash: "body-b"}})
		assert.Equal(t, lockbox.KindConflict, lockbox.KindOf(err))
		assert.Len(t, events(t, b.rdb, ten), 1, "the clash filed nothing")
	})
}

func TestUnavailable(t *testing.T) {
	m := miniredis.RunT(t)
	addr := m.Addr()
	m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	defer rdb.Close()
	s := redisstore.New(rdb, lockbox.DefaultLimits)
	in := lockboxtest.Input(lockboxtest.Scenario{})
	_, _, err := s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), s.Limits()), lockbox.CreateOptions{})
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err), "create: %v", err)
	_, err = s.Act(ctx, "contoso", "abc", lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err), "approve: %v", err)
	_, err = s.Get(ctx, "contoso", "abc")
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err), "get: %v", err)
	_, err = s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: "contoso"}, Limit: 10})
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err), "list: %v", err)
}

// Each transition is one round trip to Redis (scripts already loaded), and
// succeeds: a failed call would count one too.
func TestRoundTrips(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		// Warm the script cache, as a running function has.
		r := file(t, s, ten, "eng-1", time.Now())
		_, err := s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", "warm", nil, time.Now()))
		require.NoError(t, err)
		_, err = s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 10})
		require.NoError(t, err)

		count := func(f func() error) int64 {
			before := b.trip.n.Load()
			require.NoError(t, f())
			return b.trip.n.Load() - before
		}
		var a lockbox.Request
		assert.EqualValues(t, 1, count(func() error { a = file(t, s, ten, "eng-1", time.Now()); return nil }), "create")
		d := file(t, s, ten, "eng-1", time.Now())
		assert.EqualValues(t, 1, count(func() error {
			got, err := s.Act(ctx, ten, a.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
			if err == nil && got.Status != lockbox.StatusApproved {
				err = fmt.Errorf("approve left %s", got.Status)
			}
			return err
		}), "approve")
		assert.EqualValues(t, 1, count(func() error {
			got, err := s.Act(ctx, ten, d.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, time.Now()))
			if err == nil && got.Status != lockbox.StatusDenied {
				err = fmt.Errorf("deny left %s", got.Status)
			}
			return err
		}), "deny")
		assert.EqualValues(t, 1, count(func() error {
			p, err := s.List(ctx, lockbox.Query{Scope: lockbox.Scope{TenantID: ten}, Limit: 50})
			if err == nil && len(p.Requests) != 3 {
				err = fmt.Errorf("list found %d requests, not 3", len(p.Requests))
			}
			return err
		}), "list")
		assert.EqualValues(t, 1, count(func() error { _, err := s.Get(ctx, ten, a.RequestID); return err }), "get")
		in := lockbox.CheckInput{TenantID: ten, ResourceID: "vm-1", AccessLevel: "Read", Method: "GET", URI: "/"}
		_, err = s.Check(ctx, ten, "eng-1", in, time.Now()) // warm the script cache
		require.NoError(t, err)
		assert.EqualValues(t, 1, count(func() error {
			got, err := s.Check(ctx, ten, "eng-1", in, time.Now())
			if err == nil && !got.Allowed {
				err = fmt.Errorf("check refused: %s", got.Code)
			}
			return err
		}), "an allowed check")
		assert.EqualValues(t, 1, count(func() error {
			got, err := s.Check(ctx, ten, "eng-2", in, time.Now())
			if err == nil && got.Allowed {
				err = fmt.Errorf("check allowed another engineer")
			}
			return err
		}), "a refused check")
		assert.EqualValues(t, 1, count(func() error {
			got, err := s.Act(ctx, ten, a.RequestID, lockboxtest.Decision(lockbox.ActionRevoke, "alice", "done", nil, time.Now()))
			if err == nil && got.Status != lockbox.StatusRevoked {
				err = fmt.Errorf("revoke left %s", got.Status)
			}
			return err
		}), "revoke, with its access receipt")
	})
}

// A create resent by the client after a dropped connection (go-redis's
// cluster pipelines do that) finds its own record and answers with it: not a
// replay of the signed delivery, not a second request.
func TestCreateResentByTheClient(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.TenantID = tenant(t)
		r := lockbox.NewRequest(in, newID(), time.Now(), s.Limits())
		opts := lockbox.CreateOptions{SignatureHash: strings.Repeat("ab", 32)}
		first, _, err := s.Create(ctx, r, opts)
		require.NoError(t, err)
		again, replayed, err := s.Create(ctx, r, opts) // the same call, as resent
		require.NoError(t, err)
		assert.False(t, replayed)
		assert.Equal(t, first.RequestID, again.RequestID)
		assert.Equal(t, []string{lockbox.OpCreate}, events(t, b.rdb, in.TenantID))

		// A new delivery of the same signature is a new call: refused.
		_, _, err = s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), s.Limits()), opts)
		assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err))
	})
}

// A ticket's requests are found by its support case, newest first.
func TestByTicket(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		first := file(t, s, ten, "eng-1", time.Now())
		second := file(t, s, ten, "eng-2", time.Now())
		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.TenantID, in.SupportRequest = ten, "INC-2002"
		_, _, err := s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), s.Limits()), lockbox.CreateOptions{})
		require.NoError(t, err)
		got, err := s.ByTicket(ctx, ten, first.SupportRequest)
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, []string{second.RequestID, first.RequestID}, []string{got[0].RequestID, got[1].RequestID})
		none, err := s.ByTicket(ctx, ten, "INC-9999")
		require.NoError(t, err)
		assert.Empty(t, none)
	})
}

// An action answers with the record it left, without reading it again: the
// answer is the request as a read of it right after gives, for every
// action and for a quorum's first approval.
func TestActAnswersTheRecordAsStored(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten, quorum := tenant(t), tenant(t)
		set := lockbox.DefaultSettings(true)
		set.RequiredApprovals = 2
		_, err := s.PutSettings(ctx, quorum, set, 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, "test", time.Now())
		require.NoError(t, err)
		two := 2
		steps := []struct {
			name   string
			tenant string
			acts   []lockbox.Act
		}{
			{"approve", ten, []lockbox.Act{lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", &two, time.Now())}},
			{"deny", ten, []lockbox.Act{lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, time.Now())}},
			{"revoke", ten, []lockbox.Act{lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()),
				lockboxtest.Decision(lockbox.ActionRevoke, "bob", "done early", nil, time.Now())}},
			{"cancel", ten, []lockbox.Act{{Action: lockbox.ActionCancel, Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-1"},
				Reason: "not needed", At: time.Now()}}},
			{"first of two approvals", quorum, []lockbox.Act{lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now())}},
			{"second of two approvals", quorum, []lockbox.Act{lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()),
				lockboxtest.Decision(lockbox.ActionApprove, "bob", "ok too", &two, time.Now())}},
		}
		for _, step := range steps {
			r := file(t, s, step.tenant, "eng-1", time.Now())
			var got lockbox.Request
			for _, act := range step.acts {
				got, err = s.Act(ctx, step.tenant, r.RequestID, act)
				require.NoError(t, err, step.name)
			}
			stored, err := s.Get(ctx, step.tenant, r.RequestID)
			require.NoError(t, err, step.name)
			assert.Equal(t, stored, got, step.name)
		}
	})
}

// The sweep finds a pending request's window end in livePending and a
// grant's end in due ("g:<id>"), and settling each removes it: once both have
// ended, the expiry and the completion are recorded once and both indexes
// are empty.
func TestSweepEmptiesItsIndexes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		lim := lockbox.Limits{PendingTTL: 50 * time.Millisecond, AccessTTL: 50 * time.Millisecond, MaxAccessTTL: 50 * time.Millisecond}
		now := time.Now().Truncate(time.Millisecond)
		s := redisstore.New(b.rdb, lim)
		ten := tenant(t)
		expiring, granted := file(t, s, ten, "eng-1", now), file(t, s, ten, "eng-2", now)
		_, err := s.Act(ctx, ten, granted.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, now))
		require.NoError(t, err)
		prefix := "lb:{" + ten + "}:"
		due, live := prefix+"due", prefix+"live:pending"
		members := func(key string) []string {
			m, err := b.rdb.ZRange(ctx, key, 0, -1).Result()
			require.NoError(t, err)
			return m
		}
		assert.Equal(t, []string{"g:" + granted.RequestID}, members(due), "due holds grants alone")
		assert.Equal(t, []string{expiring.RequestID}, members(live))
		if b.mini != nil {
			b.mini.FastForward(time.Second)
		} else {
			time.Sleep(time.Until(now.Add(time.Second)))
		}

		res, err := s.Sweep(ctx, ten, now.Add(time.Second))
		require.NoError(t, err)
		assert.Equal(t, lockbox.SweepResult{Expired: 1, Completed: 1}, res)
		assert.Empty(t, members(due))
		assert.Empty(t, members(live))
		res, err = s.Sweep(ctx, ten, now.Add(time.Second))
		require.NoError(t, err)
		assert.Equal(t, lockbox.SweepResult{}, res, "a second sweep finds nothing")
	})
}

// Two tenants swept side by side after Redis lost its scripts: one sweep
// loads the script between two settles of the other's pipeline. The settle
// that ran is counted, though the index no longer lists it when the other
// sweep reads it again.
func TestSweepCountsSettlesAroundAScriptReload(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		lim := lockbox.Limits{PendingTTL: 50 * time.Millisecond, AccessTTL: time.Hour, MaxAccessTTL: time.Hour}
		now := time.Now().Truncate(time.Millisecond)
		plain := redisstore.New(b.rdb, lim)
		ten, other := tenant(t), tenant(t)
		for range 3 {
			file(t, plain, ten, "eng-1", now)
		}
		file(t, plain, other, "eng-2", now)
		if b.mini != nil {
			b.mini.FastForward(time.Second)
		} else {
			time.Sleep(time.Until(now.Add(time.Second)))
		}
		later := now.Add(time.Second)

		opt := *b.rdb.Options()
		split := redis.NewClient(&opt)
		t.Cleanup(func() { split.Close() })
		var otherSwept lockbox.SweepResult
		split.AddHook(&splitPipeline{between: func() {
			var err error
			otherSwept, err = plain.Sweep(ctx, other, later)
			require.NoError(t, err)
		}})
		require.NoError(t, b.rdb.ScriptFlush(ctx).Err())

		swept, err := redisstore.New(split, lim).Sweep(ctx, ten, later)
		require.NoError(t, err)
		assert.Equal(t, 3, swept.Expired, "every expiry counted, including the one settled before the reload")
		assert.Equal(t, 1, otherSwept.Expired)
		msgs, err := b.rdb.XRange(ctx, redisstore.EventsKey(ten), "-", "+").Result()
		require.NoError(t, err)
		assert.Len(t, msgs, 6, "three creates and three expiries, each once")
	})
}

// splitPipeline sends the first pipeline of scripts' first command alone, calls between once,
// then sends the rest: another client's command lands between them.
type splitPipeline struct {
	between func()
	done    bool
}

func (h *splitPipeline) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *splitPipeline) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *splitPipeline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.done || len(cmds) < 2 || cmds[0].Name() != "evalsha" {
			return next(ctx, cmds)
		}
		h.done = true
		err := next(ctx, cmds[:1])
		h.between()
		if err2 := next(ctx, cmds[1:]); err == nil {
			err = err2
		}
		return err
	}
}
