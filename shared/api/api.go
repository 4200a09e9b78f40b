// Package api is the HTTP contract of the Lockbox functions: for each one,
// the flow authenticate → decode → authorize → store → encode. A function's
// handler hands its call to httpapi.Serve with its flow and the Service
// package app builds once per process.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/lockbox"
)

// Authenticator identifies callers (auth.Verifier implements it).
type Authenticator interface {
	// Authenticate returns the caller of a request with headers h, accepting
	// only principals of the given kinds; payload is what a webhook
	// signature covers (the raw body, or a GET's raw query string).
	// Errors: KindUnauthorized.
	Authenticate(h http.Header, payload []byte, accept ...lockbox.PrincipalKind) (lockbox.Principal, error)
}

// Service is what the request functions work with.
type Service struct {
	Store    lockbox.Store
	Settings lockbox.SettingsStore
	// Activity reads the activity log (lockbox-activity only).
	Activity lockbox.ActivityLog
	// Intake holds the ticketing sources (lockbox-intake only).
	Intake *intake.Config
	Auth   Authenticator
	// URLs checks the webhook URLs of settings (netguard.Guard implements
	// it); AllowPlainHTTP accepts http:// ones (webhook_allow_private).
	URLs           URLChecker
	AllowPlainHTTP bool
	// Notifier is told of every change, so that lockbox-notify sends what it
	// recorded at once (nudge.Client); nil for none.
	Notifier Notifier
	Now      func() time.Time
	Log      *slog.Logger
}

// Notifier nudges lockbox-notify about a tenant (nudge.Client implements
// it). It never blocks.
type Notifier interface {
	Nudge(tenant string)
}

// changed tells the notifier, if any, that tenant changed.
func (s *Service) changed(tenant string) {
	if s.Notifier != nil {
		s.Notifier.Nudge(tenant)
	}
}

// URLChecker says whether an outgoing URL may be called: its scheme, and
// the addresses its host resolves to.
type URLChecker interface {
	Check(ctx context.Context, raw string) error
}

// Flow handles one call; a function serves it with httpapi.Serve.
type Flow = func(s *Service, req handler.Request) (handler.Response, error)

// HeaderIdempotencyKey lets a caller retry a create without filing twice.
const HeaderIdempotencyKey = "Idempotency-Key"

var (
	users  = []lockbox.PrincipalKind{lockbox.KindUser}
	anyone = []lockbox.PrincipalKind{lockbox.KindService, lockbox.KindUser}
)

// Create files a lockbox request (lockbox-create): POST, signed webhook or a
// requester's or operator's token. 201 with the request; 200 with the
// original request when an Idempotency-Key is replayed with the same body.
func Create(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, anyone...)
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
	idem, err := idempotency(p, req.Header.Get(HeaderIdempotencyKey), in)
	if err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	r := lockbox.NewRequest(in, lockbox.NewID(), s.Now(), s.Store.Limits())
	r.FiledBy = p.Key()
	r, replayed, err := s.Store.Create(ctx, r, lockbox.CreateOptions{Idempotency: idem, SignatureHash: p.SignatureHash})
	if err != nil {
		return handler.Response{}, err
	}
	if replayed {
		return httpapi.JSON(http.StatusOK, r), nil
	}
	s.changed(r.TenantID)
	s.Log.Info("lockbox request filed", "tenantId", r.TenantID, "requestId", r.RequestID, "supportRequest", r.SupportRequest, "by", string(p.Kind))
	return httpapi.JSON(http.StatusCreated, r), nil
}

// idempotency identifies a create by the hash of the caller and its key and
// by the hash of its normalised body, so formatting differences between
// retries do not matter. The store keeps keys per tenant, so a key is
// scoped to (tenant, caller): another caller's or tenant's same key is
// another key.
func idempotency(p lockbox.Principal, key string, in lockbox.CreateInput) (*lockbox.Idempotency, error) {
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
	k, b := sha256.Sum256([]byte(p.Key()+"\n"+key)), sha256.Sum256(body)
	return &lockbox.Idempotency{KeyHash: hex.EncodeToString(k[:]), BodyHash: hex.EncodeToString(b[:])}, nil
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
func Approve(s *Service, req handler.Request) (handler.Response, error) {
	return decide(s, req, lockbox.ActionApprove)
}

// Deny denies a Pending request (lockbox-deny): POST, an approver's token,
// body {"requestId", "reason"}. 200 with the request.
func Deny(s *Service, req handler.Request) (handler.Response, error) {
	return decide(s, req, lockbox.ActionDeny)
}

func decide(s *Service, req handler.Request, a lockbox.Action) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, users...)
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
	if err := in.Validate(a == lockbox.ActionApprove); err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	r, err := s.Store.Act(ctx, p.TenantID, in.RequestID, lockbox.Act{
		Action: a, Actor: lockbox.Actor{Kind: lockbox.ActorApprover, ID: p.Subject}, Principal: p.Key(),
		Reason: in.Reason, Duration: in.Duration, At: s.Now(),
	})
	if err != nil {
		return handler.Response{}, err
	}
	s.changed(r.TenantID)
	s.Log.Info("lockbox request decided", "tenantId", r.TenantID, "requestId", r.RequestID, "status", string(r.Status), "by", p.Subject)
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
func List(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet); err != nil {
		return handler.Response{}, err
	}
	p, err := s.Auth.Authenticate(req.Header, []byte(req.QueryString), anyone...)
	if err != nil {
		return handler.Response{}, err
	}
	q, err := httpapi.ParseQuery(req.QueryString, listParams)
	if err != nil {
		return handler.Response{}, err
	}
	scope, err := lockbox.AuthorizeList(p, q.Get("tenantId"))
	if err != nil {
		return handler.Response{}, err
	}
	query := lockbox.Query{Scope: scope, Limit: 50, Cursor: q.Get("cursor")}
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
		r, err := s.Store.Get(ctx, scope.TenantID, id)
		if err != nil {
			return handler.Response{}, err
		}
		if scope.RequesterID != "" && lockbox.CanonicalID(r.Requester.ID) != scope.RequesterID {
			return handler.Response{}, lockbox.ErrNotFound(id)
		}
		value := []lockbox.Request{}
		if query.Status == "" || r.Status == query.Status {
			value = append(value, r)
		}
		return httpapi.JSON(http.StatusOK, ListResponse{Value: value}), nil
	}
	page, err := s.Store.List(ctx, query)
	if err != nil {
		return handler.Response{}, err
	}
	resp := ListResponse{Value: page.Requests}
	if page.Next != "" {
		resp.NextCursor = &page.Next
	}
	return httpapi.JSON(http.StatusOK, resp), nil
}
