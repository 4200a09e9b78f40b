package apitest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
)

// long is a value well past the 60 characters miniredis's Dump keeps.
var long = strings.Repeat("0123456789", 20)

// edited is s with the byte at i replaced: the same length, one byte apart.
func edited(s string, i int) string { return s[:i] + "X" + s[i+1:] }

// fill writes a key of every type Redis has, each with a long value, some
// with a time to live, and a stream with a consumer group that has read an
// entry.
func fill(t *testing.T, e *apitest.Env) {
	t.Helper()
	ctx := t.Context()
	r := e.Redis
	require.NoError(t, r.Set(ctx, "lb:{t}:pending:1", long, 96*time.Hour).Err())
	require.NoError(t, r.Set(ctx, "lb:{t}:plain", "v", 0).Err())
	require.NoError(t, r.HSet(ctx, "lb:{t}:req:1", "status", "Pending", "doc", long).Err())
	require.NoError(t, r.RPush(ctx, "lb:{t}:list", "a", long).Err())
	require.NoError(t, r.SAdd(ctx, "lb:{t}:set", "a", long).Err())
	require.NoError(t, r.ZAdd(ctx, "lb:{t}:due", redis.Z{Member: "1", Score: 0.1234567}, redis.Z{Member: long, Score: 1}).Err())
	stream(t, e, []any{"event", long}, []any{"event", "b"})
	require.NoError(t, r.PFAdd(ctx, "lb:{t}:seen", "a", "b").Err())
	require.NoError(t, r.Set(ctx, "lb:{t}:sig:abc", "1", 15*time.Minute).Err())
}

// stream writes lb:{t}:events afresh with entries 1-1 and 2-1 holding
// first and second, and a group "export" whose consumer c1 has read 1-1.
func stream(t *testing.T, e *apitest.Env, first, second []any) {
	t.Helper()
	ctx := t.Context()
	r := e.Redis
	require.NoError(t, r.Del(ctx, "lb:{t}:events").Err())
	require.NoError(t, r.XAdd(ctx, &redis.XAddArgs{Stream: "lb:{t}:events", ID: "1-1", Values: first}).Err())
	require.NoError(t, r.XAdd(ctx, &redis.XAddArgs{Stream: "lb:{t}:events", ID: "2-1", Values: second}).Err())
	require.NoError(t, r.XGroupCreate(ctx, "lb:{t}:events", "export", "0").Err())
	require.NoError(t, r.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "export", Consumer: "c1", Streams: []string{"lb:{t}:events", ">"}, Count: 1}).Err())
}

// The snapshot sees every change a call could make, where miniredis's Dump
// (which cuts values at 60 characters, rounds scores and leaves TTLs out)
// is blind to most of them.
func TestSnapshotSeesEveryChange(t *testing.T) {
	for _, c := range []struct {
		name  string
		plant func(t *testing.T, e *apitest.Env)
	}{
		{"a key's TTL extended by a year", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.Expire(t.Context(), "lb:{t}:pending:1", 96*time.Hour+365*24*time.Hour).Err())
		}},
		{"a TTL given to a key that had none", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.Expire(t.Context(), "lb:{t}:plain", time.Hour).Err())
		}},
		{"a TTL removed", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.Persist(t.Context(), "lb:{t}:pending:1").Err())
		}},
		{"a TTL shortened by a millisecond", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.PExpire(t.Context(), "lb:{t}:pending:1", 96*time.Hour-time.Millisecond).Err())
		}},
		{"a long string edited at byte 80, same length, same TTL", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.Set(t.Context(), "lb:{t}:pending:1", edited(long, 80), redis.KeepTTL).Err())
		}},
		{"a sorted set's score changed in the seventh decimal", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.ZAdd(t.Context(), "lb:{t}:due", redis.Z{Member: "1", Score: 0.1234568}).Err())
		}},
		{"a long sorted-set member edited at byte 80", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.ZRem(t.Context(), "lb:{t}:due", long).Err())
			require.NoError(t, e.Redis.ZAdd(t.Context(), "lb:{t}:due", redis.Z{Member: edited(long, 80), Score: 1}).Err())
		}},
		{"a stream entry with a field added", func(t *testing.T, e *apitest.Env) {
			stream(t, e, []any{"event", long}, []any{"event", "b", "extra", "x"})
		}},
		{"a long stream value edited at byte 80", func(t *testing.T, e *apitest.Env) {
			stream(t, e, []any{"event", edited(long, 80)}, []any{"event", "b"})
		}},
		{"a stream's group read another entry", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.XReadGroup(t.Context(), &redis.XReadGroupArgs{Group: "export", Consumer: "c1", Streams: []string{"lb:{t}:events", ">"}, Count: 1}).Err())
		}},
		{"a stream's pending entry acknowledged", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.XAck(t.Context(), "lb:{t}:events", "export", "1-1").Err())
		}},
		{"a stream's last generated id moved", func(t *testing.T, e *apitest.Env) {
			ctx := t.Context()
			require.NoError(t, e.Redis.XAdd(ctx, &redis.XAddArgs{Stream: "lb:{t}:events", ID: "3-1", Values: []any{"event", "c"}}).Err())
			require.NoError(t, e.Redis.XDel(ctx, "lb:{t}:events", "3-1").Err())
		}},
		{"a long hash field edited at byte 70", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.HSet(t.Context(), "lb:{t}:req:1", "doc", edited(long, 70)).Err())
		}},
		{"a hash field given a TTL", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.HExpire(t.Context(), "lb:{t}:req:1", time.Hour, "status").Err())
		}},
		{"a long list item edited at byte 80", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.LSet(t.Context(), "lb:{t}:list", 1, edited(long, 80)).Err())
		}},
		{"a list reordered", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.LMove(t.Context(), "lb:{t}:list", "lb:{t}:list", "LEFT", "RIGHT").Err())
		}},
		{"a long set member edited at byte 80", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.SRem(t.Context(), "lb:{t}:set", long).Err())
			require.NoError(t, e.Redis.SAdd(t.Context(), "lb:{t}:set", edited(long, 80)).Err())
		}},
		{"a HyperLogLog grown", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.PFAdd(t.Context(), "lb:{t}:seen", "c").Err())
		}},
		{"a key written in another database", func(t *testing.T, e *apitest.Env) {
			e.Mini.DB(3).Set("lb:{t}:stray", "v")
		}},
		{"a key deleted", func(t *testing.T, e *apitest.Env) {
			require.NoError(t, e.Redis.Del(t.Context(), "lb:{t}:plain").Err())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := apitest.New(t)
			fill(t, e)
			before := e.Snapshot()
			require.Equal(t, before, e.Snapshot(), "a snapshot is the same when nothing changed")
			c.plant(t, e)
			assert.NotEqual(t, before, e.Snapshot(), "the snapshot missed the change")
		})
	}
}

