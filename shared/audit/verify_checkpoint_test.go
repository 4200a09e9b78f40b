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
	"testing"
	"time"

	"lockbox.dev/shared/lockbox"
)

// testArchive writes a tenant's archive the way the exporter does: each
// batch is chained after the one before, written as one object per date,
// then its checkpoint is signed and written (unless the export "died"
// before that).
type testArchive struct {
	tenant  string
	key     ed25519.PrivateKey
	at      time.Time // the next event's time
	seq     uint64
	hash    string
	objects map[string][]byte
}

func newTestArchive(tenant string) *testArchive {
	return &testArchive{tenant: tenant, key: testKey, at: time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC), hash: ZeroHash,
		objects: map[string][]byte{}}
}

// export appends a batch of n events, a second apart, and returns its
// object keys and, when signed, its checkpoint's key.
func (a *testArchive) export(t testing.TB, n int, signed bool) (objects []string, checkpoint string) {
	t.Helper()
	var body []byte
	var date, lastTime string
	first := uint64(0)
	flush := func() {
		if body != nil {
			k := ObjectKey(a.tenant, date, first, a.seq)
			a.objects[k], objects = body, append(objects, k)
		}
	}
	for range n {
		r := Record{Time: FormatTime(a.at), TenantID: a.tenant, RequestID: fmt.Sprintf("req-%d", a.seq+1),
			OperationName: lockbox.OpCreate, Actor: lockbox.Actor{Kind: "engineer", ID: "eng-7"}, ToStatus: "Pending",
			Reason: "why <&> \"quoted\"", SupportRequest: "INC-1"}
		if a.seq%2 == 1 {
			r.OperationName, r.Actor, r.FromStatus, r.ToStatus = lockbox.OpApprove, lockbox.Actor{Kind: "approver", ID: "alice"}, "Pending", "Approved"
		}
		if r.Date() != date {
			flush()
			date, first, body = r.Date(), a.seq+1, []byte{}
		}
		body = r.appendSealed(body, a.seq, a.hash)
		a.seq, a.hash, lastTime = r.Seq, r.Hash, r.Time
		a.at = a.at.Add(time.Second)
	}
	flush()
	if signed {
		cp, err := NewCheckpoint(a.tenant, a.seq, a.hash, lastTime, objects).Sign(a.key)
		if err != nil {
			t.Fatal(err)
		}
		checkpoint = CheckpointKey(a.tenant, a.seq)
		a.objects[checkpoint] = cp
	}
	return objects, checkpoint
}

// standardArchive is contoso's archive of three batches: seqs 1..3 and 4..6
// on 2026-11-27, and 7..10 over midnight (7..8 on the 27th, 9..10 on the
// 28th), each with its checkpoint.
func standardArchive(t testing.TB) *testArchive {
	a := newTestArchive("contoso")
	a.export(t, 3, true)
	a.export(t, 3, true)
	a.at = time.Date(2026, 11, 27, 23, 59, 58, 0, time.UTC)
	a.export(t, 4, true)
	return a
}

// bucket returns an in-memory bucket holding a copy of the archive.
func (a *testArchive) bucket() *mapBucket {
	return &mapBucket{objects: maps.Clone(a.objects)}
}

// mapBucket is an in-memory ObjectReader that counts its calls.
type mapBucket struct {
	objects     map[string][]byte
	lists, gets int
}

func (m *mapBucket) List(_ context.Context, prefix string) ([]string, error) {
	m.lists++
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (m *mapBucket) Get(_ context.Context, key string) ([]byte, error) {
	m.gets++
	b, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: no such key", key)
	}
	return bytes.Clone(b), nil
}

// Names in the standard archive.
var (
	obj1     = ObjectKey("contoso", "2026-11-27", 1, 3)
	obj2     = ObjectKey("contoso", "2026-11-27", 4, 6)
	obj3a    = ObjectKey("contoso", "2026-11-27", 7, 8)
	obj3b    = ObjectKey("contoso", "2026-11-28", 9, 10)
	cp3      = CheckpointKey("contoso", 3)
	cp6      = CheckpointKey("contoso", 6)
	cp10     = CheckpointKey("contoso", 10)
	cp6Time  = "2026-11-27T23:00:05.000Z"
	cp10Time = "2026-11-28T00:00:01.000Z"
)

