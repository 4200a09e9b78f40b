package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/md5" // #nosec G501 -- an S3 entity tag, as S3 computes it
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"lockbox.dev/shared/objectstore"
)

// versionedBucket is an in-memory bucket with S3's versioning: a Put adds a
// version, a Delete without a version adds a delete marker (or, without
// versioning, removes the object), a Delete of a version removes it.
type versionedBucket struct {
	status string // "Enabled", "Suspended" or ""
	keys   map[string][]fakeVersion
	next   int
	clock  time.Time
}

// fakeVersion is one version; a key's versions are oldest first.
type fakeVersion struct {
	id     string
	body   []byte
	marker bool
	at     time.Time
}

func newVersionedBucket(status string, objects map[string][]byte) *versionedBucket {
	b := &versionedBucket{status: status, keys: map[string][]fakeVersion{}, clock: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range objects {
			if !yield(k) {
				return
			}
		}
	}) {
		b.put(k, objects[k])
	}
	return b
}

func (b *versionedBucket) newVersion(body []byte, marker bool) fakeVersion {
	b.next++
	b.clock = b.clock.Add(time.Second)
	id := "null"
	if b.status == "Enabled" {
		id = fmt.Sprintf("v%03d", b.next)
	}
	return fakeVersion{id: id, body: bytes.Clone(body), marker: marker, at: b.clock}
}

// add appends v to key's versions; a "null" version replaces the one
// before it of that id, as S3 does.
func (b *versionedBucket) add(key string, v fakeVersion) {
	vs := slices.DeleteFunc(b.keys[key], func(o fakeVersion) bool { return v.id == "null" && o.id == "null" })
	b.keys[key] = append(vs, v)
}

func (b *versionedBucket) put(key string, body []byte) { b.add(key, b.newVersion(body, false)) }

// del is a plain DeleteObject: a delete marker on a versioned bucket.
func (b *versionedBucket) del(key string) {
	if b.status == "" {
		delete(b.keys, key)
		return
	}
	b.add(key, b.newVersion(nil, true))
}

// purge deletes every version and marker of key for good (what a bucket
// without object lock allows).
func (b *versionedBucket) purge(key string) { delete(b.keys, key) }

func (b *versionedBucket) latest(key string) (fakeVersion, bool) {
	vs := b.keys[key]
	if len(vs) == 0 || vs[len(vs)-1].marker {
		return fakeVersion{}, false
	}
	return vs[len(vs)-1], true
}

func (b *versionedBucket) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	for k := range b.keys {
		if _, ok := b.latest(k); ok && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (b *versionedBucket) Get(_ context.Context, key string) ([]byte, error) {
	v, ok := b.latest(key)
	if !ok {
		return nil, fmt.Errorf("get %s: no such key", key)
	}
	return bytes.Clone(v.body), nil
}

func (b *versionedBucket) Versioning(context.Context) (string, error) { return b.status, nil }

func (b *versionedBucket) ListVersions(_ context.Context, prefix string) ([]objectstore.Version, error) {
	var out []objectstore.Version
	for k, vs := range b.keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		for i, v := range vs {
			ov := objectstore.Version{Key: k, VersionID: v.id, Latest: i == len(vs)-1, DeleteMarker: v.marker, LastModified: v.at}
			if !v.marker {
				sum := md5.Sum(v.body) // #nosec G401 -- an S3 entity tag
				ov.ETag = `"` + hex.EncodeToString(sum[:]) + `"`
			}
			out = append(out, ov)
		}
	}
	slices.SortFunc(out, func(x, y objectstore.Version) int {
		if c := strings.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		return y.LastModified.Compare(x.LastModified)
	})
	return out, nil
}

func (b *versionedBucket) GetVersion(_ context.Context, key, id string) ([]byte, error) {
	for _, v := range b.keys[key] {
		if v.id == id && !v.marker {
			return bytes.Clone(v.body), nil
		}
	}
	return nil, fmt.Errorf("get %s version %s: no such version", key, id)
}

