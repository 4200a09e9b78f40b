package redisclient_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisclient/redisclienttest"
)

// switchable is a miniredis whose maxmemory-policy (as CONFIG GET answers
// it) a test changes, and which answers the command FILL as a Redis out of
// memory answers a write.
type switchable struct {
	*miniredis.Miniredis
	policy atomic.Value
}

func newSwitchable(t *testing.T) *switchable {
	t.Helper()
	s := &switchable{Miniredis: miniredis.RunT(t)}
	s.policy.Store(redisclient.NoEviction)
	require.NoError(t, s.Server().Register("CONFIG", func(c *server.Peer, _ string, _ []string) {
		c.WriteMapLen(1)
		c.WriteBulk("maxmemory-policy")
		c.WriteBulk(s.policy.Load().(string))
	}))
	require.NoError(t, s.Server().Register("FILL", func(c *server.Peer, _ string, _ []string) {
		c.WriteError("OOM command not allowed when used memory > 'maxmemory'.")
	}))
	return s
}

func (s *switchable) setPolicy(p string) { s.policy.Store(p) }

// A nil guard lets every call through (a function without Redis).
func TestNilGuard(t *testing.T) {
	var g *redisclient.Guard
	assert.NoError(t, g.Check())
}

// Checks repeat while serving: a policy that turns to evicting is refused
// within the period (the call that finds the check due is served on the last
// verdict while the check runs), and serving resumes once it is fixed.
func TestGuardRechecks(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			m := newSwitchable(t)
			const period = 10 * time.Millisecond
			g := redisclient.NewGuard(client(t, m.Miniredis, mode), period, period)
			require.NoError(t, g.Check())

			m.setPolicy("allkeys-lru")
			require.Eventually(t, func() bool { return g.Check() != nil }, 5*time.Second, period/4)
			assert.ErrorIs(t, g.Check(), redisclient.ErrEvictionPolicy)

			m.setPolicy(redisclient.NoEviction)
			require.Eventually(t, func() bool { return g.Check() == nil }, 5*time.Second, period/4)
		})
	}
}

// A check older than twice the period (a process that served nothing for
// that long) is not served on: the first call after it checks again and
// waits for the answer.
func TestGuardDoesNotServeOnAnOldCheck(t *testing.T) {
	m := newSwitchable(t)
	const period = 30 * time.Millisecond
	g := redisclient.NewGuard(client(t, m.Miniredis, redisclient.ModeStandalone), period, time.Hour)
	require.NoError(t, g.Check())
	m.setPolicy("volatile-ttl")
	time.Sleep(2*period + 10*time.Millisecond)
	assert.ErrorIs(t, g.Check(), redisclient.ErrEvictionPolicy, "the first call after 2 periods")
}

// An out-of-memory reply to any command or pipeline of the client checks
// again at once, however long until the next check is due.
func TestGuardChecksOnOutOfMemory(t *testing.T) {
	for _, mode := range modes {
		for name, fill := range map[string]func(rdb redis.UniversalClient) error{
			"command": func(rdb redis.UniversalClient) error { return rdb.Do(t.Context(), "FILL").Err() },
			"pipeline": func(rdb redis.UniversalClient) error {
				_, err := rdb.Pipelined(t.Context(), func(p redis.Pipeliner) error {
					p.Ping(t.Context())
					p.Do(t.Context(), "FILL")
					return nil
				})
				return err
			},
		} {
			t.Run(string(mode)+"/"+name, func(t *testing.T) {
				m := newSwitchable(t)
				rdb := client(t, m.Miniredis, mode)
				g := redisclient.NewGuard(rdb, time.Hour, time.Hour)
				require.NoError(t, g.Check())
				m.setPolicy("volatile-lru")
				require.NoError(t, g.Check(), "checked again before the hour")

				err := fill(rdb)
				require.True(t, redis.IsOOMError(err), "got %v, want an OOM reply", err)
				assert.ErrorIs(t, g.Check(), redisclient.ErrEvictionPolicy, "the call after the OOM reply")
			})
		}
	}
}

// Calls from many goroutines, while the policy changes and OOM replies
// come, get a verdict each (run with -race).
func TestGuardConcurrentCalls(t *testing.T) {
	m := newSwitchable(t)
	rdb := client(t, m.Miniredis, redisclient.ModeStandalone)
	g := redisclient.NewGuard(rdb, time.Millisecond, time.Millisecond)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				_ = g.Check()
				if j%50 == i {
					_ = rdb.Do(t.Context(), "FILL").Err()
				}
			}
		})
	}
	for _, p := range []string{"allkeys-lru", redisclient.NoEviction, "volatile-lfu", redisclient.NoEviction} {
		m.setPolicy(p)
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	require.Eventually(t, func() bool { return g.Check() == nil }, 5*time.Second, time.Millisecond)
}

// BenchmarkGuardCheck is what the guard costs a call between checks.
func BenchmarkGuardCheck(b *testing.B) {
	m := miniredis.RunT(b)
	require.NoError(b, redisclienttest.RegisterConfig(m, redisclient.NoEviction))
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	b.Cleanup(func() { _ = rdb.Close() })
	g := redisclient.NewGuard(rdb, time.Hour, time.Hour)
	require.NoError(b, g.Check())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := g.Check(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