// wantBreak verifies contoso's archive in bkt and checks the break it
// reports, and that the report describes exactly the events before it.
func wantBreak(t *testing.T, bkt ObjectReader, seq uint64, object, says string, keys ...ed25519.PublicKey) Report {
	t.Helper()
	if len(keys) == 0 {
		keys = []ed25519.PublicKey{testPub}
	}
	rep, err := Verify(t.Context(), bkt, "contoso", keys...)
	var b *BreakError
	if !errors.As(err, &b) {
		t.Fatalf("got %v, want a *BreakError", err)
	}
	if b.Seq != seq || b.Object != object || !strings.Contains(b.Reason, says) {
		t.Errorf("got seq %d in %s: %s\nwant seq %d in %s: …%s…", b.Seq, b.Object, b.Reason, seq, object, says)
	}
	if seq > 0 && rep.Events != seq-1 {
		t.Errorf("report: got %d events, want %d (the events before seq %d)", rep.Events, seq-1, seq)
	}
	ops := 0
	for _, n := range rep.Operations {
		ops += n
	}
	if uint64(ops) != rep.Events {
		t.Errorf("report: got %d operations for %d events, want as many", ops, rep.Events)
	}
	return rep
}

func TestVerifyIntactArchive(t *testing.T) {
	a := standardArchive(t)
	bkt := a.bucket()
	rep, err := Verify(t.Context(), bkt, "contoso", testPub)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{TenantID: "contoso", Objects: 4, Events: 10, FirstTime: "2026-11-27T23:00:00.000Z", LastTime: cp10Time,
		Operations: map[string]int{lockbox.OpCreate: 5, lockbox.OpApprove: 5}, LastHash: a.hash,
		Checkpoints: 3, CheckpointSeq: 10, CheckpointTime: cp10Time, KeyID: KeyID(testPub),
		Warnings: []string{"deletions not checked: the store does not list object versions"}}
	if fmt.Sprint(rep) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", rep, want)
	}
	// One List per prefix, one Get per object and per checkpoint.
	if bkt.lists != 2 || bkt.gets != 4+3 {
		t.Errorf("got %d lists and %d gets, want 2 and 7", bkt.lists, bkt.gets)
	}
	// Another tenant whose name starts with contoso's is not read.
	b := newTestArchive("contoso2")
	b.export(t, 2, true)
	maps.Copy(bkt.objects, b.objects)
	if _, err := Verify(t.Context(), bkt, "contoso", testPub); err != nil {
		t.Errorf("beside contoso2's archive: %v", err)
	}
}

// Nothing exported yet: nothing to verify, nothing wrong.
func TestVerifyEmptyArchive(t *testing.T) {
	rep, err := Verify(t.Context(), &mapBucket{}, "contoso", testPub)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != 0 || rep.Objects != 0 || rep.Checkpoints != 0 {
		t.Errorf("got %+v, want nothing", rep)
	}
}

func TestVerifyNeedsAKey(t *testing.T) {
	bkt := standardArchive(t).bucket()
	var b *BreakError
	for name, keys := range map[string][]ed25519.PublicKey{"no key": nil, "a short key": {testPub[:31]}} {
		_, err := Verify(t.Context(), bkt, "contoso", keys...)
		if err == nil || errors.As(err, &b) {
			t.Errorf("%s: got %v, want an error that is not a break", name, err)
		}
	}
}

// The newest object deleted: the archive is shorter than its newest
// checkpoint says.
func TestVerifyNewestObjectDeleted(t *testing.T) {
	bkt := standardArchive(t).bucket()
	delete(bkt.objects, obj3b)
	wantBreak(t, bkt, 9, obj3b, "archive ends at seq 8 but the signed checkpoint of "+cp10Time+" says 10")

	delete(bkt.objects, obj3a) // the whole newest batch
	wantBreak(t, bkt, 7, obj3a, "archive ends at seq 6 but the signed checkpoint of "+cp10Time+" says 10")

	delete(bkt.objects, obj2) // and the batch before, with its checkpoint still there
	wantBreak(t, bkt, 4, obj2, "archive ends at seq 3 but the signed checkpoint of "+cp10Time+" says 10")

	delete(bkt.objects, cp6) // the checkpoint after the end is gone: the newest still names its objects' range
	wantBreak(t, bkt, 4, cp10, "archive ends at seq 3 but the signed checkpoint of "+cp10Time+" says 10")

	delete(bkt.objects, obj1) // no object left
	wantBreak(t, bkt, 1, obj1, "archive ends at seq 0 but the signed checkpoint of "+cp10Time+" says 10")
}

