package lockbox

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so that every edge (HTTP, logs, tests) can react to
// it without parsing strings. Kinds are assigned where an error is created.
type Kind string

// The error kinds of the domain. The HTTP edge maps each to exactly one
// status code (httpapi.Status), and adds the kinds that only HTTP has (a
// wrong method, a body too large or not JSON, a missing If-Match).
const (
	KindInvalid            Kind = "invalid"             // bad input: 400
	KindUnauthorized       Kind = "unauthorized"        // missing or bad credentials: 401
	KindForbidden          Kind = "forbidden"           // authenticated, not allowed: 403
	KindNotFound           Kind = "not_found"           // unknown id, or another tenant's: 404
	KindConflict           Kind = "conflict"            // wrong state or idempotency clash: 409
	KindPreconditionFailed Kind = "precondition_failed" // the version named is not the current one: 412
	KindUnprocessable      Kind = "unprocessable"       // well-formed, but maps to an invalid request: 422
	KindTooMany            Kind = "too_many"            // a usage cap is reached: 429
	KindUnavailable        Kind = "unavailable"         // backing store unreachable: 503
	KindInternal           Kind = "internal"            // a bug or misconfiguration: 500
)

// Error is the error type of the domain. Code is the single word shown to
// callers; Message is safe to show to them. Err, when set, is the cause and is
// only ever logged.
type Error struct {
	Kind          Kind
	Code          string
	Message       string
	CurrentStatus Status
	// RequestID, when set, names the request the error is about (a refused
	// check's pending or ended request).
	RequestID string
	// RetryAfter, for KindTooMany, is when trying again may succeed.
	RetryAfter time.Duration
	Err        error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, KindInternal for errors that are not *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// The errors of the domain. Each is worded here and nowhere else: the pure
// rules, the store (which maps its scripts' replies to these) and the edges
// all return them.

// Invalidf returns a KindInvalid error with code "InvalidRequest".
func Invalidf(format string, args ...any) *Error {
	return Errorf(KindInvalid, "InvalidRequest", format, args...)
}

// Forbiddenf returns a KindForbidden error with code "Forbidden".
func Forbiddenf(format string, args ...any) *Error {
	return Errorf(KindForbidden, "Forbidden", format, args...)
}

// Unauthorizedf returns a KindUnauthorized error with code "Unauthorized".
func Unauthorizedf(format string, args ...any) *Error {
	return Errorf(KindUnauthorized, "Unauthorized", format, args...)
}

// Unavailable wraps a backing-store failure.
func Unavailable(op string, err error) *Error {
	return &Error{Kind: KindUnavailable, Code: "ServiceUnavailable", Message: "backing store unavailable", Err: fmt.Errorf("%s: %w", op, err)}
}

// Internal wraps an unexpected failure. Its message never reaches callers.
func Internal(op string, err error) *Error {
	return &Error{Kind: KindInternal, Code: "InternalError", Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}

// ErrNotFound is returned for unknown ids and for ids of other tenants alike.
func ErrNotFound(id string) *Error {
	return Errorf(KindNotFound, "NotFound", "lockbox request %q not found", id)
}

// ErrWrongState is returned when a request is not in the state an action
// needs; current is its effective status.
func ErrWrongState(a Action, current Status) *Error {
	e := Errorf(KindConflict, "InvalidStatus", "cannot %s a request that is %s", a, current)
	e.CurrentStatus = current
	return e
}

// ErrOwnRequest is returned when someone acts on a request they filed or
// that was filed for them, where segregation of duties forbids it.
func ErrOwnRequest(a Action) *Error {
	return Errorf(KindForbidden, "SelfApproval", "nobody may %s a request they filed or that was filed for them", a)
}

// ErrDurationTooLong is returned when an approval asks for more hours than
// the request did.
func ErrDurationTooLong(asked int) *Error {
	return Invalidf("duration may only shorten the %d hours asked for", asked)
}

// ErrAlreadyReviewed is returned when a provider-approver approves a
// request in InternalReview a second time.
func ErrAlreadyReviewed() *Error {
	e := Errorf(KindConflict, "AlreadyApproved", "you have already approved this request for the provider; it waits for other provider-approvers")
	e.CurrentStatus = StatusInternalReview
	return e
}

// ErrAlreadyApproved is returned when an approver approves a request a
// second time while it waits for more approvals.
func ErrAlreadyApproved() *Error {
	e := Errorf(KindConflict, "AlreadyApproved", "you have already approved this request; it waits for other approvers")
	e.CurrentStatus = StatusPending
	return e
}

// ErrReplayed is returned for a signed delivery received before that would
// file something new.
func ErrReplayed() *Error {
	return Errorf(KindUnauthorized, "ReplayedRequest", "this signed delivery was already received; sign each delivery anew")
}

// ErrIdempotencyKeyReused is returned when an Idempotency-Key comes back with
// another body. It never names the request filed under the key.
func ErrIdempotencyKeyReused() *Error {
	return Errorf(KindConflict, "IdempotencyKeyReused", "this Idempotency-Key was used for a different request")
}

// ErrUnknownStatus is returned for a status filter that names no status.
func ErrUnknownStatus() *Error {
	return Invalidf("status must be one of Pending, Approved, Denied, Expired, Completed, Revoked, Canceled")
}

// Cap names a usage cap.
type Cap string

// The usage caps.
const (
	CapTenantPending    Cap = "pending"          // max_pending_per_tenant
	CapRequesterPending Cap = "requesterPending" // max_pending_per_requester
	CapRequesterGrants  Cap = "grants"           // max_active_grants_per_requester
)

// ErrCap is returned when a usage cap is reached; trying again after
// retryAfter (when the earliest entry holding the cap ends) may succeed.
func ErrCap(c Cap, retryAfter time.Duration) *Error {
	msg := map[Cap]string{
		CapTenantPending:    "the tenant has too many pending requests",
		CapRequesterPending: "the engineer already has the most pending requests allowed in this tenant",
		CapRequesterGrants:  "the engineer already holds the most live grants allowed",
	}[c]
	if msg == "" {
		msg = "a usage cap is reached"
	}
	e := Errorf(KindTooMany, "TooManyRequests", "%s; retry later", msg)
	e.RetryAfter = max(retryAfter, time.Second)
	return e
}

// errNoCredentials marks the error of a call that presented no credentials
// at all (see ErrNoCredentials).
var errNoCredentials = errors.New("no credentials")

// ErrNoCredentials is returned by authentication when a call carries no
// credentials of any kind; message says what to send.
func ErrNoCredentials(message string) *Error {
	return &Error{Kind: KindUnauthorized, Code: "Unauthorized", Message: message, Err: errNoCredentials}
}

// IsNoCredentials reports whether err is ErrNoCredentials: a function that
// also serves anonymous callers (lockbox-audit) tells them apart from
// callers whose credentials failed.
func IsNoCredentials(err error) bool { return errors.Is(err, errNoCredentials) }

// ErrStaleSettings is returned when settings are written with an If-Match
// that is no longer their version.
func ErrStaleSettings() *Error {
	return Errorf(KindPreconditionFailed, "PreconditionFailed", "the settings changed since they were read; read them again (their new ETag) and redo the change")
}
