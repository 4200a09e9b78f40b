package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// The head handed to a tenant is the newest signed checkpoint, read with
// one Get at the export's head; its line verifies offline with the public
// key alone, and is what the exporter reported writing.
func TestHead(t *testing.T) {
	f := setup(t)
	counting := &countingReader{ObjectReader: f.bkt}
	a := &Activity{Events: f.store, Archive: counting}
	_, found, err := a.Head(t.Context(), "contoso")
	require.NoError(t, err)
	assert.False(t, found, "nothing exported yet")

	f.exp.Batch = 2
	f.activity(t, "contoso", 4) // 6 events, 3 batches
	var last *SignedHead
	for {
		res, err := f.exp.ExportTenant(t.Context(), "contoso")
		require.NoError(t, err)
		if res.Exported == 0 {
			assert.Nil(t, res.Head, "a run that exported nothing reports no head")
			break
		}
		require.NotNil(t, res.Head)
		last = res.Head
	}
	counting.lists, counting.gets = 0, 0
	head, found, err := a.Head(t.Context(), "contoso")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, 0, counting.lists, "no listing, whatever the archive holds")
	assert.Equal(t, 1, counting.gets)
	assert.Equal(t, *last, head, "the head the export reported")

	body, err := f.bkt.Get(t.Context(), CheckpointKey("contoso", 6))
	require.NoError(t, err)
	assert.Equal(t, SignedHead{TenantID: "contoso", Seq: 6, Hash: head.Hash, Time: head.Time, KeyID: KeyID(testPub), Signature: head.Signature,
		Checkpoint: strings.TrimSuffix(string(body), "\n"), Key: CheckpointKey("contoso", 6)}, head)
	h, _, err := f.store.ExportHead(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, h.Hash, head.Hash)
	rep, err := Verify(t.Context(), f.bkt, "contoso", testPub)
	require.NoError(t, err)
	assert.Equal(t, rep.LastHash, head.Hash)
	assert.Equal(t, rep.LastTime, head.Time)

	// Offline: the line, or the whole head as JSON carried it.
	got, err := VerifyHead(head.Checkpoint, otherKey.Public().(ed25519.PublicKey), testPub)
	require.NoError(t, err)
	assert.Equal(t, head, got)
	wire, err := json.Marshal(head)
	require.NoError(t, err)
	var back SignedHead
	require.NoError(t, json.Unmarshal(wire, &back))
	_, err = VerifyHead(back.Checkpoint, testPub)
	assert.NoError(t, err)

	_, err = VerifyHead(head.Checkpoint, otherKey.Public().(ed25519.PublicKey))
	assert.ErrorContains(t, err, "not with key")
	_, err = VerifyHead(strings.Replace(head.Checkpoint, `"seq":6`, `"seq":7`, 1), testPub)
	assert.Error(t, err, "an edited head")
	_, err = VerifyHead(head.Checkpoint)
	assert.Error(t, err, "no key")

	_, _, err = Head(t.Context(), f.store, f.bkt, "a:b")
	assert.Equal(t, lockbox.KindInvalid, lockbox.KindOf(err))
}

// A checkpoint missing at the export's head, or stating another head, is
// an error, never another head handed out.
func TestHeadRefusesACheckpointThatIsNotTheHead(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 2)
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	h, _, err := f.store.ExportHead(t.Context(), "contoso")
	require.NoError(t, err)
	key := CheckpointKey("contoso", h.Seq)
	body := f.bkt.snapshot()[key]

	delete(f.bkt.objects, key)
	_, _, err = Head(t.Context(), f.store, f.bkt, "contoso")
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err))

	other := newTestArchive("contoso")
	other.export(t, int(h.Seq), true)
	f.bkt.objects[key] = other.objects[key]
	_, _, err = Head(t.Context(), f.store, f.bkt, "contoso")
	assert.Equal(t, lockbox.KindInternal, lockbox.KindOf(err))
	assert.ErrorContains(t, err, "the export's head is seq")

	f.bkt.objects[key] = body
	_, found, err := Head(t.Context(), f.store, f.bkt, "contoso")
	assert.NoError(t, err)
	assert.True(t, found)
}
