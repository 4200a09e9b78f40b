package redisclient

import (
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox/lockboxtest"
)

// These tests run against real servers: the one of scripts/with-redis.sh,
// the cluster of scripts/with-redis-cluster.sh, and redis-servers they start
// themselves (TLS, Sentinel, renamed CONFIG).

// newClient builds the client of e and closes it when t ends.
func newClient(t *testing.T, e env, password, sentinelPassword string) redis.UniversalClient {
	t.Helper()
	c, err := FromEnv(e.get, password, sentinelPassword)
	require.NoError(t, err)
	rdb, err := New(c)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// roundTrip writes key through rdb and reads it back.
func roundTrip(t *testing.T, rdb redis.UniversalClient, key string) {
	t.Helper()
	want := rand.Text()
	require.NoError(t, rdb.Set(t.Context(), key, want, time.Minute).Err(), "set %s", key)
	got, err := rdb.Get(t.Context(), key).Result()
	require.NoError(t, err, "get %s", key)
	assert.Equal(t, want, got, "got %q, want %q", got, want)
}

// assertRefused checks that err is CheckNoEviction's refusal of node's
// policy, with what an operator needs to fix it.
func assertRefused(t *testing.T, err error, node, policy string) {
	t.Helper()
	require.ErrorIs(t, err, ErrEvictionPolicy)
	assert.NotErrorIs(t, err, ErrUnavailable, "a wrong policy is not an outage")
	var pe *PolicyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, node, pe.Node, "got node %q, want %q", pe.Node, node)
	assert.Equal(t, policy, pe.Policy, "got policy %q, want %q", pe.Policy, policy)
	for _, want := range []string{node, fmt.Sprintf("maxmemory-policy %q", policy), `"maxmemory-policy noeviction" in redis.conf`,
		"CONFIG SET maxmemory-policy noeviction"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestRealRedis(t *testing.T) {
	url := lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_URL", "scripts/with-redis.sh starts a redis-server")
	lockboxtest.TakeTurns(t, url) // with app's TestRechecksWhileServing, which changes the policy for a moment
	rdb := newClient(t, env{EnvURL: url}, "", "")
	require.NoError(t, CheckNoEviction(t.Context(), rdb))
	roundTrip(t, rdb, "redisclient:test:"+rand.Text())
}

func TestRealCluster(t *testing.T) {
	addrs := strings.Split(lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_CLUSTER",
		"scripts/with-redis-cluster.sh starts a 3-node cluster"), ",")
	url := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	rdb := newClient(t, env{EnvURL: url, EnvMode: "cluster"}, "", "")
	cluster, ok := rdb.(*redis.ClusterClient)
	require.True(t, ok, "got %T, want *redis.ClusterClient", rdb)
	require.NoError(t, CheckNoEviction(t.Context(), rdb))

	masters := map[string]bool{}
	for i := range 12 {
		key := fmt.Sprintf("redisclient:test:{%d}:%s", i, rand.Text())
		roundTrip(t, rdb, key)
		master, err := cluster.MasterForKey(t.Context(), key)
		require.NoError(t, err)
		masters[master.Options().Addr] = true
	}
	assert.Len(t, masters, len(addrs), "the keys should reach every master, got %v", masters)

	// One master that may evict is caught, by its address. The cluster is
	// shared with other tests: the policy is put back at once.
	victim := addrs[1]
	node := redis.NewClient(&redis.Options{Addr: victim})
	t.Cleanup(func() { _ = node.Close() })
	before, err := node.ConfigGet(t.Context(), "maxmemory-policy").Result()
	require.NoError(t, err)
	restore := func() {
		require.NoError(t, node.ConfigSet(t.Context(), "maxmemory-policy", before["maxmemory-policy"]).Err())
	}
	require.NoError(t, node.ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lru").Err())
	err = CheckNoEviction(t.Context(), rdb)
	restore()
	assertRefused(t, err, victim, "allkeys-lru")
	require.NoError(t, CheckNoEviction(t.Context(), rdb), "after the policy is restored")
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	const password = "tls-test-password"
	addr := startServer(t, func(port int) string {
		return fmt.Sprintf("bind 127.0.0.1\nport 0\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n"+
			"tls-auth-clients no\nrequirepass %s\nsave \"\"\nappendonly no\n", port, p.CertFile, p.KeyFile, p.CAFile, password)
	}, func(addr string) *redis.Options {
		return &redis.Options{Addr: addr, Password: password,
			TLSConfig: &tls.Config{RootCAs: p.Roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	})
	url := "rediss://" + addr + "/0"

	rdb := newClient(t, env{EnvURL: url, EnvCAFile: p.CAFile}, password, "")
	require.NoError(t, CheckNoEviction(t.Context(), rdb))
	roundTrip(t, rdb, "redisclient:test:tls")

	untrusted := newClient(t, env{EnvURL: url}, password, "")
	err := untrusted.Ping(t.Context()).Err()
	require.Error(t, err, "without redis_ca_file the system roots must not trust a private CA")
	assert.ErrorContains(t, err, "certificate signed by unknown authority")
	err = CheckNoEviction(t.Context(), untrusted)
	assert.ErrorIs(t, err, ErrUnavailable, "got %v, want ErrUnavailable", err)
	assert.NotErrorIs(t, err, ErrEvictionPolicy)
}

// As on managed Redis services, CONFIG is renamed away: the policy comes
// from INFO memory.
func TestCheckNoEvictionWithoutCONFIG(t *testing.T) {
	addr := startServer(t, func(port int) string {
		return fmt.Sprintf("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\nmaxmemory-policy allkeys-lru\nrename-command CONFIG \"\"\n", port)
	}, func(addr string) *redis.Options { return &redis.Options{Addr: addr} })
	rdb := newClient(t, env{EnvURL: "redis://" + addr}, "", "")
	require.Error(t, rdb.ConfigGet(t.Context(), "maxmemory-policy").Err(), "CONFIG should be renamed away")
	assertRefused(t, CheckNoEviction(t.Context(), rdb), addr, "allkeys-lru")
}

func TestSentinel(t *testing.T) {
	const masterPassword, sentinelPassword = "master-test-password", "sentinel-test-password"
	master := startServer(t, func(port int) string {
		return fmt.Sprintf("bind 127.0.0.1\nport %d\nrequirepass %s\nsave \"\"\nappendonly no\n", port, masterPassword)
	}, func(addr string) *redis.Options { return &redis.Options{Addr: addr, Password: masterPassword} })
	host, port, err := net.SplitHostPort(master)
	require.NoError(t, err)
	sentinel := startServer(t, func(p int) string {
		return fmt.Sprintf("bind 127.0.0.1\nport %d\nrequirepass %s\nsentinel monitor mymaster %s %s 1\n"+
			"sentinel auth-pass mymaster %s\nsentinel down-after-milliseconds mymaster 60000\n", p, sentinelPassword, host, port, masterPassword)
	}, func(addr string) *redis.Options { return &redis.Options{Addr: addr, Password: sentinelPassword} }, "--sentinel")
	e := env{EnvURL: "redis://" + sentinel + "/0?master_name=mymaster", EnvMode: "sentinel"}

	rdb := newClient(t, e, masterPassword, sentinelPassword)
	require.NoError(t, CheckNoEviction(t.Context(), rdb))
	key := "redisclient:test:sentinel"
	roundTrip(t, rdb, key)
	direct := redis.NewClient(&redis.Options{Addr: master, Password: masterPassword})
	t.Cleanup(func() { _ = direct.Close() })
	n, err := direct.Exists(t.Context(), key).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the key should be on the master the sentinel named")

	require.NoError(t, direct.ConfigSet(t.Context(), "maxmemory-policy", "volatile-ttl").Err())
	assertRefused(t, CheckNoEviction(t.Context(), rdb), "master (found through Sentinel)", "volatile-ttl")

	noSentinelPassword := newClient(t, e, masterPassword, "")
	assert.Error(t, noSentinelPassword.Ping(t.Context()).Err(), "the sentinel requires its password")
}
