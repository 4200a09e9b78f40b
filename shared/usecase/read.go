package usecase

import (
	"context"
	"fmt"

	"lockbox.dev/shared/lockbox"
)

// The sizes of a list page.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// ListInput selects a page of requests. TenantID is the tenant the caller
// names ("" for their own); Status filters by effective status ("" for
// every one); Limit is 1..MaxPageSize (0 for DefaultPageSize).
type ListInput struct {
	TenantID string
	Status   lockbox.Status
	Limit    int
	Cursor   string
}

// List returns a page of requests newest first (lockbox-list, the portal's
// lists): approvers, readers and admins their own tenant's, operators and
// signed services any tenant they name, requesters their own requests in
// the tenant they name. Errors: KindInvalid, KindForbidden,
// KindUnavailable.
func (s *Service) List(ctx context.Context, p lockbox.Principal, in ListInput) (lockbox.Page, error) {
	scope, err := lockbox.AuthorizeList(p, in.TenantID)
	if err != nil {
		return lockbox.Page{}, err
	}
	if in.Limit == 0 {
		in.Limit = DefaultPageSize
	}
	if in.Limit < 1 || in.Limit > MaxPageSize {
		return lockbox.Page{}, lockbox.Invalidf("limit must be a whole number from 1 to %d", MaxPageSize)
	}
	return s.Store.List(ctx, lockbox.Query{Scope: scope, Status: in.Status, Limit: in.Limit, Cursor: in.Cursor})
}

// Get returns request id as p may read it (lockbox-list?requestId=, the
// portal's request page), in the tenant p names ("" for their own): the
// same scope as List, so a requester reads only their own requests and
// anyone else's id, or another tenant's, is not found.
// Errors: KindInvalid, KindForbidden, KindNotFound, KindUnavailable.
func (s *Service) Get(ctx context.Context, p lockbox.Principal, tenantID, id string) (lockbox.Request, error) {
	scope, err := lockbox.AuthorizeList(p, tenantID)
	if err != nil {
		return lockbox.Request{}, err
	}
	if !lockbox.ValidRequestID(id) {
		return lockbox.Request{}, lockbox.Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
	}
	r, err := s.Store.Get(ctx, scope.TenantID, id)
	if err != nil {
		return lockbox.Request{}, err
	}
	if (scope.RequesterID != "" && lockbox.CanonicalID(r.Requester.ID) != scope.RequesterID) || (scope.HideInternal && !r.CustomerVisible()) {
		return lockbox.Request{}, lockbox.ErrNotFound(id)
	}
	return r, nil
}

// Deliveries returns the notifications delivered about request id of the
// tenant p names ("" for their own): its approvers and admins, operators
// and signed services. Errors: KindForbidden, KindUnavailable (also when
// deliveries are not linked).
func (s *Service) Deliveries(ctx context.Context, p lockbox.Principal, tenantID, id string) ([]lockbox.Delivery, error) {
	tenant, err := lockbox.AuthorizeDeliveries(p, tenantID)
	if err != nil {
		return nil, err
	}
	if s.DeliveryLog == nil {
		return nil, lockbox.Unavailable("read deliveries", errNotLinked)
	}
	return s.DeliveryLog.Deliveries(ctx, tenant, id)
}

// Permissions say what a principal may do with one request, for a page to
// show only the forms that would be accepted (the use cases decide again
// when a form is sent).
type Permissions struct {
	// Decide: approve and deny. DecideNote, when an approver may not, says
	// why (their own request, or they approved it already).
	Decide     bool
	DecideNote string
	Revoke     bool
	// Deliveries: the request's notifications may be read.
	Deliveries bool
}

// PermissionsOn says what p may do with r as it stands.
func PermissionsOn(p lockbox.Principal, r lockbox.Request) Permissions {
	var out Permissions
	own := r.Involves(p.Key())
	if r.Status == lockbox.StatusPending && lockbox.AuthorizeDecide(p) == nil {
		switch {
		case own:
			out.DecideNote = "You cannot decide this request: you filed it, or it was filed for you."
		case r.ApprovedBy(p.Key()):
			out.DecideNote = fmt.Sprintf("You approved this request. It waits for %d more approval(s).", r.RequiredApprovals-len(r.Approvals))
		default:
			out.Decide = true
		}
	}
	out.Revoke = r.AccessActive && !own && lockbox.AuthorizeRevoke(p) == nil
	_, err := lockbox.AuthorizeDeliveries(p, "")
	out.Deliveries = err == nil
	return out
}

// CanChangeSettings reports whether p may change their tenant's settings.
func CanChangeSettings(p lockbox.Principal) bool {
	_, err := lockbox.AuthorizeSettings(p, "", true)
	return err == nil
}

// errNotLinked is the cause logged when a use case's reader is not part of
// the function.
var errNotLinked = errorString("not linked into this function")

type errorString string

func (e errorString) Error() string { return string(e) }
