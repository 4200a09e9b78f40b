// Package httpapi adapts the OpenFaaS golang-http Request and Response to
// Lockbox: method and size checks, strict JSON decoding, the contract's error
// body and the one table from error kind to HTTP status.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/lockbox"
)

// MaxBody is the largest request body accepted (64 KiB).
const MaxBody = 64 << 10

// Timeout bounds the work of one API call.
const Timeout = 10 * time.Second

// The error kinds of the HTTP edge alone: the domain never returns them.
const (
	KindMethodNotAllowed     lockbox.Kind = "method_not_allowed"    // wrong HTTP method: 405
	KindTooLarge             lockbox.Kind = "too_large"             // body over the cap: 413
	KindUnsupportedMedia     lockbox.Kind = "unsupported_media"     // body of the wrong media type: 415
	KindPreconditionRequired lockbox.Kind = "precondition_required" // If-Match missing: 428
)

var statusOf = map[lockbox.Kind]int{
	lockbox.KindInvalid:            http.StatusBadRequest,
	lockbox.KindUnauthorized:       http.StatusUnauthorized,
	lockbox.KindForbidden:          http.StatusForbidden,
	lockbox.KindNotFound:           http.StatusNotFound,
	KindMethodNotAllowed:           http.StatusMethodNotAllowed,
	lockbox.KindConflict:           http.StatusConflict,
	lockbox.KindPreconditionFailed: http.StatusPreconditionFailed,
	KindTooLarge:                   http.StatusRequestEntityTooLarge,
	KindUnsupportedMedia:           http.StatusUnsupportedMediaType,
	lockbox.KindUnprocessable:      http.StatusUnprocessableEntity,
	KindPreconditionRequired:       http.StatusPreconditionRequired,
	lockbox.KindTooMany:            http.StatusTooManyRequests,
	lockbox.KindLocked:             http.StatusLocked,
	lockbox.KindUnavailable:        http.StatusServiceUnavailable,
	lockbox.KindInternal:           http.StatusInternalServerError,
}

// ErrTooLarge is returned for a body of more than limit bytes; what names
// it ("body", "the form").
func ErrTooLarge(what string, limit int) *lockbox.Error {
	return lockbox.Errorf(KindTooLarge, "PayloadTooLarge", "%s is larger than %d bytes", what, limit)
}

// ErrUnsupportedMedia is returned for a body of the wrong media type;
// message says what to send.
func ErrUnsupportedMedia(message string) *lockbox.Error {
	return lockbox.Errorf(KindUnsupportedMedia, "UnsupportedMediaType", "%s", message)
}

// ErrMethodNotAllowed is returned for a method not in allowed, which the
// answer's Allow header lists.
func ErrMethodNotAllowed(allowed ...string) *lockbox.Error {
	e := lockbox.Errorf(KindMethodNotAllowed, "MethodNotAllowed", "use %s", strings.Join(allowed, " or "))
	e.Err = allow(strings.Join(allowed, ", "))
	return e
}

// Authenticator identifies callers from what an HTTP call carries
// (auth.Verifier implements it): every transport — the request functions,
// the portal's token sign-in, lockbox-notify and lockbox-audit —
// authenticates through it.
type Authenticator interface {
	// Authenticate returns the caller of a call with headers h, accepting
	// only principals of the given kinds; payload is what a webhook
	// signature covers (the raw body, or a GET's raw query string).
	// Errors: KindUnauthorized.
	Authenticate(h http.Header, payload []byte, accept ...lockbox.PrincipalKind) (lockbox.Principal, error)
}