// The newest checkpoint deleted, with or without some of its objects.
func TestVerifyNewestCheckpointDeleted(t *testing.T) {
	bkt := standardArchive(t).bucket()
	delete(bkt.objects, cp10)
	wantBreak(t, bkt, 7, obj3a, "not covered by a signed checkpoint: the newest, of "+cp6Time+", ends at seq 6 and the archive's objects reach seq 10")

	// Its batch had two objects: deleting the last one with the checkpoint
	// still leaves the first one uncovered.
	delete(bkt.objects, obj3b)
	wantBreak(t, bkt, 7, obj3a, "not covered by a signed checkpoint: the newest, of "+cp6Time+", ends at seq 6 and the archive's objects reach seq 8")
}

// The limit of what the objects alone show: deleting a whole newest batch
// and its checkpoint leaves an archive that agrees with its (older) newest
// checkpoint. A listing of versions shows the delete markers
// (TestVerifyFindsDeleteMarkers), and a head the tenant holds shows the
// tail gone even with its versions (TestVerifyExpectedHead); a store with
// neither, and no head, cannot tell this rollback from an archive exported
// up to there.
func TestVerifyCannotSeeARollbackOfWholeBatches(t *testing.T) {
	bkt := standardArchive(t).bucket()
	for _, k := range []string{obj3a, obj3b, cp10} {
		delete(bkt.objects, k)
	}
	rep, err := Verify(t.Context(), bkt, "contoso", testPub)
	if err != nil {
		t.Fatalf("got %v, want the rollback to verify (the documented limit)", err)
	}
	if rep.Events != 6 || rep.CheckpointSeq != 6 || rep.CheckpointTime != cp6Time {
		t.Errorf("got %d events to the checkpoint of seq %d at %s, want 6 to seq 6 at %s", rep.Events, rep.CheckpointSeq, rep.CheckpointTime, cp6Time)
	}
}

// A middle object deleted: the seqs no longer follow each other.
func TestVerifyMiddleObjectDeleted(t *testing.T) {
	bkt := standardArchive(t).bucket()
	delete(bkt.objects, obj2)
	wantBreak(t, bkt, 4, obj3a, "object starts at seq 7, expected 4")

	// With its checkpoint too: the same.
	delete(bkt.objects, cp6)
	wantBreak(t, bkt, 4, obj3a, "object starts at seq 7, expected 4")
}

// reseal rewrites the lines of seqs from.. in body, each changed by edit,
// and chains them again from prevHash, as someone with write access and
// without the signing key would.
func reseal(t *testing.T, body []byte, from uint64, prevHash string, edit func(*Record)) []byte {
	t.Helper()
	var out []byte
	for line := range bytes.Lines(body) {
		var r Record
		if err := jsonUnmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.Seq < from {
			out, prevHash = append(out, line...), r.Hash
			continue
		}
		edit(&r)
		out = r.appendSealed(out, r.Seq-1, prevHash)
		prevHash = r.Hash
	}
	return out
}

