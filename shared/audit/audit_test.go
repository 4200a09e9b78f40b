package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// memStore is an in-memory bucket that can be made to fail.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
	down    bool
}

func newMemStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (m *memStore) Put(_ context.Context, key string, body []byte, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errors.New("connection refused")
	}
	m.puts++
	m.objects[key] = bytes.Clone(body)
	return nil
}

func (m *memStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, errors.New("no such key")
	}
	return bytes.Clone(b), nil
}

func (m *memStore) List(_ context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m *memStore) snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.objects)
}

type fixture struct {
	mini  *miniredis.Miniredis
	rdb   *redis.Client
	store *redisstore.Store
	bkt   *memStore
	exp   *Exporter
	now   time.Time
}

// unlimited lifts the usage caps: these tests give one engineer many grants.
func unlimited(s *redisstore.Store) *redisstore.Store {
	s.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
	return s
}

func setup(t *testing.T) *fixture {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	f := &fixture{mini: m, rdb: rdb, store: unlimited(redisstore.New(rdb, lockbox.DefaultLimits)), bkt: newMemStore(),
		now: time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)}
	f.exp = NewExporter(f.store, f.bkt, testKey)
	f.exp.Now = func() time.Time { return f.now }
	return f
}

// activity files n requests in tenant and approves every other one: 1.5n events.
func (f *fixture) activity(t *testing.T, tenant string, n int) {
	t.Helper()
	for i := range n {
		in := lockbox.CreateInput{TenantID: tenant, ResourceType: "vm", ResourceIDs: []string{"vm-1"}, Justification: "why <&>",
			SupportRequest: fmt.Sprintf("INC-%d", i), Requester: lockbox.Requester{ID: "eng-7"}}
		r, _, err := f.store.Create(t.Context(), lockbox.NewRequest(in, lockbox.NewID(), f.now, lockbox.DefaultLimits), lockbox.CreateOptions{})
		require.NoError(t, err)
		if i%2 == 0 {
			_, err = f.store.Act(t.Context(), tenant, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok \"quoted\"", nil, f.now))
			require.NoError(t, err)
		}
		f.now = f.now.Add(time.Second)
	}
}

func (f *fixture) streamLen(t *testing.T, tenant string) int64 {
	n, err := f.rdb.XLen(t.Context(), redisstore.EventsKey(tenant)).Result()
	require.NoError(t, err)
	return n
}

func TestExportExactlyOnce(t *testing.T) {
	f := setup(t)
	f.exp.Batch = 7
	f.activity(t, "contoso", 10) // 15 events
	f.activity(t, "fabrikam", 4) // 6 events

	for tenant, want := range map[string]uint64{"contoso": 15, "fabrikam": 6} {
		res, err := f.exp.ExportTenant(t.Context(), tenant)
		require.NoError(t, err)
		assert.EqualValues(t, want, res.Exported)
		assert.EqualValues(t, 0, f.streamLen(t, tenant), "acknowledged events are trimmed")
		rep, err := Verify(t.Context(), f.bkt, tenant, testPub)
		require.NoError(t, err)
		assert.Equal(t, want, rep.Events)
		assert.Equal(t, int(want*2/3), rep.Operations[lockbox.OpCreate])
	}
	assert.Equal(t, []string{
		"audit/tenant=contoso/date=2026-11-27/00000000000000000001-00000000000000000007.jsonl",
		"audit/tenant=contoso/date=2026-11-27/00000000000000000008-00000000000000000014.jsonl",
		"audit/tenant=contoso/date=2026-11-27/00000000000000000015-00000000000000000015.jsonl",
	}, must(f.bkt.List(t.Context(), TenantPrefix("contoso"))))

	// Nothing new: nothing written.
	puts := f.bkt.puts
	res, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Zero(t, res.Exported)
	assert.Equal(t, puts, f.bkt.puts)

	// New events continue the chain.
	f.activity(t, "contoso", 2)
	_, err = f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	rep, err := Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err)
	assert.EqualValues(t, 18, rep.Events)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The export dies between writing and acknowledging. The next run rewrites
