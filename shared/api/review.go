package api

import (
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// reviewParams are the query parameters lockbox-review's GET accepts.
var reviewParams = map[string]bool{"tenantId": true}

// Review serves lockbox-review, the customer's review of the provider's
// emergency access (break-glass):
//
//   - POST {"requestId", "verdict": "acknowledge"|"dispute", "reason"}, the
//     tenant's approver or admin: records the verdict
//     (usecase.Service.ReviewEmergency); 200 with the request; 409
//     NotEmergencyAccess or AlreadyReviewed;
//   - GET, the tenant's admin, approver or reader (operators and signed
//     services name ?tenantId=): 200 {"value": [the emergency access
//     awaiting review, newest first]}.
func Review(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	if req.Method == http.MethodGet {
		p, err := s.Auth.Authenticate(req.Header, []byte(req.QueryString), anyone...)
		if err != nil {
			return handler.Response{}, err
		}
		q, err := httpapi.ParseQuery(req.QueryString, reviewParams)
		if err != nil {
			return handler.Response{}, err
		}
		ctx, cancel := httpapi.Context(req, httpapi.Timeout)
		defer cancel()
		list, err := s.Cases.Unreviewed(ctx, p, q.Get("tenantId"))
		if err != nil {
			return handler.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, map[string][]lockbox.Request{"value": list}), nil
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, users...)
	if err != nil {
		return handler.Response{}, err
	}
	if _, err := httpapi.ParseQuery(req.QueryString, nil); err != nil {
		return handler.Response{}, err
	}
	var in lockbox.ReviewInput
	if err := httpapi.Decode(req, &in); err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	r, err := s.Cases.ReviewEmergency(ctx, p, in)
	if err != nil {
		return handler.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, r), nil
}
