// Package api is the HTTP transport of the Lockbox functions: for each one,
// authenticate → decode → the use case (package usecase) → encode. A
// function's handler hands its call to httpapi.Serve with its flow and the
// Service package app builds once per process. Nothing here decides who
// may do what: the use cases do, for every transport alike.
package api

import (
	"context"
	"net/http"
	"strconv"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// Service is what the request functions work with.
type Service struct {
	// Cases are the use cases every transport calls.
	Cases *usecase.Service
	Auth  httpapi.Authenticator
	// Intake holds the ticketing sources (lockbox-intake only).
	Intake *intake.Config
	// Credentials configures the SSH certificates (lockbox-credential
	// only).
	Credentials usecase.CredentialConfig
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
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	filed, err := s.Cases.File(ctx, p, in, req.Header.Get(HeaderIdempotencyKey))
	if err != nil {
		return handler.Response{}, err
	}
	return filedResponse(filed), nil
}

// filedResponse is 201 with a filed request, 200 with one filed before.
func filedResponse(f usecase.Filed) handler.Response {
	if f.Replayed {
		return httpapi.JSON(http.StatusOK, f.Request)
	}
	return httpapi.JSON(http.StatusCreated, f.Request)
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
	return post(s, req, users, func(ctx context.Context, p lockbox.Principal, in lockbox.DecisionInput) (lockbox.Request, error) {
		return s.Cases.Decide(ctx, p, a, in)
	})
}

// post runs a POST whose body is an In and whose answer is the request it
// acted on (200): the method and size checked, the caller authenticated as
// one of kinds, the body decoded strictly, then the use case do.
func post[In any](s *Service, req handler.Request, kinds []lockbox.PrincipalKind,
	do func(ctx context.Context, p lockbox.Principal, in In) (lockbox.Request, error)) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, kinds...)
	if err != nil {
		return handler.Response{}, err
	}
	var in In
	if err := httpapi.Decode(req, &in); err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	r, err := do(ctx, p, in)
	if err != nil {
		return handler.Response{}, err
	}
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
	in := usecase.ListInput{TenantID: q.Get("tenantId"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		if in.Limit, err = strconv.Atoi(v); err != nil || in.Limit < 1 {
			return handler.Response{}, lockbox.Invalidf("limit must be a whole number from 1 to %d", usecase.MaxPageSize)
		}
	}
	if v := q.Get("status"); v != "" {
		if in.Status, err = lockbox.ParseStatus(v); err != nil {
			return handler.Response{}, err
		}
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	if id := q.Get("requestId"); id != "" {
		r, err := s.Cases.Get(ctx, p, in.TenantID, id)
		if err != nil {
			return handler.Response{}, err
		}
		value := []lockbox.Request{}
		if in.Status == "" || r.Status == in.Status {
			value = append(value, r)
		}
		return httpapi.JSON(http.StatusOK, ListResponse{Value: value}), nil
	}
	page, err := s.Cases.List(ctx, p, in)
	if err != nil {
		return handler.Response{}, err
	}
	resp := ListResponse{Value: page.Requests}
	if page.Next != "" {
		resp.NextCursor = &page.Next
	}
	return httpapi.JSON(http.StatusOK, resp), nil
}
