package redisclient_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisclient/redisclienttest"
)

// client connects to m in mode and closes the client when t ends.
func client(t *testing.T, m *miniredis.Miniredis, mode redisclient.Mode) redis.UniversalClient {
	t.Helper()
	rdb, err := redisclient.New(redisclient.Config{URL: "redis://" + m.Addr(), Mode: mode})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// miniredis answers CLUSTER SLOTS as a one-node cluster: both paths of
// CheckNoEviction run against it.
var modes = []redisclient.Mode{redisclient.ModeStandalone, redisclient.ModeCluster}

func TestCheckNoEvictionPasses(t *testing.T) {
	m := redisclienttest.Miniredis(t)
	for _, mode := range modes {
		assert.NoError(t, redisclient.CheckNoEviction(t.Context(), client(t, m, mode)), "mode %s", mode)
	}
}

func TestCheckNoEvictionRefusesEvictingPolicy(t *testing.T) {
	m := miniredis.RunT(t)
	require.NoError(t, redisclienttest.RegisterConfig(m, "allkeys-lru"))
	for _, mode := range modes {
		err := redisclient.CheckNoEviction(t.Context(), client(t, m, mode))
		require.ErrorIs(t, err, redisclient.ErrEvictionPolicy, "mode %s", mode)
		assert.NotErrorIs(t, err, redisclient.ErrUnavailable, "mode %s", mode)
		var pe *redisclient.PolicyError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, m.Addr(), pe.Node, "mode %s: got node %q, want %q", mode, pe.Node, m.Addr())
		assert.Equal(t, "allkeys-lru", pe.Policy, "mode %s", mode)
		for _, want := range []string{"redis " + m.Addr(), `maxmemory-policy "allkeys-lru"`,
			`set "maxmemory-policy noeviction" in redis.conf`, "CONFIG SET maxmemory-policy noeviction"} {
			assert.Contains(t, err.Error(), want, "mode %s", mode)
		}
	}
}

// Without INFO memory or CONFIG (plain miniredis), the check fails closed.
func TestCheckNoEvictionFailsClosed(t *testing.T) {
	m := miniredis.RunT(t)
	for _, mode := range modes {
		err := redisclient.CheckNoEviction(t.Context(), client(t, m, mode))
		require.ErrorIs(t, err, redisclient.ErrPolicyUnknown, "mode %s", mode)
		assert.NotErrorIs(t, err, redisclient.ErrUnavailable, "mode %s: Redis answered", mode)
		assert.NotErrorIs(t, err, redisclient.ErrEvictionPolicy, "mode %s", mode)
		for _, want := range []string{"could not read maxmemory-policy", "INFO memory", "CONFIG GET maxmemory-policy", "allow INFO or CONFIG GET"} {
			assert.Contains(t, err.Error(), want, "mode %s", mode)
		}
	}
}

func TestCheckNoEvictionAnswerWithoutPolicy(t *testing.T) {
	m := miniredis.RunT(t)
	require.NoError(t, m.Server().Register("CONFIG", func(c *server.Peer, cmd string, args []string) { c.WriteMapLen(0) }))
	err := redisclient.CheckNoEviction(t.Context(), client(t, m, redisclient.ModeStandalone))
	require.ErrorIs(t, err, redisclient.ErrPolicyUnknown)
	assert.ErrorContains(t, err, "no maxmemory-policy in the answer")
}

func TestCheckNoEvictionUnavailable(t *testing.T) {
	loading := miniredis.RunT(t)
	require.NoError(t, loading.Server().Register("CONFIG", func(c *server.Peer, cmd string, args []string) {
		c.WriteError("LOADING Redis is loading the dataset in memory")
	}))
	down := miniredis.RunT(t)
	rdbDown := client(t, down, redisclient.ModeStandalone)
	down.Close()

	for name, rdb := range map[string]redis.UniversalClient{
		"loading": client(t, loading, redisclient.ModeStandalone),
		"down":    rdbDown,
	} {
		err := redisclient.CheckNoEviction(t.Context(), rdb)
		require.ErrorIs(t, err, redisclient.ErrUnavailable, "%s: got %v", name, err)
		assert.NotErrorIs(t, err, redisclient.ErrEvictionPolicy, name)
		assert.NotErrorIs(t, err, redisclient.ErrPolicyUnknown, name)
		assert.Contains(t, err.Error(), "redis is unavailable", name)
	}
}
