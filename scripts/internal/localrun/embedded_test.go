package localrun

import (
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Without redis-server on PATH the runtime serves miniredis, with the
// password required and TTLs that run on the wall clock.
func TestEmbeddedMiniredis(t *testing.T) {
	old := lookRedisServer
	lookRedisServer = func() (string, error) { return "", errors.New("not found") }
	defer func() { lookRedisServer = old }()

	var wg sync.WaitGroup
	ctx := t.Context() // ends the embedded server with the test
	svc, err := startRedis(ctx, t.TempDir(), "s3cret", func(_ *process, f func()) { wg.Go(f) }, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Contains(t, svc.Desc, "state is lost")

	opt, err := redis.ParseURL(svc.URL)
	require.NoError(t, err)
	anon := redis.NewClient(opt)
	defer anon.Close()
	assert.Error(t, anon.Ping(ctx).Err(), "no password, no access")

	opt.Password = "s3cret"
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	require.NoError(t, rdb.Set(ctx, "k", "v", 300*time.Millisecond).Err())
	assert.Equal(t, int64(1), rdb.Exists(ctx, "k").Val())
	assert.Eventually(t, func() bool { return rdb.Exists(ctx, "k").Val() == 0 }, 3*time.Second, 50*time.Millisecond,
		"the TTL ran out on the wall clock")
}
