// Package api is the HTTP contract of the Lockbox functions: for each one,
// the flow authenticate → decode → authorize → store → encode. The functions'
// handlers hand their calls to Serve with one of these flows.
package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

// Flow handles one call with the function's dependencies.
type Flow func(d *app.Deps, req handler.Request) (handler.Response, error)

// Serve runs flow with the dependencies deps builds, turning every error into
// the contract's error response. It never returns an error itself: the
// template would turn that into a bare 500.
func Serve(deps *app.Lazy, req handler.Request, flow Flow) (handler.Response, error) {
	d, err := deps.Get()
	if err != nil {
		return httpapi.Error(err, slog.Default()), nil
	}
	resp, err := flow(d, req)
	if err != nil {
		return httpapi.Error(err, d.Log), nil
	}
	return resp, nil
}

// HeaderIdempotencyKey lets a caller retry a create without filing twice.
const HeaderIdempotencyKey = "Idempotency-Key"

// Create files a lockbox request (lockbox-create): POST, signed webhook or a
// requester's or operator's token. 201 with the request; 200 with the
// original request when an Idempotency-Key is replayed with the same body.
func Create(d *app.Deps, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	p, err := d.Auth.Authenticate(req.Header, req.Body, auth.HMAC|auth.Bearer)
	if err != nil {
		return handler.Response{}, err
	}
	var in lockbox.CreateInput
	if err := httpapi.Decode(req, &in); err != nil {
		return handler.Response{}, err
	}
	if err := in.Validate(); err != nil {
		return handler.Response{}, err
	}
	if err := lockbox.AuthorizeCreate(p, in); err != nil {
		return handler.Response{}, err
	}
	idem, err := idempotency(req.Header.Get(HeaderIdempotencyKey), in)
	if err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	opts := redisstore.CreateOptions{Idempotency: idem, SignatureHash: p.SignatureHash}
	r, replayed, err := d.Store.Create(ctx, lockbox.NewRequest(in, lockbox.NewID(), d.Now(), d.Store.Limits()), opts)
	if err != nil {
		return handler.Response{}, err
	}
	if replayed {
		return httpapi.JSON(http.StatusOK, r), nil
	}
	d.Log.Info("lockbox request filed", "tenantId", r.TenantID, "requestId", r.RequestID, "supportRequest", r.SupportRequest, "by", string(p.Kind))
	return httpapi.JSON(http.StatusCreated, r), nil
}

// idempotency identifies a create by the hash of its key and of its
// normalised body, so formatting differences between retries do not matter.
func idempotency(key string, in lockbox.CreateInput) (*redisstore.Idempotency, error) {
	if key == "" {
		return nil, nil
	}
	if len(key) > 255 || !printableASCII(key) {
		return nil, lockbox.Invalidf("%s must be 1..255 printable ASCII characters", HeaderIdempotencyKey)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, lockbox.Internal("hash body", err)
	}
	k, b := sha256.Sum256([]byte(key)), sha256.Sum256(body)
	return &redisstore.Idempotency{KeyHash: hex.EncodeToString(k[:]), BodyHash: hex.EncodeToString(b[:])}, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Approve approves a Pending request (lockbox-approve): POST, an approver's
// token, body {"requestId", "reason", "duration"?}. 200 with the request.
func Approve(d *app.Deps, req handler.Request) (handler.Response, error) {
	return decide(d, req, true)
}

// Deny denies a Pending request (lockbox-deny): POST, an approver's token,
// body {"requestId", "reason"}. 200 with the request.
func Deny(d *app.Deps, req handler.Request) (handler.Response, error) {
	return decide(d, req, false)
}

func decide(d *app.Deps, req handler.Request, approve bool) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	p, err := d.Auth.Authenticate(req.Header, req.Body, auth.Bearer)
	if err != nil {
		return handler.Response{}, err
	}
	if err := lockbox.AuthorizeDecide(p); err != nil {
		return handler.Response{}, err
	}
	var in lockbox.DecisionInput
	if err := httpapi.Decode(req, &in); err != nil {
		return handler.Response{}, err
	}
	if err := in.Validate(approve); err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	var r lockbox.Request
	if approve {
		r, err = d.Store.Approve(ctx, p.TenantID, in.RequestID, p.Subject, in.Reason, in.Duration, d.Now())
	} else {
		r, err = d.Store.Deny(ctx, p.TenantID, in.RequestID, p.Subject, in.Reason, d.Now())
	}
	if err != nil {
		return handler.Response{}, err
	}
	d.Log.Info("lockbox request decided", "tenantId", r.TenantID, "requestId", r.RequestID, "status", string(r.Status), "by", p.Subject)
	return httpapi.JSON(http.StatusOK, r), nil
}

// ListResponse is the body lockbox-list answers with.
type ListResponse struct {
	Value      []lockbox.Request `json:"value"`
	NextCursor *string           `json:"nextCursor"`
}

// listParams are the query parameters lockbox-list accepts.
var listParams = map[string]bool{"status": true, "requestId": true, "limit": true, "cursor": true, "tenantId": true}

// List pages through requests newest first (lockbox-list): GET, a token or a
// signature over the raw query string. 200 with {"value", "nextCursor"}.
func List(d *app.Deps, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet); err != nil {
		return handler.Response{}, err
	}
	p, err := d.Auth.Authenticate(req.Header, []byte(req.QueryString), auth.HMAC|auth.Bearer)
	if err != nil {
		return handler.Response{}, err
	}
	q, err := parseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, err
	}
	scope, err := lockbox.AuthorizeList(p, q.Get("tenantId"))
	if err != nil {
		return handler.Response{}, err
	}
	query := redisstore.Query{Scope: scope, Limit: 50, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return handler.Response{}, lockbox.Invalidf("limit must be a whole number from 1 to 100")
		}
		query.Limit = n
	}
	if v := q.Get("status"); v != "" {
		if query.Status, err = lockbox.ParseStatus(v); err != nil {
			return handler.Response{}, err
		}
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	if id := q.Get("requestId"); id != "" {
		if !lockbox.ValidRequestID(id) {
			return handler.Response{}, lockbox.Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
		}
		r, err := d.Store.Get(ctx, scope.TenantID, id)
		if err != nil {
			return handler.Response{}, err
		}
		if scope.RequesterID != "" && r.Requester.ID != scope.RequesterID {
			return handler.Response{}, lockbox.ErrNotFound(id)
		}
		value := []lockbox.Request{}
		if query.Status == "" || r.Status == query.Status {
			value = append(value, r)
		}
		return httpapi.JSON(http.StatusOK, ListResponse{Value: value}), nil
	}
	page, err := d.Store.List(ctx, query)
	if err != nil {
		return handler.Response{}, err
	}
	resp := ListResponse{Value: page.Requests}
	if page.Next != "" {
		resp.NextCursor = &page.Next
	}
	return httpapi.JSON(http.StatusOK, resp), nil
}

// parseQuery accepts only the known parameters, each at most once.
func parseQuery(raw string) (url.Values, error) {
	if len(raw) > 2048 {
		return nil, lockbox.Invalidf("query string is too long")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, lockbox.Invalidf("query string is malformed")
	}
	for k, v := range q {
		if !listParams[k] {
			return nil, lockbox.Invalidf("unknown query parameter %q", k)
		}
		if len(v) > 1 {
			return nil, lockbox.Invalidf("query parameter %q given more than once", k)
		}
	}
	return q, nil
}
