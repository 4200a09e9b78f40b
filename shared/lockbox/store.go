package lockbox

import (
	"context"
	"time"
)

// Store keeps requests and carries out each action on them in one atomic
// step, applying the rules of this package (redisstore implements it on
// Redis; the lifecycle scenarios in lockboxtest hold it to Apply and
// Settle).
type Store interface {
	// Create files r, a new Pending request, with its CreateLockboxRequest
	// event. With an idempotency key, a request filed before under that key
	// is returned instead (replayed true) when the body matches.
	// Errors: KindUnauthorized (ErrReplayed), KindConflict
	// (ErrIdempotencyKeyReused), KindTooMany (ErrCap), KindUnavailable.
	Create(ctx context.Context, r Request, opts CreateOptions) (stored Request, replayed bool, err error)
	// Get returns request id of tenant with its effective status.
	// Errors: KindNotFound (also for other tenants' ids), KindUnavailable.
	Get(ctx context.Context, tenant, id string) (Request, error)
	// Act applies act to request id of tenant, as Apply describes.
	// Errors: KindNotFound, KindConflict (ErrWrongState, with
	// CurrentStatus), KindForbidden (ErrOwnRequest), KindInvalid
	// (ErrDurationTooLong), KindTooMany (ErrCap), KindUnavailable.
	Act(ctx context.Context, tenant, id string, act Act) (Request, error)
	// List returns a page of requests, newest first.
	// Errors: KindInvalid (a cursor of another query), KindUnavailable.
	List(ctx context.Context, q Query) (Page, error)
	// ByTicket returns the newest requests of tenant filed for the support
	// case supportRequest, with their effective status (at most 100).
	// Errors: KindUnavailable.
	ByTicket(ctx context.Context, tenant, supportRequest string) ([]Request, error)
	// Check answers whether the engineer requester (a token's sub) holds, in
	// tenant, a live grant naming in.ResourceID whose level covers
	// in.AccessLevel, as of now, and counts an allowed check toward that
	// grant's usage (the first use of each resource recorded as
	// UseLockboxGrant), or records a refusal (RefuseLockboxAccess, at most
	// one per engineer, resource and minute), all in one atomic step.
	// Errors: KindUnavailable.
	Check(ctx context.Context, tenant, requester string, in CheckInput, now time.Time) (CheckResult, error)
	// IssueCredential records credential c for request id of tenant, filed
	// for the engineer requester (a token's sub), while its grant is live
	// (IssueLockboxCredential), and returns the request.
	// Errors: KindNotFound (also another engineer's request),
	// KindForbidden (ErrGrantNotLive), KindUnavailable.
	IssueCredential(ctx context.Context, tenant, id, requester string, c Credential, now time.Time) (Request, error)
	// Limits are the lifetimes the store applies.
	Limits() Limits
}

// SettingsStore keeps tenants' settings (redisstore implements it).
type SettingsStore interface {
	// Settings returns tenant's settings, secrets included: the defaults,
	// version 0, for a tenant that never saved any.
	Settings(ctx context.Context, tenant string) (Settings, error)
	// PutSettings stores next (validated, merged with the stored secrets)
	// if the stored ones are still of version ifVersion, and records the
	// change by actor, with reason, in the audit log.
	// Errors: KindPreconditionFailed (ErrStaleSettings), KindUnavailable.
	PutSettings(ctx context.Context, tenant string, next Settings, ifVersion int64, actor Actor, reason string, now time.Time) (Settings, error)
}

// CreateOptions are the optional parts of a create.
type CreateOptions struct {
	// Idempotency identifies retries of one create.
	Idempotency *Idempotency
	// SameBody, for a ticketing system's delivery, identifies its signed
	// body: the same body again, under any delivery id, gets the request it
	// filed, for as long as a request may stay pending.
	SameBody *Idempotency
	// SignatureHash, for a signed delivery, is the hex SHA-256 of its
	// signature: the same delivery seen again is refused unless it is a
	// retry under the same Idempotency-Key.
	SignatureHash string
}

// Idempotency identifies a create call by its Idempotency-Key, scoped to the
// caller: the same key from another caller (or in another tenant) is
// another key.
type Idempotency struct {
	KeyHash  string // hex SHA-256 of the caller's key and the Idempotency-Key header
	BodyHash string // hex SHA-256 of the normalised request body
}

// Query selects a page of requests.
type Query struct {
	Scope  Scope
	Status Status // "" for every status
	Limit  int    // 1..100
	Cursor string // "" for the first page
}

// Page is one page of requests, newest first.
type Page struct {
	Requests []Request
	// Next is the cursor of the following page, "" on the last one.
	Next string
}

// Sweeper records what time did: due expiries and grant completions.
type Sweeper interface {
	// Tenants returns every tenant with something that may need the sweep
	// or the export.
	Tenants(ctx context.Context) ([]string, error)
	// Sweep records every expiry and completion of tenant due by now.
	Sweep(ctx context.Context, tenant string, now time.Time) (SweepResult, error)
}

// SweepResult counts what a sweep recorded.
type SweepResult struct {
	Expired   int `json:"expired"`
	Completed int `json:"completed"`
}