// exactly the same objects, byte for byte, and then carries on.
func TestCrashBetweenWriteAndAck(t *testing.T) {
	f := setup(t)
	f.exp.Batch = 4
	f.activity(t, "contoso", 4) // 6 events
	f.exp.afterPut = func() error { return errors.New("killed") }
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.Error(t, err)
	first := f.bkt.snapshot()
	require.Len(t, first, 2, "the batch's object and its signed checkpoint")
	assert.EqualValues(t, 6, f.streamLen(t, "contoso"), "nothing acknowledged, nothing trimmed")

	// More events arrive, and the next run has another batch size (a new
	// deploy); the crashed batch is still redone exactly as planned.
	f.activity(t, "contoso", 2)
	f.exp.afterPut = nil
	f.exp.Batch = 100
	res, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	assert.EqualValues(t, 9, res.Exported)
	after := f.bkt.snapshot()
	for k, v := range first {
		assert.Equal(t, v, after[k], "the crashed batch's object is rewritten identically: %s", k)
	}
	rep, err := Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err, "no event lost or duplicated")
	assert.EqualValues(t, 9, rep.Events)
}

// Seqs are assigned when events are appended: an event lost from the log
// before export is a gap, and the export stops at it rather than number the
// next event as if nothing were missing.
func TestGapStopsTheExport(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 2) // 3 events
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	f.activity(t, "contoso", 2) // seqs 4, 5, 6
	msgs, err := f.rdb.XRange(t.Context(), redisstore.EventsKey("contoso"), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	require.NoError(t, f.rdb.XDel(t.Context(), redisstore.EventsKey("contoso"), msgs[0].ID).Err()) // seq 4 is lost

	before := f.bkt.snapshot()
	_, err = f.exp.ExportTenant(t.Context(), "contoso")
	var gap *GapError
	require.ErrorAs(t, err, &gap)
	assert.Equal(t, uint64(3), gap.HeadSeq)
	assert.Equal(t, uint64(5), gap.NextSeq)
	assert.Equal(t, before, f.bkt.snapshot(), "nothing written past the gap")
	assert.EqualValues(t, 2, f.streamLen(t, "contoso"), "the waiting events stay")
}

// A lost export head (Redis evicted or lost it) never restarts the chain at
// seq 1: the archive's newest signed checkpoint says where it goes on; with
// objects but no checkpoint, the export refuses.
func TestLostHeadContinuesFromTheCheckpoint(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 2) // 3 events
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	f.activity(t, "contoso", 2) // seqs 4, 5, 6
	require.NoError(t, f.rdb.Del(t.Context(), "lb:{contoso}:audit:head").Err())

	res, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, 3, res.Exported)
	rep, err := Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err, "the chain goes on from seq 3's hash")
	assert.EqualValues(t, 6, rep.Events)

	// The checkpoints are gone too: the archive's objects forbid a restart.
	for _, k := range must(f.bkt.List(t.Context(), CheckpointPrefix("contoso"))) {
		delete(f.bkt.objects, k)
	}
	f.activity(t, "contoso", 1)
	require.NoError(t, f.rdb.Del(t.Context(), "lb:{contoso}:audit:head").Err())
	before := f.bkt.snapshot()
	_, err = f.exp.ExportTenant(t.Context(), "contoso")
	require.ErrorContains(t, err, "refusing to start its chain again at seq 1")
	assert.Equal(t, before, f.bkt.snapshot())
}

// A run whose lock expired while it wrote cannot acknowledge; the run that
// took over writes the same objects and acknowledges them once.
func TestFencing(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 2)          // 3 events
	lockKey := "lb:{contoso}:audit:lock" // the store's key of the export lock
	f.exp.afterPut = func() error {
		// The lock expires and another run takes it.
		return f.rdb.Set(context.Background(), lockKey, "someone-else", time.Minute).Err()
	}
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.ErrorIs(t, err, lockbox.ErrExportFenced)
	assert.EqualValues(t, 3, f.streamLen(t, "contoso"))
	assert.Equal(t, "someone-else", f.rdb.Get(t.Context(), lockKey).Val(), "the loser does not release another's lock")

	f.rdb.Del(t.Context(), lockKey)
	f.exp.afterPut = nil
	res, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.Exported)
	_, err = Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err)
}

// Object storage down: every event stays in Redis for the next run.
func TestStorageDown(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 2)
	f.bkt.down = true
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.Error(t, err)
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err))
	assert.EqualValues(t, 3, f.streamLen(t, "contoso"))

	f.bkt.down = false
	res, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.Exported)
	_, err = Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err)
}

