package api

import (
	"context"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/lockbox"
)

// Revoke ends a live grant now (lockbox-revoke): POST, a token of an
// approver or admin of the request's tenant, body {"requestId", "reason"}.
// 200 with the request, Revoked; 409 with currentStatus when no grant is
// live.
func Revoke(s *Service, req handler.Request) (handler.Response, error) {
	return post(s, req, users, func(ctx context.Context, p lockbox.Principal, in lockbox.DecisionInput) (lockbox.Request, error) {
		return s.Cases.Revoke(ctx, p, in)
	})
}

// Cancel withdraws a pending request (lockbox-cancel): POST, the requester
// (their own request), an operator or a signed service, body {"requestId",
// "reason", "tenantId"}. 200 with the request, Canceled; 409 with
// currentStatus when it is not pending.
func Cancel(s *Service, req handler.Request) (handler.Response, error) {
	return post(s, req, anyone, func(ctx context.Context, p lockbox.Principal, in lockbox.CancelInput) (lockbox.Request, error) {
		return s.Cases.Cancel(ctx, p, in)
	})
}
