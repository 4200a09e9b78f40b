package redisstore_test

import (
	"strings"
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

// The whole lifecycle on a real Redis Cluster: every script must find all
// the keys it touches in one slot (miniredis cannot tell). Tenants are
// spread over the nodes by their hash tags.
func TestRedisCluster(t *testing.T) {
	addrs := lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_CLUSTER", "scripts/with-redis-cluster.sh starts a 3-node cluster")
	lockboxtest.TakeTurns(t, addrs) // with scripts/localrun's stack on the cluster, whose lockbox-audit sweeps every tenant
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), MaxRetries: -1})
	defer rdb.Close()
	require.NoError(t, rdb.Ping(ctx).Err())
	lim := lockbox.Limits{PendingTTL: 300 * time.Millisecond, AccessTTL: time.Hour, MaxAccessTTL: 500 * time.Millisecond}
	s := redisstore.New(rdb, lim)

	nodes := map[string]bool{}
	type settled struct {
		tenant, id string
		want       lockbox.Status
	}
	var due []settled
	var mine []string
	for i := range 12 {
		ten := tenant(t)
		mine = append(mine, ten)
		master, err := rdb.MasterForKey(ctx, redisstore.EventsKey(ten))
		require.NoError(t, err)
		nodes[master.Options().Addr] = true

		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.TenantID = ten
		idem := &lockbox.Idempotency{KeyHash: "k", BodyHash: strings.Repeat("a", 64)}
		approved, _, err := s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), lim), lockbox.CreateOptions{Idempotency: idem, SignatureHash: "sig"})
		require.NoError(t, err, "create on tenant %d", i)
		again, replayed, err := s.Create(ctx, lockbox.NewRequest(in, newID(), time.Now(), lim), lockbox.CreateOptions{Idempotency: idem})
		require.NoError(t, err)
		assert.True(t, replayed)
		assert.Equal(t, approved.RequestID, again.RequestID)
		denied := file(t, s, ten, "eng-8", time.Now())
		expiring := file(t, s, ten, "eng-9", time.Now())

		_, err = s.Act(ctx, ten, approved.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
		require.NoError(t, err, "approve")
		_, err = s.Act(ctx, ten, denied.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", "no", nil, time.Now()))
		require.NoError(t, err, "deny")
		for _, q := range []lockbox.Query{
			{Scope: lockbox.Scope{TenantID: ten}, Limit: 10},
			{Scope: lockbox.Scope{TenantID: ten}, Status: lockbox.StatusExpired, Limit: 10},
			{Scope: lockbox.Scope{TenantID: ten, RequesterID: lockboxtest.Requester}, Limit: 10},
		} {
			_, err := s.List(ctx, q)
			require.NoError(t, err, "list %+v", q)
		}
		got, err := s.Get(ctx, ten, expiring.RequestID)
		require.NoError(t, err)
		assert.Equal(t, lockbox.StatusPending, got.Status)

		// Settings, a quorum, revoke, cancel and a rule, in the tenant's slot.
		_, err = s.Act(ctx, ten, approved.RequestID, lockboxtest.Decision(lockbox.ActionRevoke, "bob", "done", nil, time.Now()))
		require.NoError(t, err, "revoke")
		set := lockbox.DefaultSettings(true)
		set.RequiredApprovals = 2
		set.Rules = []lockbox.Rule{{Name: "eng-5", Effect: lockbox.EffectAutoApprove, Match: lockbox.RuleMatch{RequesterIDs: []string{"eng-5"}}}}
		_, err = s.PutSettings(ctx, ten, set, 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, "cluster", time.Now())
		require.NoError(t, err, "settings")
		quorum := file(t, s, ten, "eng-6", time.Now())
		for _, by := range []string{"alice", "bob"} {
			_, err = s.Act(ctx, ten, quorum.RequestID, lockboxtest.Decision(lockbox.ActionApprove, by, "ok", nil, time.Now()))
			require.NoError(t, err, "approve by %s", by)
		}
		got, err = s.Get(ctx, ten, quorum.RequestID)
		require.NoError(t, err)
		assert.Equal(t, lockbox.StatusApproved, got.Status)
		assert.Len(t, got.Approvals, 2)
		canceled := file(t, s, ten, "eng-6", time.Now())
		cancel := lockboxtest.Decision(lockbox.ActionCancel, "eng-6", "not needed", nil, time.Now())
		cancel.Actor.Kind = lockbox.ActorEngineer
		_, err = s.Act(ctx, ten, canceled.RequestID, cancel)
		require.NoError(t, err, "cancel")
		auto := file(t, s, ten, "eng-5", time.Now())
		assert.Equal(t, lockbox.StatusApproved, auto.Status, "approved by the rule")
		due = append(due, settled{ten, expiring.RequestID, lockbox.StatusExpired}, settled{ten, quorum.RequestID, lockbox.StatusCompleted},
			settled{ten, auto.RequestID, lockbox.StatusCompleted})
	}

	assert.Greater(t, len(nodes), 1, "the tenants landed on more than one node")

	time.Sleep(600 * time.Millisecond) // windows and grants run out
	tenants, err := s.Tenants(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, tenants)
	var wg sync.WaitGroup
	for _, ten := range mine {
		wg.Go(func() {
			_, err := s.Sweep(ctx, ten, time.Now())
			assert.NoError(t, err, "sweep %s", ten)
		})
	}
	wg.Wait()
	// The records say what was settled. Another stack's lockbox-audit on this
	// cluster (scripts/localrun's test, run at the same time) sweeps every
	// tenant in the set and may have settled some of these first, with the
	// same script.
	for _, d := range due {
		recorded, err := rdb.HGet(ctx, "lb:{"+d.tenant+"}:req:"+d.id, "status").Result()
		require.NoError(t, err)
		assert.Equal(t, string(d.want), recorded, "%s in %s", d.id, d.tenant)
	}

	// The counters and gauges of every tenant, read over the nodes (the
	// tenant sets share one slot).
	st, err := s.Stats(ctx, time.Now(), nil)
	require.NoError(t, err)
	for _, ten := range mine {
		got := st.PerTenant[ten]
		assert.Equal(t, map[string]int64{"file": 6, "approve": 3, "deny": 1, "revoke": 1, "cancel": 1, "autoApprove": 1,
			"expire": 1, "complete": 2}, got.Transitions, "tenant %s", ten)
	}
}