// Two runs at once: one exports, the other finds the tenant busy.
func TestConcurrentRuns(t *testing.T) {
	f := setup(t)
	f.exp.Batch = 3
	f.activity(t, "contoso", 20) // 30 events
	var wg sync.WaitGroup
	results := make([]TenantResult, 8)
	for i := range results {
		wg.Go(func() {
			var err error
			results[i], err = f.exp.ExportTenant(context.Background(), "contoso")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	total := 0
	for _, r := range results {
		total += r.Exported
	}
	for {
		r, err := f.exp.ExportTenant(t.Context(), "contoso")
		require.NoError(t, err)
		if r.Exported == 0 {
			break
		}
		total += r.Exported
	}
	assert.Equal(t, 30, total, "every event exported exactly once")
	rep, err := Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err)
	assert.EqualValues(t, 30, rep.Events)
}

// A batch spanning midnight (UTC) is split by date partition.
func TestDatePartitions(t *testing.T) {
	f := setup(t)
	f.now = time.Date(2026, 11, 27, 23, 59, 58, 0, time.UTC)
	f.activity(t, "contoso", 4) // 23:59:58 .. 00:00:01
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	keys := must(f.bkt.List(t.Context(), TenantPrefix("contoso")))
	require.Len(t, keys, 2)
	assert.Contains(t, keys[0], "/date=2026-11-27/00000000000000000001-00000000000000000003.jsonl")
	assert.Contains(t, keys[1], "/date=2026-11-28/00000000000000000004-00000000000000000006.jsonl")
	_, err = Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err)
}

func TestRecordCanonicalForm(t *testing.T) {
	r := Record{Time: "2026-11-27T09:00:00.000Z", TenantID: "contoso", RequestID: "r1", OperationName: lockbox.OpCreate,
		Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"}, ToStatus: "Pending", Reason: "<&>", SupportRequest: "INC-1"}
	r.appendSealed(nil, 0, ZeroHash)
	assert.Equal(t, `{"seq":1,"time":"2026-11-27T09:00:00.000Z","tenantId":"contoso","requestId":"r1","operationName":"CreateLockboxRequest",`+
		`"actor":{"kind":"engineer","id":"eng-7"},"fromStatus":"","toStatus":"Pending","reason":"<&>","supportRequest":"INC-1",`+
		`"prevHash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"`+r.Hash+`"}`, string(r.Canonical()))
	assert.Len(t, r.Hash, 64)
	k, ok := ParseKey(ObjectKey("contoso", "2026-11-27", 1, 12))
	assert.True(t, ok)
	assert.Equal(t, Key{Tenant: "contoso", Date: "2026-11-27", First: 1, Last: 12}, k)
}

// The verifier names the first broken seq and object for every kind of tampering.
func TestVerifyDetectsTampering(t *testing.T) {
	f := setup(t)
	f.exp.Batch = 3
	f.activity(t, "contoso", 6) // 9 events in 3 objects
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	clean := f.bkt.snapshot()
	keys := must(f.bkt.List(t.Context(), TenantPrefix("contoso")))
	require.Len(t, keys, 3)

	cases := []struct {
		name    string
		tamper  func(objs map[string][]byte)
		seq     uint64
		object  string
		message string
	}{
		{"edited reason", func(o map[string][]byte) {
			o[keys[1]] = bytes.Replace(o[keys[1]], []byte(`"reason":"ok \"quoted\""`), []byte(`"reason":"ok \"QUOTED\""`), 1)
		}, 0, keys[1], "hash does not match"},
		{"edited actor, hash recomputed", func(o map[string][]byte) {
			lines := bytes.Split(bytes.TrimSpace(o[keys[0]]), []byte("\n"))
			var r Record
			require.NoError(t, jsonUnmarshal(lines[1], &r))
			r.Actor.ID = "mallory"
			r.Hash = r.ComputeHash()
			lines[1] = r.Canonical()
			o[keys[0]] = append(bytes.Join(lines, []byte("\n")), '\n')
		}, 3, keys[0], "prevHash does not match"},
		{"reformatted line", func(o map[string][]byte) {
			o[keys[2]] = bytes.Replace(o[keys[2]], []byte(`{"seq":`), []byte(`{ "seq":`), 1)
		}, 7, keys[2], "canonical"},
		{"deleted object", func(o map[string][]byte) { delete(o, keys[1]) }, 4, keys[2], "starts at seq 7"},
		{"swapped objects", func(o map[string][]byte) { o[keys[0]], o[keys[1]] = o[keys[1]], o[keys[0]] }, 1, keys[0], "found seq 4"},
		{"dropped last line", func(o map[string][]byte) {
			lines := bytes.SplitAfter(o[keys[2]], []byte("\n"))
			o[keys[2]] = bytes.Join(lines[:2], nil)
		}, 9, keys[2], "ends at seq 9"},
		{"stray object", func(o map[string][]byte) { o["audit/tenant=contoso/notes.txt"] = []byte("x") }, 0, "audit/tenant=contoso/notes.txt", "layout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.bkt.objects = maps.Clone(clean)
			c.tamper(f.bkt.objects)
			_, err := Verify(t.Context(), f.bkt, "contoso", testPub)
			var b *BreakError
			require.ErrorAs(t, err, &b)
			if c.seq != 0 {
				assert.Equal(t, c.seq, b.Seq)
			}
			assert.Equal(t, c.object, b.Object)
			assert.Contains(t, b.Reason, c.message)
		})
	}
	f.bkt.objects = clean
	rep, err := Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err)
	assert.EqualValues(t, 9, rep.Events)
}

