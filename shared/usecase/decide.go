package usecase

import (
	"context"

	"lockbox.dev/shared/lockbox"
)

// Decide approves or denies (a is lockbox.ActionApprove or ActionDeny) a
// Pending request of p's tenant (lockbox-approve, lockbox-deny, the
// portal's forms). Only an approver decides, never a requester or an
// operator, never on a request they filed or that was filed for them, and
// only in their own tenant: the store looks the request up there alone.
// A decision carrying a passkey assertion (in.Passkey) is verified here
// against the decider's registered passkeys over the decision's Statement;
// in a tenant whose requirePasskey covers the request, the store refuses
// one without (ErrPasskeyRequired), in the decision's atomic step.
// Errors: KindInvalid, KindForbidden (also PasskeyRequired,
// PasskeyInvalid), KindNotFound, KindConflict (with CurrentStatus),
// KindTooMany, KindUnavailable.
func (s *Service) Decide(ctx context.Context, p lockbox.Principal, a lockbox.Action, in lockbox.DecisionInput) (lockbox.Request, error) {
	if a != lockbox.ActionApprove && a != lockbox.ActionDeny {
		return lockbox.Request{}, lockbox.Invalidf("action must be approve or deny")
	}
	if p.Has(lockbox.RoleProviderApprover) && !p.Has(lockbox.RoleApprover) {
		return s.review(ctx, p, a, in)
	}
	if err := lockbox.AuthorizeDecide(p); err != nil {
		return lockbox.Request{}, err
	}
	if err := in.Validate(a == lockbox.ActionApprove); err != nil {
		return lockbox.Request{}, err
	}
	if in.TenantID != "" && in.TenantID != p.TenantID {
		return lockbox.Request{}, lockbox.Forbiddenf("you may only decide requests of your own tenant")
	}
	ev, err := s.signed(ctx, p, a, in)
	if err != nil {
		return lockbox.Request{}, err
	}
	return s.act(ctx, p.TenantID, in.RequestID, p, lockbox.Act{Action: a, Actor: lockbox.Actor{Kind: lockbox.ActorApprover, ID: p.Subject},
		Principal: p.Key(), Reason: in.Reason, Duration: in.Duration, HideInternal: true, At: s.now(), Passkey: ev})
}

// review is the provider's internal review of a request in InternalReview
// (lockbox-approve, lockbox-deny and the provider console, by role
// lockbox.provider-approver, in the tenant the body names): an approval
// counts towards the policy's internalApprovals, and the last one releases
// the request to the customer (Pending); a deny ends it. Never by whoever
// filed it or is its requester (the transition's segregation of duties).
func (s *Service) review(ctx context.Context, p lockbox.Principal, a lockbox.Action, in lockbox.DecisionInput) (lockbox.Request, error) {
	if err := in.Validate(false); err != nil {
		return lockbox.Request{}, err
	}
	if err := lockbox.AuthorizeInternalReview(p, in.TenantID); err != nil {
		return lockbox.Request{}, err
	}
	action := lockbox.ActionInternalApprove
	if a == lockbox.ActionDeny {
		action = lockbox.ActionInternalDeny
	}
	return s.act(ctx, in.TenantID, in.RequestID, p, lockbox.Act{Action: action,
		Actor: lockbox.Actor{Kind: lockbox.ActorProviderApprover, ID: p.Subject}, Principal: p.Key(), Reason: in.Reason, At: s.now()})
}

// Revoke ends a live grant of p's tenant now (lockbox-revoke, the portal):
// an approver or admin of the tenant, never a requester or operator, never
// on their own request; signed with a passkey as Decide is. Errors:
// KindInvalid, KindForbidden (also PasskeyRequired, PasskeyInvalid), KindNotFound,
// KindConflict (no live grant, with CurrentStatus), KindUnavailable.
func (s *Service) Revoke(ctx context.Context, p lockbox.Principal, in lockbox.DecisionInput) (lockbox.Request, error) {
	if err := lockbox.AuthorizeRevoke(p); err != nil {
		return lockbox.Request{}, err
	}
	if err := in.Validate(false); err != nil {
		return lockbox.Request{}, err
	}
	ev, err := s.signed(ctx, p, lockbox.ActionRevoke, in)
	if err != nil {
		return lockbox.Request{}, err
	}
	return s.act(ctx, p.TenantID, in.RequestID, p, lockbox.Act{Action: lockbox.ActionRevoke, Actor: lockbox.RevokeActor(p),
		Principal: p.Key(), Reason: in.Reason, HideInternal: true, At: s.now(), Passkey: ev})
}

// Cancel withdraws a pending request (lockbox-cancel): the requester their
// own, an operator or a signed service any in the tenant it names.
// Errors: KindInvalid, KindForbidden, KindNotFound (also another
// requester's request), KindConflict (not pending), KindUnavailable.
func (s *Service) Cancel(ctx context.Context, p lockbox.Principal, in lockbox.CancelInput) (lockbox.Request, error) {
	if err := in.Validate(); err != nil {
		return lockbox.Request{}, err
	}
	tenant, only, actor, err := lockbox.AuthorizeCancel(p, in.TenantID)
	if err != nil {
		return lockbox.Request{}, err
	}
	return s.act(ctx, tenant, in.RequestID, p, lockbox.Act{Action: lockbox.ActionCancel, Actor: actor, Principal: p.Key(),
		Reason: in.Reason, OnlyRequester: only, At: s.now()})
}

// act applies act to request id of tenant in one atomic step, nudges
// lockbox-notify and logs it.
func (s *Service) act(ctx context.Context, tenant, id string, p lockbox.Principal, act lockbox.Act) (lockbox.Request, error) {
	r, err := s.Store.Act(ctx, tenant, id, act)
	if err != nil {
		return lockbox.Request{}, err
	}
	s.changed(r.TenantID)
	s.Log.Info("lockbox request "+string(act.Action), "tenantId", r.TenantID, "requestId", r.RequestID, "status", string(r.Status),
		"by", p.Subject, "kind", string(p.Kind))
	return r, nil
}
