package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisclient/redisclienttest"
)

// env points a function's configuration at redisURL, with its secrets in a
// temporary folder.
func env(t *testing.T, redisURL string) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretJWT), []byte("jwt-secret-0123456789abcdef"), 0o600))
	t.Setenv("secret_mount_path", dir)
	t.Setenv("redis_url", redisURL)
}

// A Redis that may evict keys: the function refuses to serve (503, saying
// why), however often it is called.
func TestRefusesARedisThatEvicts(t *testing.T) {
	m := miniredis.RunT(t)
	require.NoError(t, redisclienttest.RegisterConfig(m, "allkeys-lru"))
	env(t, "redis://"+m.Addr()+"/0")
	retryEvery = 0
	t.Cleanup(func() { retryEvery = defaultRetryEvery })

	svc := API(config.Needs{JWT: true})
	for range 2 {
		_, err := svc.Get()
		require.Error(t, err)
		assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err))
		assert.Contains(t, err.Error(), "noeviction")
	}
}

// A Redis unreachable at start: 503 until it is there and never evicts;
// then the function serves, and checks no more.
func TestChecksAgainUntilRedisIsThere(t *testing.T) {
	m := miniredis.NewMiniRedis()
	require.NoError(t, m.Start())
	addr := m.Addr()
	m.Close()
	env(t, "redis://"+addr+"/0")
	retryEvery = 0
	t.Cleanup(func() { retryEvery = defaultRetryEvery })

	svc := API(config.Needs{JWT: true})
	_, err := svc.Get()
	require.Error(t, err)
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err))

	m = miniredis.NewMiniRedis()
	require.NoError(t, m.StartAddr(addr))
	t.Cleanup(m.Close)
	require.NoError(t, redisclienttest.RegisterConfig(m, "noeviction"))
	s, err := svc.Get()
	require.NoError(t, err)
	assert.NotNil(t, s.Cases.Store)
	m.Close() // checked once: an outage later shows as 503 from the calls themselves
	_, err = svc.Get()
	assert.NoError(t, err)
}