// A snapshot changes with what Redis holds, not with the clock: the idle
// times of a stream's consumers and pending entries are left out (so the
// stream planted afresh above differs in its planted change alone).
func TestSnapshotIgnoresIdleTimes(t *testing.T) {
	e := apitest.New(t)
	fill(t, e)
	before := e.Snapshot()
	e.Mini.SetTime(time.Now().Add(time.Hour))
	assert.Equal(t, before, e.Snapshot())
	stream(t, e, []any{"event", long}, []any{"event", "b"})
	assert.Equal(t, before, e.Snapshot(), "the stream written afresh as it was")
	assert.Contains(t, before, `"c1"`, "the consumer is in the snapshot")
	assert.Contains(t, before, `"1-1"`, "its pending entry is in the snapshot")
}

// SnapshotWithoutReplayMarkers and SnapshotExcept leave out the keys they
// skip, and see everything else in full.
func TestSnapshotExcept(t *testing.T) {
	e := apitest.New(t)
	fill(t, e)
	before := e.SnapshotWithoutReplayMarkers()
	assert.NotContains(t, before, ":sig:")
	require.NoError(t, e.Redis.Set(t.Context(), "lb:{t}:sig:def", "1", 15*time.Minute).Err())
	require.NoError(t, e.Redis.Expire(t.Context(), "lb:{t}:sig:abc", time.Hour).Err())
	assert.Equal(t, before, e.SnapshotWithoutReplayMarkers(), "replay markers are left out")
	require.NoError(t, e.Redis.Expire(t.Context(), "lb:{t}:pending:1", time.Hour).Err())
	assert.NotEqual(t, before, e.SnapshotWithoutReplayMarkers(), "a TTL changed elsewhere is seen")

	skip := func(k string) bool { return strings.HasPrefix(k, "lb:{t}:req:") }
	before = e.SnapshotExcept(skip)
	require.NoError(t, e.Redis.HSet(t.Context(), "lb:{t}:req:1", "doc", edited(long, 70)).Err())
	assert.Equal(t, before, e.SnapshotExcept(skip))
	require.NoError(t, e.Redis.HSet(t.Context(), "lb:{t}:req:2", "doc", "x").Err())
	assert.Equal(t, before, e.SnapshotExcept(skip))
	require.NoError(t, e.Redis.SAdd(t.Context(), "lb:{t}:set", "b").Err())
	assert.NotEqual(t, before, e.SnapshotExcept(skip))
}

// The snapshot holds every value whole, quoted.
func TestSnapshotHoldsWholeValues(t *testing.T) {
	e := apitest.New(t)
	fill(t, e)
	s := e.Snapshot()
	assert.Contains(t, s, `"`+long+`"`)
	assert.Contains(t, s, `"lb:{t}:pending:1" string, ttl 96h0m0s`)
	assert.Contains(t, s, `"lb:{t}:plain" string, no ttl`)
	assert.Contains(t, s, `"1": 0.1234567`)
}
