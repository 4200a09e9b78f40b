package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
)

var signer = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))

// archive returns contoso's archive of batches of the given sizes, each
// with its signed checkpoint, and the batches' checkpoint keys.
func archive(t *testing.T, batches ...int) (map[string][]byte, []string) {
	objects := map[string][]byte{}
	var checkpoints []string
	seq, prev := uint64(0), audit.ZeroHash
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, n := range batches {
		var body []byte
		var last audit.Record
		for range n {
			seq++
			last = audit.Record{Seq: seq, Time: audit.FormatTime(at), TenantID: "contoso", RequestID: fmt.Sprintf("req-%d", seq),
				OperationName: lockbox.OpCreate, Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"}, ToStatus: "Pending", PrevHash: prev}
			last.Hash = last.ComputeHash()
			body = append(append(body, last.Canonical()...), '\n')
			prev, at = last.Hash, at.Add(time.Second)
		}
		key := audit.ObjectKey("contoso", "2026-11-27", seq-uint64(n)+1, seq)
		objects[key] = body
		cp, err := audit.NewCheckpoint("contoso", seq, prev, last.Time, []string{key}).Sign(signer)
		require.NoError(t, err)
		checkpoints = append(checkpoints, audit.CheckpointKey("contoso", seq))
		objects[checkpoints[len(checkpoints)-1]] = cp
	}
	return objects, checkpoints
}

// fakeS3 serves an in-memory S3 with versioning (gofakes3) and returns a
// store of bucket, created with versioning enabled or not.
func fakeS3(t *testing.T, bucket string, versioned bool) (string, *objectstore.Store) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(false)).Server())
	t.Cleanup(srv.Close)
	store := objectstore.New(objectstore.Config{Endpoint: srv.URL, Bucket: bucket, PathStyle: true, AccessKey: "k", SecretKey: "s"})
	require.NoError(t, store.EnsureBucket(t.Context(), false))
	if versioned {
		_, err := store.Client().PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		require.NoError(t, err)
	}
	return srv.URL, store
}

func verify(t *testing.T, endpoint string, extra ...string) (int, string) {
	t.Helper()
	env := map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
	args := append([]string{"-tenant", "contoso", "-endpoint", endpoint, "-bucket", "lockbox-audit", "-secrets", t.TempDir(),
		"-pubkey", hex.EncodeToString(signer.Public().(ed25519.PublicKey))}, extra...)
	var out, errs bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, &out, &errs)
	return code, out.String() + errs.String()
}

// The command on a versioned bucket: the newest object and checkpoint
// deleted (delete markers) are named; with every version of them gone a
// head the tenant holds still shows the tail missing.
func TestRunFindsTheTailDeleted(t *testing.T) {
	endpoint, store := fakeS3(t, "lockbox-audit", true)
	objects, checkpoints := archive(t, 3, 2)
	for k, v := range objects {
		require.NoError(t, store.Put(t.Context(), k, v, time.Time{}))
	}
	head, err := audit.HeadOf(objects[checkpoints[1]])
	require.NoError(t, err)
	expect := fmt.Sprintf("%d:%s", head.Seq, head.Hash)
	dir := t.TempDir()
	headFile := filepath.Join(dir, "head.json")
	wire, err := json.Marshal(head)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(headFile, wire, 0o600))
	lineFile := filepath.Join(dir, "head.line")
	require.NoError(t, os.WriteFile(lineFile, []byte(head.Checkpoint+"\n"), 0o600))

	code, out := verify(t, endpoint)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "OK, 5 events in 2 objects")
	assert.Contains(t, out, "versions checked")
	for _, e := range []string{expect, "@" + headFile, "@" + lineFile} {
		code, out = verify(t, endpoint, "-expect", e)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "reaches the expected head at seq 5")
	}

	newest := audit.ObjectKey("contoso", "2026-11-27", 4, 5)
	for _, k := range []string{newest, checkpoints[1]} {
		require.NoError(t, store.Delete(t.Context(), k, ""))
	}
	code, out = verify(t, endpoint)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "BROKEN at seq 4 in "+newest+": deleted: a delete marker")
	assert.Contains(t, out, checkpoints[1]+" (deleted)")

	for _, k := range []string{newest, checkpoints[1]} {
		versions, err := store.ListVersions(t.Context(), k)
		require.NoError(t, err)
		for _, v := range versions {
			require.NoError(t, store.Delete(t.Context(), k, v.VersionID))
		}
	}
	code, out = verify(t, endpoint)
	assert.Equal(t, 0, code, "every trace gone: the bucket alone cannot tell\n%s", out)
	for _, e := range []string{expect, "@" + headFile, "@" + lineFile} {
		code, out = verify(t, endpoint, "-expect", e)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "BROKEN at seq 4 in "+checkpoints[1]+": archive ends at seq 3 but the head you hold is at seq 5")
	}
}

// A head that does not verify, or is another tenant's, is refused before
// anything is read; a bucket without versioning is a warning.
func TestRunExpectRefusalsAndWarnings(t *testing.T) {
	endpoint, store := fakeS3(t, "lockbox-audit", false)
	objects, checkpoints := archive(t, 2)
	for k, v := range objects {
		require.NoError(t, store.Put(t.Context(), k, v, time.Time{}))
	}
	code, out := verify(t, endpoint)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "warning: deletions not checked: the bucket has no versioning")
	assert.NotContains(t, out, "versions checked")

	head, err := audit.HeadOf(objects[checkpoints[0]])
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return "@" + p
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	c := audit.NewCheckpoint("contoso", head.Seq, head.Hash, head.Time, []string{audit.ObjectKey("contoso", "2026-11-27", 1, 2)})
	forged, err := c.Sign(other)
	require.NoError(t, err)
	c.TenantID, c.Objects = "fabrikam", []string{audit.ObjectKey("fabrikam", "2026-11-27", 1, 2)}
	foreign, err := c.Sign(signer)
	require.NoError(t, err)
	for name, e := range map[string]string{
		"signed with another key":  write("forged", string(forged)),
		"another tenant's head":    write("foreign", string(foreign)),
		"an edited head":           write("edited", strings.Replace(head.Checkpoint, `"seq":2`, `"seq":3`, 1)),
		"no such file":             "@" + filepath.Join(dir, "missing"),
		"not seq:hash":             "2",
		"a hash of the wrong size": "2:abc",
	} {
		code, out := verify(t, endpoint, "-expect", e)
		assert.Equal(t, 2, code, "%s: %s", name, out)
		assert.NotContains(t, out, "OK", name)
	}
	code, out = verify(t, endpoint, "-expect", fmt.Sprintf("%d:%s", head.Seq, head.Hash))
	assert.Equal(t, 0, code, out)
}