// Deleting the newest objects and their checkpoint on a versioned bucket
// only hides them behind delete markers: the archive still agrees with its
// newest visible checkpoint, and only a listing of versions shows the
// markers. The verifier reads the versions and names the keys.
func TestVerifyFindsDeleteMarkers(t *testing.T) {
	a := standardArchive(t)
	bkt := newVersionedBucket("Enabled", a.objects)
	rep, err := Verify(t.Context(), bkt, "contoso", testPub)
	if err != nil || !rep.DeletionsChecked || len(rep.Warnings) != 0 || rep.Events != 10 {
		t.Fatalf("intact: got %+v, %v; want 10 events, deletions checked, no warning", rep, err)
	}

	for _, k := range []string{obj3a, obj3b, cp10} {
		bkt.del(k)
	}
	rep = wantBreak(t, bkt, 7, obj3a, "deleted: a delete marker of 2026-11-28T12:00:")
	b := breakOf(t, bkt)
	for _, k := range []string{cp10, obj3b} {
		if !strings.Contains(b.Reason, k+" (deleted)") {
			t.Errorf("got %q, want it to name %s", b.Reason, k)
		}
	}
	if rep.CheckpointSeq != 6 {
		t.Errorf("got the report to checkpoint %d, want 6", rep.CheckpointSeq)
	}

	// Only the newest object hidden, its checkpoint still there.
	bkt = newVersionedBucket("Enabled", a.objects)
	bkt.del(obj3b)
	wantBreak(t, bkt, 9, obj3b, "deleted: a delete marker")

	// A middle object.
	bkt = newVersionedBucket("Enabled", a.objects)
	bkt.del(obj2)
	wantBreak(t, bkt, 4, obj2, "deleted: a delete marker")

	// Deleted, then written again with the same bytes: the marker stays.
	bkt = newVersionedBucket("Enabled", a.objects)
	bkt.del(obj2)
	bkt.put(obj2, a.objects[obj2])
	wantBreak(t, bkt, 4, obj2, "deleted and written again")

	// A delete marker where no object ever was.
	bkt = newVersionedBucket("Enabled", a.objects)
	bkt.del(CheckpointKey("contoso", 99))
	wantBreak(t, bkt, 11, CheckpointKey("contoso", 99), "on a key that holds no data")

	// Another tenant's markers are not contoso's business.
	bkt = newVersionedBucket("Enabled", a.objects)
	bkt.put(ObjectKey("contoso2", "2026-11-27", 1, 1), []byte("x\n"))
	bkt.del(ObjectKey("contoso2", "2026-11-27", 1, 1))
	if _, err := Verify(t.Context(), bkt, "contoso", testPub); err != nil {
		t.Errorf("beside contoso2's delete marker: %v", err)
	}
}

// A retried export writes the same bytes again: a second version, the same
// data. Other bytes under an older version mean the key was overwritten,
// even when the original is written back on top.
func TestVerifyFindsOverwrittenVersions(t *testing.T) {
	a := standardArchive(t)
	bkt := newVersionedBucket("Enabled", a.objects)
	bkt.put(obj2, a.objects[obj2])
	bkt.put(cp6, a.objects[cp6])
	if _, err := Verify(t.Context(), bkt, "contoso", testPub); err != nil {
		t.Fatalf("the same bytes written again: %v", err)
	}

	bkt.put(obj2, bytes.Replace(a.objects[obj2], []byte(`"alice"`), []byte(`"mallory"`), 1))
	bkt.put(obj2, a.objects[obj2])
	wantBreak(t, bkt, 4, obj2, "overwritten: its latest version")

	// The latest version is the forgery: the chain sees the edit first.
	bkt = newVersionedBucket("Enabled", a.objects)
	bkt.put(obj2, bytes.Replace(a.objects[obj2], []byte(`"alice"`), []byte(`"mallory"`), 1))
	if _, err := Verify(t.Context(), bkt, "contoso", testPub); err == nil {
		t.Error("an overwritten object: got no error")
	}
}

