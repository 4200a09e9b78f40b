package redisclienttest_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/redisclient/redisclienttest"
)

func TestRegisterConfig(t *testing.T) {
	m := redisclienttest.Miniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })

	got, err := rdb.ConfigGet(t.Context(), "maxmemory-policy").Result()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"maxmemory-policy": "noeviction"}, got)

	got, err = rdb.ConfigGet(t.Context(), "maxmemory").Result()
	require.NoError(t, err)
	assert.Empty(t, got, "other parameters are not known")

	assert.Error(t, rdb.ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lru").Err(), "CONFIG SET is not supported")

	resp2 := redis.NewClient(&redis.Options{Addr: m.Addr(), Protocol: 2})
	t.Cleanup(func() { _ = resp2.Close() })
	got, err = resp2.ConfigGet(t.Context(), "MAXMEMORY-POLICY").Result()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"maxmemory-policy": "noeviction"}, got, "RESP2 and any case")

	assert.ErrorContains(t, redisclienttest.RegisterConfig(m, "noeviction"), "already registered")
}

func TestRegisterConfigNotRunning(t *testing.T) {
	assert.ErrorContains(t, redisclienttest.RegisterConfig(miniredis.NewMiniRedis(), "noeviction"), "miniredis is not running")
}
