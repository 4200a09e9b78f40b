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
}
