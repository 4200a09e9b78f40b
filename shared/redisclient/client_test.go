package redisclient

import (
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTune(t *testing.T) {
	opt := &redis.Options{MaxRetries: 5}
	Tune(opt)
	assertTuned(t, opt.MaxRetries, opt.DialTimeout, opt.DialerRetries, opt.ReadTimeout, opt.WriteTimeout)
}

func TestNewClientPerMode(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{URL: "redis://127.0.0.1:6379/0"}, "*redis.Client"},
		{Config{URL: "redis://127.0.0.1:7000?addr=127.0.0.1:7001", Mode: ModeCluster}, "*redis.ClusterClient"},
		{Config{URL: "redis://127.0.0.1:26379?master_name=m", Mode: ModeSentinel}, "*redis.Client"},
	} {
		rdb, err := New(tc.c)
		require.NoError(t, err, "%s", tc.c)
		assert.Equal(t, tc.want, typeName(rdb), "%s", tc.c)
		require.NoError(t, rdb.Close())
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *redis.Client:
		return "*redis.Client"
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	default:
		return "other"
	}
}

// dropAfterRunning registers a command on m that counts its runs and then
// drops the connection without answering, as a failing network would after
// a script ran.
func dropAfterRunning(t *testing.T, m *miniredis.Miniredis) *atomic.Int32 {
	t.Helper()
	var runs atomic.Int32
	require.NoError(t, m.Server().Register("LOCKBOX.DROP", func(c *server.Peer, cmd string, args []string) {
		runs.Add(1)
		c.Close()
	}))
	return &runs
}

// A cluster client must follow redirects but never send again a command
// that may have run: go-redis's own cluster client does (the control).
func TestClusterDoesNotResend(t *testing.T) {
	m := miniredis.RunT(t) // answers CLUSTER SLOTS as a one-node cluster
	runs := dropAfterRunning(t, m)

	plain := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{m.Addr()}, MaxRetries: -1})
	t.Cleanup(func() { _ = plain.Close() })
	require.Error(t, plain.Do(t.Context(), "LOCKBOX.DROP", "k").Err())
	require.Greater(t, runs.Load(), int32(1), "control: go-redis's cluster client should resend after a dropped connection")

	runs.Store(0)
	rdb, err := New(Config{URL: "redis://" + m.Addr(), Mode: ModeCluster})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	err = rdb.Do(t.Context(), "LOCKBOX.DROP", "k").Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the command may have run and was not resent")
	assert.Equal(t, int32(1), runs.Load(), "got %d runs, want 1", runs.Load())

	require.NoError(t, rdb.Set(t.Context(), "k", "v", 0).Err(), "the client should still work afterwards")
	assert.Equal(t, ClusterRedirects, rdb.(*redis.ClusterClient).Options().MaxRedirects, "redirects are still followed")
}
