package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// A tenant leaves the set the sweep walks only when nothing of it is
// pending, live or unexported, and rejoins when it files again.
func TestPrune(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		lim := lockbox.Limits{PendingTTL: time.Hour, AccessTTL: time.Hour, MaxAccessTTL: time.Hour}
		s := redisstore.New(b.rdb, lim)
		ten := tenant(t)
		now := time.Now()
		r := file(t, s, ten, "eng-1", now)
		member := func() bool { return b.rdb.SIsMember(ctx, redisstore.TenantsKey, ten).Val() }

		pruned, err := s.Prune(ctx, ten)
		require.NoError(t, err)
		assert.False(t, pruned, "a pending request keeps the tenant")
		_, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, now))
		require.NoError(t, err)
		pruned, err = s.Prune(ctx, ten)
		require.NoError(t, err)
		assert.False(t, pruned, "unexported events keep the tenant")
		require.NoError(t, b.rdb.Del(ctx, redisstore.EventsKey(ten)).Err()) // as if exported
		pruned, err = s.Prune(ctx, ten)
		require.NoError(t, err)
		assert.False(t, pruned, "notifications not yet delivered keep the tenant")
		require.NoError(t, b.rdb.Del(ctx, "lb:{"+ten+"}:outbox").Err()) // as if delivered
		pruned, err = s.Prune(ctx, ten)
		require.NoError(t, err)
		assert.True(t, pruned)
		assert.False(t, member())

		file(t, s, ten, "eng-1", now)
		assert.True(t, member(), "filing again rejoins")
	})
}

// Creates racing prunes: whenever a create lands, the tenant is in the set
// afterwards, so its request is swept and exported.
func TestPruneRacingCreates(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
		for round := range 50 {
			ten := tenant(t)
			var wg sync.WaitGroup
			wg.Go(func() { file(t, s, ten, "eng-1", time.Now()) })
			wg.Go(func() {
				for range 5 {
					if _, err := s.Prune(ctx, ten); err != nil {
						t.Error(err)
					}
				}
			})
			wg.Wait()
			require.True(t, b.rdb.SIsMember(ctx, redisstore.TenantsKey, ten).Val(), "round %d: a tenant with a pending request left the set", round)
		}
	})
}

// A create or a settings change that lands between a prune's idle check and
// its removal of the tenant (here: just before the SREM) appends an audit
// event, so the prune puts the tenant back.
func TestPruneRejoinsAfterAChangeInBetween(t *testing.T) {
	changes := map[string]func(t *testing.T, s *redisstore.Store, ten string){
		"create": func(t *testing.T, s *redisstore.Store, ten string) { file(t, s, ten, "eng-1", time.Now()) },
		"settings": func(t *testing.T, s *redisstore.Store, ten string) {
			_, err := s.PutSettings(ctx, ten, lockbox.DefaultSettings(true), 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, "", time.Now())
			require.NoError(t, err)
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				plain := redisstore.New(b.rdb, lockbox.DefaultLimits)
				ten := tenant(t)
				opt := *b.rdb.Options()
				hooked := redis.NewClient(&opt)
				t.Cleanup(func() { hooked.Close() })
				ran := false
				hooked.AddHook(&beforeCommand{name: "srem", f: func() { ran = true; change(t, plain, ten) }})

				pruned, err := redisstore.New(hooked, lockbox.DefaultLimits).Prune(ctx, ten)
				require.NoError(t, err)
				require.True(t, ran, "the change ran between the check and the removal")
				assert.False(t, pruned)
				assert.True(t, b.rdb.SIsMember(ctx, redisstore.TenantsKey, ten).Val(), "the tenant is back in the set")
			})
		})
	}
}

// beforeCommand calls f once, just before the first command called name is
// sent.
type beforeCommand struct {
	name string
	f    func()
	done bool
}

func (h *beforeCommand) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *beforeCommand) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !h.done && cmd.Name() == h.name {
			h.done = true
			h.f()
		}
		return next(ctx, cmd)
	}
}
func (h *beforeCommand) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
