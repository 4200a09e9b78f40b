package usecase

import (
	"context"

	"lockbox.dev/shared/lockbox"
)

// Lockdown locks p's tenant down (lockbox-lockdown's POST, the portal's
// Lock down form): only the tenant's admin, in their own tenant (from the
// token, never the body). In one atomic step every live grant is revoked
// and every request waiting for a decision canceled, with the audit events
// those actions always record, then LockdownTenant; from then on filings
// are refused (ErrLockedDown) until in.Until or a lift. The approvers,
// every affected requester and the webhooks (the provider's too) are
// notified. Errors: KindInvalid (nothing written), KindForbidden,
// KindUnavailable.
func (s *Service) Lockdown(ctx context.Context, p lockbox.Principal, body lockbox.LockdownBody) (lockbox.LockdownResult, error) {
	if err := lockbox.AuthorizeLockdown(p); err != nil {
		return lockbox.LockdownResult{}, err
	}
	now := s.now()
	in, err := body.Input(now)
	if err != nil {
		return lockbox.LockdownResult{}, err
	}
	res, err := s.Lockdowns.Lockdown(ctx, p.TenantID, in, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: p.Subject}, now)
	if err != nil {
		return lockbox.LockdownResult{}, err
	}
	s.changed(p.TenantID)
	s.Log.Warn("lockbox tenant locked down", "tenantId", p.TenantID, "by", p.Subject, "until", res.Until,
		"revoked", len(res.Revoked), "canceled", len(res.Canceled))
	return res, nil
}

// LiftLockdown ends p's tenant's lockdown now (lockbox-lockdown's DELETE,
// the portal's Lift form): only the tenant's admin. Errors: KindInvalid,
// KindForbidden, KindConflict (ErrNotLockedDown), KindUnavailable.
func (s *Service) LiftLockdown(ctx context.Context, p lockbox.Principal, in lockbox.LiftInput) (lockbox.Lockdown, error) {
	if err := lockbox.AuthorizeLockdown(p); err != nil {
		return lockbox.Lockdown{}, err
	}
	if err := in.Validate(); err != nil {
		return lockbox.Lockdown{}, err
	}
	l, err := s.Lockdowns.LiftLockdown(ctx, p.TenantID, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: p.Subject}, in.Reason, s.now())
	if err != nil {
		return lockbox.Lockdown{}, err
	}
	s.changed(p.TenantID)
	s.Log.Warn("lockbox tenant lockdown lifted", "tenantId", p.TenantID, "by", p.Subject)
	return l, nil
}

// LockdownState returns the lockdown of the tenant p names ("" for their
// own): its admins, approvers and readers their own, operators and signed
// services the one they name. Errors: KindInvalid, KindForbidden,
// KindUnavailable.
func (s *Service) LockdownState(ctx context.Context, p lockbox.Principal, tenantID string) (lockbox.Lockdown, error) {
	tenant, err := lockbox.AuthorizeTenantView(p, tenantID)
	if err != nil {
		return lockbox.Lockdown{}, err
	}
	return s.Lockdowns.LockdownState(ctx, tenant, s.now())
}

// CanLockdown reports whether p may lock its tenant down and lift the
// lockdown (the portal shows the forms to those only).
func CanLockdown(p lockbox.Principal) bool { return lockbox.AuthorizeLockdown(p) == nil }
