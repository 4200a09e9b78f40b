package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

func TestPortalKV(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		kv := redisstore.New(b.rdb, lockbox.DefaultLimits).PortalKV()
		key := "session:" + newID()
		_, ok, err := kv.Get(ctx, key)
		require.NoError(t, err)
		assert.False(t, ok)
		require.NoError(t, kv.Put(ctx, key, []byte("v1"), time.Minute))
		v, ok, err := kv.Get(ctx, key)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "v1", string(v))
		v, ok, err = kv.Take(ctx, key)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "v1", string(v))
		_, ok, err = kv.Take(ctx, key)
		require.NoError(t, err)
		assert.False(t, ok, "taken once")
		require.NoError(t, kv.Put(ctx, key, []byte("v2"), time.Minute))
		require.NoError(t, kv.Delete(ctx, key))
		_, ok, _ = kv.Get(ctx, key)
		assert.False(t, ok)
	})
}
