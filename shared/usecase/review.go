package usecase

import (
	"context"

	"lockbox.dev/shared/lockbox"
)

// ReviewEmergency records p's verdict on emergency access of p's tenant
// (lockbox-review's POST, the portal's review form): the tenant's approver
// or admin, in their own tenant, never someone with a provider role nor on
// emergency access they filed or are named on, once per emergency access. An
// acknowledgement is recorded (AcknowledgeEmergencyAccess); a dispute too
// (DisputeEmergencyAccess), and it goes to the tenant's webhooks and the
// provider's (lockbox.emergency.disputed) and to the approvers. A review
// neither ends nor extends the grant: revoking it is Revoke. Errors:
// KindInvalid, KindForbidden, KindNotFound (also a request the customer
// never saw), KindConflict (not emergency access, reviewed before),
// KindUnavailable.
func (s *Service) ReviewEmergency(ctx context.Context, p lockbox.Principal, in lockbox.ReviewInput) (lockbox.Request, error) {
	if err := lockbox.AuthorizeReview(p); err != nil {
		return lockbox.Request{}, err
	}
	if err := in.Validate(); err != nil {
		return lockbox.Request{}, err
	}
	actor := lockbox.Actor{Kind: lockbox.ActorApprover, ID: p.Subject}
	if !p.Has(lockbox.RoleApprover) {
		actor.Kind = lockbox.ActorAdmin
	}
	r, err := s.Emergencies.ReviewEmergency(ctx, p.TenantID, in, actor, p.Key(), s.now())
	if err != nil {
		return lockbox.Request{}, err
	}
	s.changed(p.TenantID)
	log := s.Log.Info
	if in.Verdict == lockbox.VerdictDispute {
		log = s.Log.Warn
	}
	log("lockbox emergency access reviewed", "tenantId", p.TenantID, "requestId", r.RequestID, "verdict", in.Verdict, "by", p.Subject)
	return r, nil
}

// Unreviewed returns the emergency access awaiting the customer's review
// in the tenant p names ("" for their own), newest first (lockbox-review's
// GET, the portal's landing page): its admins, approvers and readers their
// own, operators and signed services the one they name. Errors:
// KindInvalid, KindForbidden, KindUnavailable.
func (s *Service) Unreviewed(ctx context.Context, p lockbox.Principal, tenantID string) ([]lockbox.Request, error) {
	tenant, err := lockbox.AuthorizeTenantView(p, tenantID)
	if err != nil {
		return nil, err
	}
	return s.Emergencies.Unreviewed(ctx, tenant)
}

// CanReview reports whether p may review emergency access (the portal
// shows the form to those only).
func CanReview(p lockbox.Principal) bool { return lockbox.AuthorizeReview(p) == nil }
