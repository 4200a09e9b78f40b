package audit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"lockbox.dev/shared/objectstore"
)

func putAll(t *testing.T, bucket *objectstore.Store, objects map[string][]byte, retainUntil time.Time) {
	t.Helper()
	for k, v := range objects {
		if err := bucket.Put(t.Context(), k, v, retainUntil); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}

// The verifier on a real bucket: checkpoints are listed under their own
// prefix (and another tenant's, whose id starts with this one's, are not),
// and the tail deleted, left uncovered or rewritten is found.
func TestMinIOVerifierCheckpoints(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "audit", false)
	a := standardArchive(t)
	other := newTestArchive("contoso2")
	other.export(t, 2, true)
	putAll(t, bucket, a.objects, time.Time{})
	putAll(t, bucket, other.objects, time.Time{})

	rep, err := Verify(t.Context(), bucket, "contoso", testPub)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != 10 || rep.Objects != 4 || rep.Checkpoints != 3 || rep.CheckpointSeq != 10 {
		t.Errorf("got %d events in %d objects, %d checkpoints to seq %d; want 10 in 4, 3 to seq 10",
			rep.Events, rep.Objects, rep.Checkpoints, rep.CheckpointSeq)
	}

	restore := func() {
		t.Helper()
		keys, err := bucket.List(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if _, ok := a.objects[k]; !ok && !strings.Contains(k, "contoso2") {
				if err := bucket.Delete(t.Context(), k, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		putAll(t, bucket, a.objects, time.Time{})
	}
	for _, c := range []struct {
		name   string
		tamper func()
		seq    uint64
		object string
		says   string
	}{
		{"newest object deleted", func() { mustDelete(t, bucket, obj3b) }, 9, obj3b, "archive ends at seq 8 but the signed checkpoint of " + cp10Time + " says 10"},
		{"newest checkpoint deleted", func() { mustDelete(t, bucket, cp10) }, 7, obj3a, "not covered by a signed checkpoint"},
		{"middle object deleted", func() { mustDelete(t, bucket, obj2) }, 4, obj3a, "object starts at seq 7, expected 4"},
		{"tail rewritten and chained again", func() {
			body := reseal(t, a.objects[obj3b], 10, "", func(r *Record) { r.Reason = "nothing to see" })
			putAll(t, bucket, map[string][]byte{obj3b: body}, time.Time{})
		}, 7, obj3a, "(rewritten)"},
		{"checkpoint signed with another key", func() {
			var c Checkpoint
			if err := jsonUnmarshal(a.objects[cp10], &c); err != nil {
				t.Fatal(err)
			}
			forged, err := NewCheckpoint(c.TenantID, c.Seq, c.Hash, c.Time, c.Objects).Sign(otherKey)
			if err != nil {
				t.Fatal(err)
			}
			putAll(t, bucket, map[string][]byte{cp10: forged}, time.Time{})
		}, 7, cp10, "signed with key"},
		{"another tenant's checkpoint copied in", func() {
			putAll(t, bucket, map[string][]byte{CheckpointKey("contoso", 2): other.objects[CheckpointKey("contoso2", 2)]}, time.Time{})
		}, 1, CheckpointKey("contoso", 2), "checkpoint of tenant contoso2, not of contoso"},
	} {
		c.tamper()
		_, err := Verify(t.Context(), bucket, "contoso", testPub)
		var b *BreakError
		if !errors.As(err, &b) {
			t.Errorf("%s: got %v, want a *BreakError", c.name, err)
		} else if b.Seq != c.seq || b.Object != c.object || !strings.Contains(b.Reason, c.says) {
			t.Errorf("%s: got seq %d in %s: %s\nwant seq %d in %s: …%s…", c.name, b.Seq, b.Object, b.Reason, c.seq, c.object, c.says)
		}
		restore()
	}
	if _, err := Verify(t.Context(), bucket, "contoso", testPub); err != nil {
		t.Errorf("restored archive: %v", err)
	}
}

func mustDelete(t *testing.T, bucket *objectstore.Store, key string) {
	t.Helper()
	if err := bucket.Delete(t.Context(), key, ""); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
}

// Object Lock on both prefixes keeps the tail: the locked versions cannot
// be deleted, and a plain delete only adds a delete marker that hides them
// from a listing. The archive then agrees with its newest visible
// checkpoint, only shorter; the verifier reads the versions and names the
// delete markers. Removing the markers restores the archive.
func TestMinIOObjectLockKeepsTheTail(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "locked", true)
	a := standardArchive(t)
	putAll(t, bucket, a.objects, time.Now().Add(24*time.Hour))
	c := bucket.Client()
	rep, err := Verify(t.Context(), bucket, "contoso", testPub)
	if err != nil || !rep.DeletionsChecked || len(rep.Warnings) != 0 {
		t.Fatalf("intact: got %+v, %v; want deletions checked, no warning", rep, err)
	}

	versions := map[string]string{}
	for _, k := range []string{obj3a, obj3b, cp10} {
		head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("locked"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(head.ObjectLockMode), "COMPLIANCE"; got != want {
			t.Errorf("%s: got lock mode %q, want %q", k, got, want)
		}
		versions[k] = aws.ToString(head.VersionId)
		if err := bucket.Delete(t.Context(), k, versions[k]); err == nil {
			t.Errorf("%s: deleting the locked version: got no error, want refused", k)
		}
		mustDelete(t, bucket, k) // a delete marker
	}

	rep = wantBreak(t, bucket, 7, obj3a, "deleted: a delete marker of ")
	if rep.CheckpointSeq != 6 {
		t.Errorf("got the report to checkpoint %d, want 6", rep.CheckpointSeq)
	}
	b := breakOf(t, bucket)
	for _, k := range []string{obj3a, obj3b, cp10} {
		if !strings.Contains(b.Object+" "+b.Reason, k) || !strings.Contains(b.Reason, versions[obj3a]) {
			t.Errorf("got %s: %s; want it to name %s and the version its data is in", b.Object, b.Reason, k)
		}
	}
	for k, v := range versions {
		out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("locked"), Key: aws.String(k), VersionId: aws.String(v)})
		if err != nil {
			t.Fatalf("%s: the locked version: %v", k, err)
		}
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(body, a.objects[k]) {
			t.Errorf("%s: got %q (%v), want the original bytes", k, body, err)
		}
	}
	// Restored (the markers removed), the archive verifies to seq 10 again.
	for _, k := range []string{obj3a, obj3b, cp10} {
		lv, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String("locked"), Prefix: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		for _, dm := range lv.DeleteMarkers {
			if err := bucket.Delete(t.Context(), k, aws.ToString(dm.VersionId)); err != nil {
				t.Fatalf("remove the delete marker of %s: %v", k, err)
			}
		}
	}
	rep, err = Verify(t.Context(), bucket, "contoso", testPub)
	if err != nil || rep.Events != 10 {
		t.Errorf("after removing the markers: got %d events, %v; want 10, nil", rep.Events, err)
	}
}

// Without object lock every version of the tail can be deleted for good,
// leaving neither data nor delete marker: the verifier cannot see it from
// the bucket, but a head the tenant was handed shows it. On a bucket that
// never had versioning the verifier says it cannot check deletions.
func TestMinIOExpectedHead(t *testing.T) {
	m := startMinIO(t)
	a := standardArchive(t)
	head, err := HeadOf(a.objects[cp10])
	if err != nil {
		t.Fatal(err)
	}
	expecting := Verifier{Keys: []ed25519.PublicKey{testPub}, Expect: head.Expected()}

	versioned := m.store(t, "versioned", false)
	c := versioned.Client()
	if _, err := c.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: aws.String("versioned"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	plain := m.store(t, "plain", false)
	for _, bucket := range []*objectstore.Store{versioned, plain} {
		putAll(t, bucket, a.objects, time.Time{})
		if rep, err := expecting.Verify(t.Context(), bucket, "contoso"); err != nil || rep.ExpectedSeq != 10 {
			t.Fatalf("%s intact: got %+v, %v", bucket.Bucket(), rep, err)
		}
		for _, k := range []string{obj3a, obj3b, cp10} {
			mustDelete(t, bucket, k)
			vs, err := bucket.ListVersions(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if err := bucket.Delete(t.Context(), k, v.VersionID); err != nil {
					t.Fatalf("delete %s version %s: %v", k, v.VersionID, err)
				}
			}
		}
		rep, err := Verify(t.Context(), bucket, "contoso", testPub)
		if err != nil || rep.Events != 6 {
			t.Fatalf("%s: the tail gone with every version: got %+v, %v; want 6 events that verify", bucket.Bucket(), rep, err)
		}
		if bucket == plain && (rep.DeletionsChecked || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "no versioning")) {
			t.Errorf("a bucket without versioning: got %+v, want a warning that deletions cannot be checked", rep)
		}
		if bucket == versioned && (!rep.DeletionsChecked || len(rep.Warnings) != 0) {
			t.Errorf("a versioned bucket: got %+v, want deletions checked", rep)
		}
		_, err = expecting.Verify(t.Context(), bucket, "contoso")
		var b *BreakError
		if !errors.As(err, &b) || b.Seq != 7 || b.Object != cp10 || !strings.Contains(b.Reason, "archive ends at seq 6 but the head you hold is at seq 10") {
			t.Errorf("%s: expecting the head at seq 10: got %v", bucket.Bucket(), err)
		}
	}
}
