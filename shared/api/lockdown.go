package api

import (
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// lockdownParams are the query parameters lockbox-lockdown's GET accepts.
var lockdownParams = map[string]bool{"tenantId": true}

// Lockdown serves lockbox-lockdown:
//
//   - POST {"until"?, "reason"}, the tenant's admin: locks the tenant down
//     (usecase.Service.Lockdown); 200 with the lockdown and the ids of the
//     requests it revoked and canceled;
//   - DELETE, optional body {"reason"}, the tenant's admin: lifts it; 200
//     with the state; 409 NotLockedDown when none is in force;
//   - GET, the tenant's admin, approver or reader (operators and signed
//     services name ?tenantId=): 200 with the state.
func Lockdown(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet, http.MethodPost, http.MethodDelete); err != nil {
		return handler.Response{}, err
	}
	if req.Method == http.MethodGet {
		p, err := s.Auth.Authenticate(req.Header, []byte(req.QueryString), anyone...)
		if err != nil {
			return handler.Response{}, err
		}
		q, err := httpapi.ParseQuery(req.QueryString, lockdownParams)
		if err != nil {
			return handler.Response{}, err
		}
		ctx, cancel := httpapi.Context(req, httpapi.Timeout)
		defer cancel()
		l, err := s.Cases.LockdownState(ctx, p, q.Get("tenantId"))
		if err != nil {
			return handler.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, l), nil
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, users...)
	if err != nil {
		return handler.Response{}, err
	}
	if _, err := httpapi.ParseQuery(req.QueryString, nil); err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	if req.Method == http.MethodDelete {
		var in lockbox.LiftInput
		if len(req.Body) > 0 {
			if err := httpapi.Decode(req, &in); err != nil {
				return handler.Response{}, err
			}
		}
		l, err := s.Cases.LiftLockdown(ctx, p, in)
		if err != nil {
			return handler.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, l), nil
	}
	var body lockbox.LockdownBody
	if err := httpapi.Decode(req, &body); err != nil {
		return handler.Response{}, err
	}
	res, err := s.Cases.Lockdown(ctx, p, body)
	if err != nil {
		return handler.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, res), nil
}
