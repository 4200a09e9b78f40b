package lockbox

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so that every edge (HTTP, logs, tests) can react to
// it without parsing strings. Kinds are assigned where an error is created.
type Kind string

// The error kinds. The HTTP edge maps each to exactly one status code.
const (
	KindInvalid          Kind = "invalid"            // bad input: 400
	KindUnauthorized     Kind = "unauthorized"       // missing or bad credentials: 401
	KindForbidden        Kind = "forbidden"          // authenticated, not allowed: 403
	KindNotFound         Kind = "not_found"          // unknown id, or another tenant's: 404
	KindMethodNotAllowed Kind = "method_not_allowed" // wrong HTTP method: 405
	KindConflict         Kind = "conflict"           // wrong state or idempotency clash: 409
	KindTooLarge         Kind = "too_large"          // body over the cap: 413
	KindUnsupportedMedia Kind = "unsupported_media"  // body is not JSON: 415
	KindTooMany          Kind = "too_many"           // a usage cap is reached: 429
	KindUnavailable      Kind = "unavailable"        // backing store unreachable: 503
	KindInternal         Kind = "internal"           // a bug or misconfiguration: 500
)

// Error is the error type of the domain. Code is the single word shown to
// callers; Message is safe to show to them. Err, when set, is the cause and is
// only ever logged.
type Error struct {
	Kind          Kind
	Code          string
	Message       string
	CurrentStatus Status
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

// Invalidf returns a KindInvalid error with code "InvalidRequest".
func Invalidf(format string, args ...any) *Error {
	return Errorf(KindInvalid, "InvalidRequest", format, args...)
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

// ErrWrongState is returned when a request is not in the state an action needs.
func ErrWrongState(action string, current Status) *Error {
	e := Errorf(KindConflict, "InvalidStatus", "cannot %s a request that is %s", action, current)
	e.CurrentStatus = current
	return e
}

// KindOf returns the kind of err, KindInternal for errors that are not *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
