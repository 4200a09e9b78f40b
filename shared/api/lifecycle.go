package api

import (
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// Revoke ends a live grant now (lockbox-revoke): POST, a token of an
// approver or admin of the request's tenant, body {"requestId", "reason"}.
// 200 with the request, Revoked; 409 with currentStatus when no grant is
// live.
func Revoke(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, users...)
	if err != nil {
		return handler.Response{}, err
	}
	if err := lockbox.AuthorizeRevoke(p); err != nil {
		return handler.Response{}, err
	}
	var in lockbox.DecisionInput
	if err := httpapi.Decode(req, &in); err != nil {
		return handler.Response{}, err
	}
	if err := in.Validate(false); err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	r, err := s.Store.Act(ctx, p.TenantID, in.RequestID, lockbox.Act{
		Action: lockbox.ActionRevoke, Actor: lockbox.RevokeActor(p), Principal: p.Key(), Reason: in.Reason, At: s.Now(),
	})
	if err != nil {
		return handler.Response{}, err
	}
	s.changed(r.TenantID)
	s.Log.Info("lockbox grant revoked", "tenantId", r.TenantID, "requestId", r.RequestID, "by", p.Subject)
	return httpapi.JSON(http.StatusOK, r), nil
}

// Cancel withdraws a pending request (lockbox-cancel): POST, the requester
// (their own request), an operator or a signed service, body {"requestId",
// "reason", "tenantId"}. 200 with the request, Canceled; 409 with
// currentStatus when it is not pending.
func Cancel(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, anyone...)
	if err != nil {
		return handler.Response{}, err
	}
	var in lockbox.CancelInput
	if err := httpapi.Decode(req, &in); err != nil {
		return handler.Response{}, err
	}
	if err := in.Validate(); err != nil {
		return handler.Response{}, err
	}
	tenant, only, actor, err := lockbox.AuthorizeCancel(p, in.TenantID)
	if err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	r, err := s.Store.Act(ctx, tenant, in.RequestID, lockbox.Act{
		Action: lockbox.ActionCancel, Actor: actor, Principal: p.Key(), Reason: in.Reason, OnlyRequester: only, At: s.Now(),
	})
	if err != nil {
		return handler.Response{}, err
	}
	s.changed(r.TenantID)
	s.Log.Info("lockbox request canceled", "tenantId", r.TenantID, "requestId", r.RequestID, "by", string(p.Kind))
	return httpapi.JSON(http.StatusOK, r), nil
}
