package lockbox

import (
	"context"
	"time"
)

// A lockdown stops all of the provider's access to a tenant at once: its
// admin revokes every live grant and cancels every request still waiting,
// in one atomic step, and new filings are refused (ErrLockedDown) until the
// lockdown ends (its Until, or a lift).

// The audit operations of a lockdown (requestId "": they are the tenant's).
// The requests a lockdown ends are recorded with the operations their
// action always records (RevokeLockboxRequest, CancelLockboxRequest).
const (
	OpLockdown     = "LockdownTenant"
	OpLiftLockdown = "LiftTenantLockdown"
)

// LockdownEnd is what a lockdown does to a request of one recorded status:
// the action it takes (one of Transitions).
type LockdownEnd struct {
	Status Status
	Action Action
}

// LockdownEnds lists, in one place, every status a lockdown ends and how:
// a live grant is revoked, a request still waiting for a decision is
// canceled. A status added before the customer's decision (a provider's
// review) belongs here, with the action that ends it. The store's lockdown
// script walks exactly these statuses' indexes; a request whose effective
// status is no longer its recorded one (an expired window, an ended grant)
// is left to the sweep.
var LockdownEnds = []LockdownEnd{
	{Status: StatusInternalReview, Action: ActionCancelReview},
	{Status: StatusPending, Action: ActionCancel},
	{Status: StatusApproved, Action: ActionRevoke},
}

// MaxLockdown is the longest lockdown with an end: a lockdown meant to last
// longer has no until and is lifted by hand.
const MaxLockdown = 366 * 24 * time.Hour

// LockdownBody is the body of a lockdown as sent: until when (RFC 3339;
// "" or left out: until lifted) and why.
type LockdownBody struct {
	Until  string `json:"until"`
	Reason string `json:"reason"`
}

// Input checks the body as of now and returns the lockdown it asks for: a
// reason, and an until in the future and at most MaxLockdown ahead.
func (b LockdownBody) Input(now time.Time) (LockdownInput, error) {
	in := LockdownInput{Reason: b.Reason}
	if b.Until != "" {
		u, err := time.Parse(time.RFC3339, b.Until)
		if err != nil {
			return in, Invalidf("until must be a time in RFC 3339, e.g. %s", now.Add(24*time.Hour).UTC().Format(time.RFC3339))
		}
		in.Until = &u
	}
	return in, in.Validate(now)
}

// LockdownInput is a lockdown: until when (nil: until lifted) and why.
type LockdownInput struct {
	Until  *time.Time
	Reason string
}

// Validate checks a lockdown as of now: a reason, and an until in the
// future and at most MaxLockdown ahead.
func (in LockdownInput) Validate(now time.Time) error {
	switch {
	case !text(in.Reason, 1, MaxReason, true):
		return Invalidf("reason must be 1..4096 characters without control characters")
	case in.Until != nil && !in.Until.After(now):
		return Invalidf("until must be in the future (RFC 3339, e.g. %s)", now.Add(24*time.Hour).UTC().Format(time.RFC3339))
	case in.Until != nil && in.Until.Sub(now) > MaxLockdown:
		return Invalidf("until must be at most 366 days ahead; leave it out for a lockdown that lasts until it is lifted")
	}
	return nil
}

// LiftInput is the optional body of a lift: why.
type LiftInput struct {
	Reason string `json:"reason"`
}

// Validate checks a lift's body: the reason is optional.
func (in LiftInput) Validate() error {
	if in.Reason != "" && !text(in.Reason, 1, MaxReason, true) {
		return Invalidf("reason must be 1..4096 characters without control characters")
	}
	return nil
}

// Lockdown is a tenant's lockdown state.
type Lockdown struct {
	TenantID string `json:"tenantId"`
	// Active is whether filings are refused now.
	Active bool       `json:"lockedDown"`
	Since  *time.Time `json:"since"`
	// Until is when it ends by itself; nil while it lasts until lifted.
	Until  *time.Time `json:"until"`
	Reason string     `json:"reason"`
	By     string     `json:"by"`
}

// LockdownResult is what a lockdown did: its state, and the requests it
// ended (ids, in the order ended).
type LockdownResult struct {
	Lockdown
	Revoked  []string `json:"revoked"`
	Canceled []string `json:"canceled"`
}

// LockdownStore keeps tenants' lockdowns (redisstore implements it).
type LockdownStore interface {
	// Lockdown locks tenant down in one atomic step: every request of a
	// status in LockdownEnds is ended by its action (as actor, with the
	// reason), the state recorded, and LockdownTenant appended.
	// Errors: KindUnavailable.
	Lockdown(ctx context.Context, tenant string, in LockdownInput, actor Actor, now time.Time) (LockdownResult, error)
	// LiftLockdown ends tenant's lockdown now (LiftTenantLockdown).
	// Errors: KindConflict (ErrNotLockedDown), KindUnavailable.
	LiftLockdown(ctx context.Context, tenant string, actor Actor, reason string, now time.Time) (Lockdown, error)
	// LockdownState returns tenant's lockdown as of now.
	// Errors: KindUnavailable.
	LockdownState(ctx context.Context, tenant string, now time.Time) (Lockdown, error)
}

// AuthorizeLockdown decides whether p may lock its tenant down or lift the
// lockdown: the tenant's admin only (the tenant is p's own, from its
// token), never someone who is also a requester or an operator.
func AuthorizeLockdown(p Principal) error {
	switch {
	case p.Kind != KindUser || !p.Has(RoleAdmin):
		return Forbiddenf("a lockdown needs role %s of the tenant", RoleAdmin)
	case p.Has(RoleOperator) || p.Has(RoleRequester):
		return Forbiddenf("the provider's roles can never lock a tenant down or lift its lockdown")
	}
	return nil
}

// KindLocked is a tenant's lockdown refusing a filing: 423.
const KindLocked Kind = "locked"

// ErrLockedDown is returned for a filing while its tenant is locked down;
// until is when the lockdown ends by itself (zero: when it is lifted).
func ErrLockedDown(until time.Time) *Error {
	if until.IsZero() {
		return Errorf(KindLocked, "TenantLockedDown", "the tenant is locked down: no request is accepted until its admin lifts the lockdown")
	}
	return Errorf(KindLocked, "TenantLockedDown", "the tenant is locked down: no request is accepted until %s",
		until.UTC().Format(time.RFC3339))
}

// ErrNotLockedDown is returned when a lockdown that is not in force is
// lifted.
func ErrNotLockedDown() *Error {
	return Errorf(KindConflict, "NotLockedDown", "the tenant is not locked down")
}