// Without versioning a deleted object leaves no trace: the verifier says it
// cannot check deletions, and checks the rest as before. With versioning
// suspended it still reads the versions there are.
func TestVerifyWithoutVersioning(t *testing.T) {
	a := standardArchive(t)
	bkt := newVersionedBucket("", a.objects)
	for _, k := range []string{obj3a, obj3b, cp10} {
		bkt.del(k)
	}
	rep, err := Verify(t.Context(), bkt, "contoso", testPub)
	if err != nil || rep.Events != 6 || rep.DeletionsChecked {
		t.Fatalf("got %+v, %v; want 6 events, deletions not checked", rep, err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "the bucket has no versioning") {
		t.Errorf("got warnings %q, want one saying the bucket has no versioning", rep.Warnings)
	}
	bkt.del(obj2)
	if b := wantBreak(t, bkt, 4, obj2, "archive ends at seq 3 but the signed checkpoint of "+cp6Time+" says 6"); len(b.Warnings) != 1 {
		t.Errorf("a break: got warnings %q, want the warning still", b.Warnings)
	}

	bkt = newVersionedBucket("Enabled", a.objects)
	bkt.status = "Suspended"
	bkt.del(cp10)
	rep = wantBreak(t, bkt, 7, cp10, "deleted: a delete marker")
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "suspended") {
		t.Errorf("got warnings %q, want one saying versioning is suspended", rep.Warnings)
	}

	// A store that cannot list versions says so.
	rep, err = Verify(t.Context(), a.bucket(), "contoso", testPub)
	if err != nil || rep.DeletionsChecked || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "does not list object versions") {
		t.Errorf("a store without versions: got %+v, %v", rep, err)
	}
}

// A head the tenant was handed proves the tail deleted even when every
// version of it is gone (a bucket without object lock, or after its
// retention): the archive must reach the head's seq, with its hash.
func TestVerifyExpectedHead(t *testing.T) {
	a := standardArchive(t)
	head, err := HeadOf(a.objects[cp10])
	if err != nil {
		t.Fatal(err)
	}
	mid, err := HeadOf(a.objects[cp6])
	if err != nil {
		t.Fatal(err)
	}
	bkt := newVersionedBucket("Enabled", a.objects)
	for _, h := range []SignedHead{head, mid} {
		rep, err := Verifier{Keys: []ed25519.PublicKey{testPub}, Expect: h.Expected()}.Verify(t.Context(), bkt, "contoso")
		if err != nil || rep.ExpectedSeq != h.Seq {
			t.Errorf("expecting seq %d of the intact archive: got %+v, %v", h.Seq, rep, err)
		}
	}
	for _, k := range []string{obj3a, obj3b, cp10} {
		bkt.purge(k)
	}
	if _, err := Verify(t.Context(), bkt, "contoso", testPub); err != nil {
		t.Fatalf("the tail gone with its versions: without a head got %v, want nothing to see", err)
	}
	rep, err := Verifier{Keys: []ed25519.PublicKey{testPub}, Expect: head.Expected()}.Verify(t.Context(), bkt, "contoso")
	var b *BreakError
	if !errors.As(err, &b) || b.Seq != 7 || b.Object != cp10 || !strings.Contains(b.Reason, "archive ends at seq 6 but the head you hold is at seq 10") {
		t.Fatalf("expecting seq 10 after the tail went: got %v, want seq 7 in %s: archive ends at seq 6…", err, cp10)
	}
	if rep.Events != 6 {
		t.Errorf("got %d events before the break, want 6", rep.Events)
	}

	// Another hash at the seq: not this archive (or rewritten).
	other := mid.Expected()
	other.Hash = strings.Repeat("0", 63) + "1"
	_, err = Verifier{Keys: []ed25519.PublicKey{testPub}, Expect: other}.Verify(t.Context(), bkt, "contoso")
	if !errors.As(err, &b) || b.Seq != 6 || b.Object != obj2 || !strings.Contains(b.Reason, "the head you hold says "+other.Hash) {
		t.Errorf("another hash at seq 6: got %v", err)
	}
	if _, err := (Verifier{Keys: []ed25519.PublicKey{testPub}, Expect: ExpectedHead{Seq: 3, Hash: "nope"}}).Verify(t.Context(), bkt, "contoso"); err == nil {
		t.Error("a malformed expected hash: got no error")
	}
}

func TestParseExpectedHead(t *testing.T) {
	h := strings.Repeat("ab", 32)
	got, err := ParseExpectedHead(" 42:" + h + "\n")
	if err != nil || got != (ExpectedHead{Seq: 42, Hash: h}) {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"", "42", "42:", ":" + h, "0:" + h, "-1:" + h, "42:" + strings.ToUpper(h), "42:" + h[:62], "x:" + h} {
		if _, err := ParseExpectedHead(bad); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}

// breakOf verifies contoso's archive in bkt and returns its *BreakError.
func breakOf(t *testing.T, bkt ObjectReader) *BreakError {
	t.Helper()
	_, err := Verify(t.Context(), bkt, "contoso", testPub)
	var b *BreakError
	if !errors.As(err, &b) {
		t.Fatalf("got %v, want a *BreakError", err)
	}
	return b
}