// Status returns the HTTP status of an error kind.
func Status(k lockbox.Kind) int {
	if s, ok := statusOf[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Serve runs flow with the value get returns (a function's dependencies,
// built on its first call), turning every error into the contract's error
// response. It never returns an error itself: the template would turn that
// into a bare 500.
func Serve[T any](get func() (T, error), req handler.Request, flow func(T, handler.Request) (handler.Response, error)) (handler.Response, error) {
	v, err := get()
	if err != nil {
		return Error(err, slog.Default()), nil
	}
	resp, err := flow(v, req)
	if err != nil {
		return Error(err, slog.Default()), nil
	}
	return resp, nil
}

// Context returns the call's context bounded by timeout. A Request built
// without WithContext (as in tests) has none; then a background context is
// used.
func Context(req handler.Request, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx := req.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, timeout)
}

// CheckRequest refuses a call with a method other than methods, or an
// oversized body. It runs before authentication, which reads the body.
func CheckRequest(req handler.Request, methods ...string) error {
	if err := CheckMethod(req, methods...); err != nil {
		return err
	}
	if len(req.Body) > MaxBody {
		return ErrTooLarge("body", MaxBody)
	}
	return nil
}

// CheckMethod refuses a method not in methods (KindMethodNotAllowed, with
// the Allow header).
func CheckMethod(req handler.Request, methods ...string) error {
	if !slices.Contains(methods, req.Method) {
		return ErrMethodNotAllowed(methods...)
	}
	return nil
}

// Decode parses the JSON body of req into v strictly: Content-Type must be
// application/json, the body valid UTF-8 holding one JSON object whose keys match v's fields
// exactly (case included), each at most once, with nothing after it.
// Errors: KindUnsupportedMedia, KindInvalid.
func Decode(req handler.Request, v any) error {
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return ErrUnsupportedMedia("Content-Type must be application/json")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(req.Body) {
		return lockbox.Invalidf("body is not valid UTF-8")
	}
	return decodeStrict(req.Body, v)
}

// allow is the cause of a KindMethodNotAllowed error: the method to use,
// answered in the Allow header.
type allow string

func (a allow) Error() string { return "allowed: " + string(a) }

// ErrorBody is the contract's error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error to the caller.
type ErrorDetail struct {
	Code          string         `json:"code"`
	Message       string         `json:"message"`
	CurrentStatus lockbox.Status `json:"currentStatus,omitempty"`
	RequestID     string         `json:"requestId,omitempty"`
}

// JSON returns a response with v encoded as its body. Strings are not
// HTML-escaped (the body is JSON, not HTML): a '<' costs one byte, not six.
func JSON(status int, v any) handler.Response {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return Error(lockbox.Internal("encode response", err), slog.Default())
	}
	return handler.Response{
		StatusCode: status,
		Body:       body.Bytes(),
		Header:     http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}},
	}
}

// Error returns the response for err. Internal and unavailable errors are
// logged with their cause; callers only see a generic message for them.
func Error(err error, log *slog.Logger) handler.Response {
	var le *lockbox.Error
	if !errors.As(err, &le) {
		le = lockbox.Internal("unclassified", err)
	}
	status := Status(le.Kind)
	if status >= 500 {
		log.Error("call failed", "kind", string(le.Kind), "err", le.Err)
	}
	resp := JSON(status, ErrorBody{Error: ErrorDetail{Code: le.Code, Message: le.Message, CurrentStatus: le.CurrentStatus, RequestID: le.RequestID}})
	var a allow
	if errors.As(le.Err, &a) {
		resp.Header.Set("Allow", string(a))
	}
	if le.RetryAfter > 0 {
		resp.Header.Set("Retry-After", strconv.Itoa(int((le.RetryAfter+time.Second-1)/time.Second)))
	}
	return resp
}

// ParseQuery parses a raw query string, accepting only the parameters in
// known, each at most once.
func ParseQuery(raw string, known map[string]bool) (url.Values, error) {
	if len(raw) > 2048 {
		return nil, lockbox.Invalidf("query string is too long")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, lockbox.Invalidf("query string is malformed")
	}
	for k, v := range q {
		if !known[k] {
			return nil, lockbox.Invalidf("unknown query parameter %q", k)
		}
		if len(v) > 1 {
			return nil, lockbox.Invalidf("query parameter %q given more than once", k)
		}
	}
	return q, nil
}

// HeaderPath carries a call's URL path from the project's template to the
// function (template/golang-lockbox sets it on every call, overwriting what
// a caller sent): behind the gateway, what follows /function/<name>.
const HeaderPath = "X-Lockbox-Path"

// Path returns the URL path a function was called with, "/" for none.
func Path(req handler.Request) string {
	if p := req.Header.Get(HeaderPath); p != "" {
		return p
	}
	return "/"
}
