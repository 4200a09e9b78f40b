package redisclient

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A real redis-server whose policy turns to evicting while it is full
// answers writes "OOM command not allowed…" (volatile-lru with no key to
// evict): the guard checks again at once and refuses, whether the write was
// a command, a script (as the store's), a pipeline or a transaction, though
// its next check was an hour away.
func TestGuardOutOfMemoryRealRedis(t *testing.T) {
	addr := startServer(t, func(port int) string {
		return fmt.Sprintf("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\nmaxmemory-policy noeviction\n", port)
	}, func(addr string) *redis.Options { return &redis.Options{Addr: addr} })
	rdb := newClient(t, env{EnvURL: "redis://" + addr}, "", "")
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = admin.Close() })
	config := func(param, value string) {
		require.NoError(t, admin.ConfigSet(context.Background(), param, value).Err(), "CONFIG SET %s %s", param, value)
	}

	for name, write := range map[string]func(ctx context.Context) error{
		"command": func(ctx context.Context) error { return rdb.Set(ctx, "guard:k", "v", 0).Err() },
		"script": func(ctx context.Context) error {
			return redis.NewScript(`return redis.call('SET', KEYS[1], ARGV[1])`).Run(ctx, rdb, []string{"guard:k"}, "v").Err()
		},
		"pipeline": func(ctx context.Context) error { // its error is the first command's: redis.Nil
			var set *redis.StatusCmd
			err := pipelineErr(rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Get(ctx, "guard:missing")
				set = p.Set(ctx, "guard:k", "v", 0)
				return nil
			}))
			require.ErrorIs(t, err, redis.Nil)
			return set.Err()
		},
		"transaction": func(ctx context.Context) error { // its error: EXECABORT; SET's: OOM
			var set *redis.StatusCmd
			err := pipelineErr(rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				set = p.Set(ctx, "guard:k", "v", 0)
				return nil
			}))
			require.ErrorContains(t, err, "EXECABORT")
			return set.Err()
		},
	} {
		t.Run(name, func(t *testing.T) {
			config("maxmemory", "0")
			config("maxmemory-policy", NoEviction)
			g := NewGuard(rdb, time.Hour, time.Hour)
			require.NoError(t, g.Check())

			config("maxmemory-policy", "volatile-lru")
			config("maxmemory", "1")
			require.NoError(t, g.Check(), "checked again before the hour")
			err := write(t.Context())
			require.True(t, redis.IsOOMError(err), "got %v, want an OOM reply", err)
			assertRefused(t, g.Check(), addr, "volatile-lru")
		})
	}
}

// pipelineErr is the error of a pipeline's run.
func pipelineErr(_ []redis.Cmder, err error) error { return err }
