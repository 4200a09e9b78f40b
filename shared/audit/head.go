package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"lockbox.dev/shared/lockbox"
)

// SignedHead is the newest signed checkpoint of a tenant's archive as it is
// handed to the tenant: the tenant keeps it and can later show, with
// `auditverify -expect`, that the archive still reaches it — even if the
// newest objects were deleted together with their checkpoints and every
// trace of them. Its JSON is what a transport hands out.
type SignedHead struct {
	TenantID string `json:"tenantId"`
	// Seq and Hash are the seq and hash of the archive's last event as the
	// checkpoint states them; Time is that event's time.
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	Time string `json:"time"`
	// KeyID names the signing key (see KeyID); Signature is the base64
	// Ed25519 signature.
	KeyID     string `json:"keyId"`
	Signature string `json:"signature"`
	// Checkpoint is the signed checkpoint as stored under Key, without its
	// final newline: one line of canonical JSON, checked offline with
	// VerifyHead (or `auditverify -expect @FILE`) and the public key. The
	// signature covers the line with "signature" set to "".
	Checkpoint string `json:"checkpoint"`
	Key        string `json:"key"`
}

// Expected returns the head as the verifier's expectation.
func (h SignedHead) Expected() ExpectedHead { return ExpectedHead{Seq: h.Seq, Hash: h.Hash} }

// HeadOf returns the head a stored checkpoint body states, after checking
// its form (canonical JSON of the checkpoint format, one line) but not its
// signature: VerifyHead checks that.
func HeadOf(body []byte) (SignedHead, error) {
	c, err := parseCheckpoint(body)
	if err != nil {
		return SignedHead{}, err
	}
	return SignedHead{TenantID: c.TenantID, Seq: c.Seq, Hash: c.Hash, Time: c.Time, KeyID: c.KeyID, Signature: c.Signature,
		Checkpoint: strings.TrimSuffix(string(body), "\n"), Key: CheckpointKey(c.TenantID, c.Seq)}, nil
}

// VerifyHead checks a head's signed checkpoint line (SignedHead.Checkpoint)
// offline against keys, any of which may have signed it, and returns the
// head it states.
func VerifyHead(checkpoint string, keys ...ed25519.PublicKey) (SignedHead, error) {
	body := []byte(strings.TrimSuffix(checkpoint, "\n") + "\n")
	err := errors.New("verify head: no public key to check it with")
	for _, pub := range keys {
		if _, err = VerifyCheckpoint(body, pub); err == nil {
			return HeadOf(body)
		}
	}
	return SignedHead{}, fmt.Errorf("verify head: %w", err)
}

// HeadLog says how far a tenant's archive reaches (redisstore.Store
// implements it).
type HeadLog interface {
	ExportHead(ctx context.Context, tenant string) (h lockbox.ExportHead, found bool, err error)
}

// Head returns tenant's newest signed checkpoint: the one at the export's
// head, read from archive with one Get, whatever the archive's size. found
// is false when nothing was exported yet (or the export's head was lost,
// until the next export restores it from the archive). The checkpoint is
// checked for form and against the head (tenant, seq, hash), not for its
// signature: the tenant checks that (VerifyHead). Errors: KindUnavailable,
// KindInternal (a checkpoint that is missing or does not match the head).
func Head(ctx context.Context, log HeadLog, archive ObjectReader, tenant string) (SignedHead, bool, error) {
	if !lockbox.ValidTenantID(tenant) {
		return SignedHead{}, false, lockbox.Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	}
	h, found, err := log.ExportHead(ctx, tenant)
	if err != nil || !found || h.Seq == 0 {
		return SignedHead{}, false, err
	}
	key := CheckpointKey(tenant, h.Seq)
	body, err := archive.Get(ctx, key)
	if err != nil {
		return SignedHead{}, false, unavailable("read "+key, err)
	}
	head, err := HeadOf(body)
	switch {
	case err != nil:
		return SignedHead{}, false, lockbox.Internal("audit head", fmt.Errorf("%s: %w", key, err))
	case head.TenantID != tenant || head.Seq != h.Seq || head.Hash != h.Hash:
		return SignedHead{}, false, lockbox.Internal("audit head", fmt.Errorf("%s states seq %d hash %s of %s, the export's head is seq %d hash %s",
			key, head.Seq, head.Hash, head.TenantID, h.Seq, h.Hash))
	}
	return head, true, nil
}

// Head returns tenant's newest signed checkpoint (see Head).
func (a *Activity) Head(ctx context.Context, tenant string) (SignedHead, bool, error) {
	return Head(ctx, a.Events, a.Archive, tenant)
}

// AuditHead implements lockbox.ActivityLog: tenant's newest signed
// checkpoint (see Head), in the domain's terms.
func (a *Activity) AuditHead(ctx context.Context, tenant string) (lockbox.AuditHead, bool, error) {
	h, found, err := a.Head(ctx, tenant)
	return lockbox.AuditHead(h), found, err
}