// The newest lines rewritten and chained again: the chain verifies, the
// signed checkpoint does not match it.
func TestVerifyTailRewritten(t *testing.T) {
	a := standardArchive(t)
	bkt := a.bucket()
	bkt.objects[obj3b] = reseal(t, a.objects[obj3b], 10, lineHash(t, a.objects[obj3b], 9), func(r *Record) { r.Actor.ID = "mallory" })
	wantBreak(t, bkt, 7, obj3a, "seqs 7..10 do not match the signed checkpoint of "+cp10Time)

	// The whole last batch rewritten and chained again from seq 6.
	bkt = a.bucket()
	bkt.objects[obj3a] = reseal(t, a.objects[obj3a], 7, lineHash(t, a.objects[obj2], 6), func(r *Record) { r.Reason = "nothing to see" })
	bkt.objects[obj3b] = reseal(t, a.objects[obj3b], 9, lineHash(t, bkt.objects[obj3a], 8), func(r *Record) { r.Reason = "nothing to see" })
	if _, err := Verify(t.Context(), bkt, "contoso", testPub); err == nil {
		t.Fatal("rewritten batch verified")
	}
	wantBreak(t, bkt, 7, obj3a, "(rewritten)")

	// ... and its checkpoint signed again with a key of the forger's.
	lastTime := FormatTime(time.Date(2026, 11, 28, 0, 0, 1, 0, time.UTC))
	forged, err := NewCheckpoint("contoso", 10, lineHash(t, bkt.objects[obj3b], 10), lastTime, []string{obj3a, obj3b}).Sign(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	bkt.objects[cp10] = forged
	wantBreak(t, bkt, 7, cp10, "checkpoint is signed with key "+KeyID(otherKey.Public().(ed25519.PublicKey))+", not with key "+KeyID(testPub))
}

// lineHash returns the hash of seq in body.
func lineHash(t *testing.T, body []byte, seq uint64) string {
	t.Helper()
	for line := range bytes.Lines(body) {
		var r Record
		if err := jsonUnmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.Seq == seq {
			return r.Hash
		}
	}
	t.Fatalf("no seq %d", seq)
	return ""
}

// Checkpoints the verifier must refuse, each in place of contoso's
// checkpoint of seq 6: the first seq not vouched for is then 4.
func TestVerifyRefusesCheckpoints(t *testing.T) {
	a := standardArchive(t)
	good := a.objects[cp6]
	fabrikam := newTestArchive("fabrikam")
	fabrikam.export(t, 3, true)
	fabrikam.export(t, 3, true)
	var c Checkpoint
	if err := jsonUnmarshal(good, &c); err != nil {
		t.Fatal(err)
	}
	resigned, err := NewCheckpoint(c.TenantID, c.Seq, c.Hash, c.Time, c.Objects).Sign(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		body []byte
		says string
	}{
		"signed with another key":     {resigned, "checkpoint is signed with key " + KeyID(otherKey.Public().(ed25519.PublicKey)) + ", not with key " + KeyID(testPub)},
		"another tenant's, copied in": {fabrikam.objects[CheckpointKey("fabrikam", 6)], "checkpoint of tenant fabrikam, not of contoso"},
		"an older one, renamed":       {a.objects[cp3], "checkpoint name says seq 6, the checkpoint says 3"},
		"edited":                      {bytes.Replace(good, []byte(`"time":"2026-11-27T23:00:05`), []byte(`"time":"2026-11-27T23:00:04`), 1), "does not verify"},
		"not JSON":                    {[]byte("{}\n"), "malformed checkpoint"},
		"empty":                       {nil, "not JSON"},
		"with an unknown field":       {bytes.Replace(good, []byte(`{`), []byte(`{"v":1,`), 1), "unknown field"},
		"pretty printed":              {bytes.ReplaceAll(good, []byte(`,"`), []byte(`, "`)), "canonical"},
	} {
		t.Run(name, func(t *testing.T) {
			bkt := a.bucket()
			bkt.objects[cp6] = tc.body
			wantBreak(t, bkt, 4, cp6, tc.says)
		})
	}

	// The newest one refused, past the archive's end or not.
	bkt := a.bucket()
	bkt.objects[cp10] = fabrikam.objects[CheckpointKey("fabrikam", 6)]
	wantBreak(t, bkt, 7, cp10, "checkpoint of tenant fabrikam, not of contoso")
	bkt.objects[CheckpointKey("contoso", 99)] = a.objects[cp10]
	bkt.objects[cp10] = a.objects[cp10]
	wantBreak(t, bkt, 11, CheckpointKey("contoso", 99), "checkpoint name says seq 99, the checkpoint says 10")

	// A name outside the layout.
	bkt = a.bucket()
	bkt.objects[CheckpointPrefix("contoso")+"latest.json"] = good
	wantBreak(t, bkt, 0, CheckpointPrefix("contoso")+"latest.json", "does not follow the checkpoint layout")
}

// The oldest checkpoint is checked as well as the newest.
func TestVerifyOlderCheckpointAltered(t *testing.T) {
	a := standardArchive(t)
	bkt := a.bucket()
	bkt.objects[cp3] = bytes.Replace(a.objects[cp3], []byte(`"seq":3`), []byte(`"seq":4`), 1)
	wantBreak(t, bkt, 1, cp3, "malformed checkpoint")
	bkt.objects[cp3] = a.objects[cp6]
	wantBreak(t, bkt, 1, cp3, "checkpoint name says seq 3, the checkpoint says 6")
}

// Objects merged (or renamed) keep the chain but not the checkpoints.
func TestVerifyObjectsMerged(t *testing.T) {
	a := standardArchive(t)
	bkt := a.bucket()
	merged := ObjectKey("contoso", "2026-11-27", 1, 6)
	bkt.objects[merged] = append(bytes.Clone(a.objects[obj1]), a.objects[obj2]...)
	delete(bkt.objects, obj1)
	delete(bkt.objects, obj2)
	wantBreak(t, bkt, 1, merged, "says an object ends at seq 3, this object holds seqs 1..6")
}

// An export that wrote its objects and died before its checkpoint, or an
// exporter without a key: the events after the newest checkpoint are not
// vouched for.
func TestVerifyEventsAfterTheNewestCheckpoint(t *testing.T) {
	a := standardArchive(t)
	objects, _ := a.export(t, 2, false)
	bkt := a.bucket()
	rep := wantBreak(t, bkt, 11, objects[0], "not covered by a signed checkpoint: the newest, of "+cp10Time+", ends at seq 10 and the archive's objects reach seq 12")
	if rep.Checkpoints != 3 || rep.CheckpointSeq != 10 {
		t.Errorf("report: got %d checkpoints to seq %d, want 3 to seq 10", rep.Checkpoints, rep.CheckpointSeq)
	}
	// The retried export writes the checkpoint: verified.
	b := newTestArchive("contoso")
	b.export(t, 3, true)
	b.export(t, 3, true)
	b.at = time.Date(2026, 11, 27, 23, 59, 58, 0, time.UTC)
	b.export(t, 4, true)
	b.export(t, 2, true)
	if !bytes.Equal(b.objects[objects[0]], a.objects[objects[0]]) {
		t.Fatal("the retried export wrote other bytes")
	}
	if _, err := Verify(t.Context(), b.bucket(), "contoso", testPub); err != nil {
		t.Errorf("after the retry: %v", err)
	}
}

func TestVerifyObjectsWithoutCheckpoints(t *testing.T) {
	a := standardArchive(t)
	bkt := a.bucket()
	for _, k := range []string{cp3, cp6, cp10} {
		delete(bkt.objects, k)
	}
	wantBreak(t, bkt, 1, obj1, "not covered by a signed checkpoint: the archive's objects reach seq 10 and there is no checkpoint under checkpoints/tenant=contoso/")
}

// After a key rotation the verifier takes the old key and the new one;
// with the new one only, the old checkpoints are refused.
func TestVerifyKeyRotation(t *testing.T) {
	a := newTestArchive("contoso")
	a.key = otherKey
	a.export(t, 3, true)
	a.key = testKey
	a.export(t, 3, true)
	otherPub := otherKey.Public().(ed25519.PublicKey)
	wantBreak(t, a.bucket(), 1, cp3, "not with key "+KeyID(testPub))
	rep, err := Verify(t.Context(), a.bucket(), "contoso", testPub, otherPub)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoints != 2 || rep.KeyID != KeyID(testPub) {
		t.Errorf("got %d checkpoints, the newest signed by %s; want 2, by %s", rep.Checkpoints, rep.KeyID, KeyID(testPub))
	}
	_, err = Verify(t.Context(), a.bucket(), "contoso", otherPub)
	var b *BreakError
	if !errors.As(err, &b) || b.Seq != 4 || b.Object != cp6 {
		t.Errorf("with the old key only: got %v, want a break at seq 4 in %s", err, cp6)
	}
}

// The chain checks are still there, and come first.
func TestVerifyChainChecks(t *testing.T) {
	a := standardArchive(t)
	bkt := a.bucket()
	bkt.objects[obj2] = bytes.Replace(a.objects[obj2], []byte(`"alice"`), []byte(`"mallory"`), 1)
	wantBreak(t, bkt, 4, obj2, "hash does not match the event (edited)")

	bkt = a.bucket()
	bkt.objects[obj2] = bytes.Replace(a.objects[obj2], []byte(`{"seq"`), []byte(`{ "seq"`), 1)
	wantBreak(t, bkt, 4, obj2, "not in canonical form")

	bkt = a.bucket()
	bkt.objects[obj1], bkt.objects[obj2] = a.objects[obj2], a.objects[obj1]
	wantBreak(t, bkt, 1, obj1, "found seq 4")

	bkt = a.bucket()
	bkt.objects[ObjectKey("contoso", "2026-11-28", 7, 8)] = a.objects[obj3a]
	delete(bkt.objects, obj3a)
	wantBreak(t, bkt, 7, ObjectKey("contoso", "2026-11-28", 7, 8), "partition")

	bkt = a.bucket()
	bkt.objects[TenantPrefix("contoso")+"notes.txt"] = []byte("hi")
	wantBreak(t, bkt, 0, TenantPrefix("contoso")+"notes.txt", "archive layout")
}

// A signed checkpoint whose seq falls inside one of the archive's objects:
// the objects were merged or renamed since.
func TestVerifyCheckpointInsideAnObject(t *testing.T) {
	a := standardArchive(t)
	bkt := a.bucket()
	cp, err := NewCheckpoint("contoso", 5, lineHash(t, a.objects[obj2], 5), "2026-11-27T23:00:04.000Z",
		[]string{ObjectKey("contoso", "2026-11-27", 4, 5)}).Sign(testKey)
	if err != nil {
		t.Fatal(err)
	}
	bkt.objects[CheckpointKey("contoso", 5)] = cp
	wantBreak(t, bkt, 4, obj2, "says an object ends at seq 5, this object holds seqs 4..6")
}
