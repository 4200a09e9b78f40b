package lockbox

import (
	"context"
	"time"
)

// ActivityQuery selects a tenant's audit events (lockbox-activity, the
// portal's activity page): by operation, time range and request.
type ActivityQuery struct {
	TenantID   string
	Operations []string  // any of these; all when empty
	From, To   time.Time // From inclusive, To exclusive
	RequestID  string    // "" for every request
	Limit      int       // 1..200
	Cursor     string    // "" for the first page
}

// ActivityPage is one page of audit events, newest first, in the archive's
// form (seq, prevHash, hash).
type ActivityPage struct {
	Events []Event
	Next   string // "" on the last page
}

// ActivityLog reads audit events: the archived ones and those not yet
// exported.
type ActivityLog interface {
	// Activity returns a page of q, newest first. Errors: KindInvalid (a
	// cursor of another query), KindUnavailable.
	Activity(ctx context.Context, q ActivityQuery) (ActivityPage, error)
	// AuditHead returns the newest signed checkpoint of tenant's archive;
	// found is false before its first export. Errors: KindUnavailable.
	AuditHead(ctx context.Context, tenant string) (head AuditHead, found bool, err error)
}

// AuditHead is the newest signed checkpoint of a tenant's audit archive,
// handed to the tenant (lockbox-activity?head=true, the portal's activity
// page, the webhook event lockbox.audit.checkpoint): a tenant that keeps it
// can later prove, with the verifier (auditverify -expect), that the
// archive still reaches it, even if the newest objects were deleted
// together with their checkpoints.
type AuditHead struct {
	TenantID string `json:"tenantId"`
	// Seq and Hash are the seq and hash of the archive's last event as the
	// checkpoint states them; Time is that event's time (RFC 3339).
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	Time string `json:"time"`
	// KeyID names the signing key; Signature is the base64 Ed25519
	// signature.
	KeyID     string `json:"keyId"`
	Signature string `json:"signature"`
	// Checkpoint is the signed checkpoint as stored under Key: one line of
	// canonical JSON, verifiable offline with the audit public key.
	Checkpoint string `json:"checkpoint"`
	Key        string `json:"key"`
}