// After a signing key rotation, a lost head is still taken from a checkpoint
// signed with the previous key, which the new exporter trusts.
func TestLostHeadAfterAKeyRotation(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 2)
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	rotated := NewExporter(f.store, f.bkt, otherKey)
	f.activity(t, "contoso", 2)
	require.NoError(t, f.rdb.Del(t.Context(), "lb:{contoso}:audit:head").Err())
	_, err = rotated.ExportTenant(t.Context(), "contoso")
	require.Error(t, err, "the previous key is not trusted yet")
	rotated.Trust = append(rotated.Trust, testPub)
	res, err := rotated.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, 3, res.Exported)
	rep, err := Verify(t.Context(), f.bkt, "contoso", otherKey.Public().(ed25519.PublicKey), testPub)
	require.NoError(t, err)
	assert.EqualValues(t, 6, rep.Events)
}

// cancelingLog ends the run's context while the read-ahead reads the third
// batch, once the run has had time to get to waiting for it: the deadline
// of a lockbox-audit run falling mid-export.
type cancelingLog struct {
	Log
	reads  atomic.Int32
	cancel context.CancelFunc
}

func (l *cancelingLog) ReadEvents(ctx context.Context, tenant, after, upto string, n int) ([]lockbox.LoggedEvent, error) {
	if l.reads.Add(1) == 3 {
		time.Sleep(50 * time.Millisecond) // the run acknowledges batch 1 and waits for batch 3
		l.cancel()
		return nil, ctx.Err()
	}
	return l.Log.ReadEvents(ctx, tenant, after, upto, n)
}

// A run whose time runs out while it waits for the read-ahead returns (with
// the context's error) instead of waiting for a read that will never come;
// the next run carries on from there, and every event is archived once.
func TestExportReturnsWhenItsTimeRunsOut(t *testing.T) {
	for range 10 {
		f := setup(t)
		f.activity(t, "contoso", 10) // 15 events: three batches of 5
		ctx, cancel := context.WithCancel(t.Context())
		e := NewExporter(&cancelingLog{Log: f.store, cancel: cancel}, f.bkt, testKey)
		e.Batch, e.Now = 5, func() time.Time { return f.now }
		done := make(chan error, 1)
		go func() { _, err := e.ExportTenant(ctx, "contoso"); done <- err }()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Fatal("ExportTenant still waits for the read-ahead after its context ended")
		}
		cancel()
		f.exp.Batch = 5
		_, err := f.exp.ExportTenant(t.Context(), "contoso")
		require.NoError(t, err)
		rep, err := Verify(t.Context(), f.bkt, "contoso", testKey.Public().(ed25519.PublicKey))
		require.NoError(t, err)
		assert.EqualValues(t, 15, rep.Events, "the next run exports the rest, each event once")
	}
}
