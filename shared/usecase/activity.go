package usecase

import (
	"context"

	"lockbox.dev/shared/lockbox"
)

// Activity returns a page of the audit events of the tenant p names (""
// for their own), newest first (lockbox-activity, the portal's activity
// page and its CSV): the tenant's admins, approvers and readers their own,
// operators and signed services the tenant they name. q.TenantID is set
// here. Errors: KindInvalid, KindForbidden, KindUnavailable (also when the
// activity log is not linked).
func (s *Service) Activity(ctx context.Context, p lockbox.Principal, tenantID string, q lockbox.ActivityQuery) (lockbox.ActivityPage, error) {
	tenant, err := lockbox.AuthorizeTenantView(p, tenantID)
	if err != nil {
		return lockbox.ActivityPage{}, err
	}
	if s.ActivityLog == nil {
		return lockbox.ActivityPage{}, &lockbox.Error{Kind: lockbox.KindUnavailable, Code: "ServiceUnavailable",
			Message: "the activity log is not available", Err: errNotLinked}
	}
	q.TenantID = tenant
	return s.ActivityLog.Activity(ctx, q)
}

// AuditHead returns the newest signed checkpoint of the tenant p names (""
// for their own): the same readers as Activity. found is false before the
// tenant's first export. Errors: KindInvalid, KindForbidden,
// KindUnavailable.
func (s *Service) AuditHead(ctx context.Context, p lockbox.Principal, tenantID string) (lockbox.AuditHead, bool, error) {
	tenant, err := lockbox.AuthorizeTenantView(p, tenantID)
	if err != nil {
		return lockbox.AuditHead{}, false, err
	}
	if s.ActivityLog == nil {
		return lockbox.AuditHead{}, false, &lockbox.Error{Kind: lockbox.KindUnavailable, Code: "ServiceUnavailable",
			Message: "the activity log is not available", Err: errNotLinked}
	}
	return s.ActivityLog.AuditHead(ctx, tenant)
}

// ActivityAvailable reports whether the activity log is linked.
func (s *Service) ActivityAvailable() bool { return s.ActivityLog != nil }
