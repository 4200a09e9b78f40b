package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// pathProvider is the provider console: the engineer's own requests and,
// for the provider's approvers, the internal review queue.
const pathProvider = "/provider"

// providerUser reports whether pr signs in to the provider console: an
// engineer (requester) or a provider-approver who holds none of a tenant's
// customer roles (they see the customer's pages).
func providerUser(pr lockbox.Principal) bool {
	return (pr.Has(lockbox.RoleRequester) || pr.Has(lockbox.RoleProviderApprover)) && !customerMember(pr) &&
		lockbox.ValidTenantID(pr.TenantID)
}

// customerMember reports whether pr holds one of a tenant's customer
// roles.
func customerMember(pr lockbox.Principal) bool {
	return pr.Has(lockbox.RoleApprover) || pr.Has(lockbox.RoleReader) || pr.Has(lockbox.RoleAdmin)
}

// consoleData is the provider console's.
type consoleData struct {
	Tenant string // the tenant shown
	Action string // where its forms post
	// Reviewer: the session reviews for the provider; Queue is the tenant's
	// requests in InternalReview.
	Reviewer bool
	Queue    []consoleRow
	// Engineer: the session files requests; Mine are its own in the
	// tenant, newest first.
	Engineer bool
	Mine     []consoleRow
}

// consoleRow is one request of the console, its values formatted once.
type consoleRow struct {
	R         lockbox.Request
	Filed     string
	Left      string // the time left of its window or grant
	Approvals string // "1 of 2" internal approvals
	// Live: a grant the engineer may use now; SSH is the lockboxctl command
	// that gets an SSH certificate for it.
	Live   bool
	Until  string
	SSH    string
	Cancel bool // the engineer may withdraw it (Pending or InternalReview)
}

// console is the provider console (GET provider, ?tenant=): the tenant
// the session names (its own by default).
func (p *Portal) console(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	q, err := query(r, params{"tenant": 1})
	if err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	pr, now := s.principal(), p.d.Now()
	if !providerUser(pr) {
		p.failAs(w, r, s, lockbox.Forbiddenf("the provider console is for the provider's engineers and approvers (roles %s, %s)",
			lockbox.RoleRequester, lockbox.RoleProviderApprover), p.link("/"))
		return
	}
	tenant := q.Get("tenant")
	if tenant == "" {
		tenant = s.TenantID
	}
	if !lockbox.ValidTenantID(tenant) {
		p.failAs(w, r, s, lockbox.Invalidf("tenant must be 1..64 characters of [A-Za-z0-9._-]"), p.link(pathProvider))
		return
	}
	d := consoleData{Tenant: tenant, Action: p.link(pathProvider), Reviewer: pr.Has(lockbox.RoleProviderApprover),
		Engineer: pr.Has(lockbox.RoleRequester)}
	if d.Reviewer {
		page, err := p.d.Cases.List(r.Context(), pr, usecase.ListInput{TenantID: tenant, Status: lockbox.StatusInternalReview})
		if err != nil {
			p.failAs(w, r, s, err, "")
			return
		}
		for _, req := range page.Requests {
			row := consoleRow{R: req, Filed: utc(req.CreatedDateTime), Left: timeLeft(req.ExpirationDateTime.Sub(now))}
			if c := req.ProviderChecks; c != nil {
				row.Approvals = fmt.Sprintf("%d of %d", len(c.InternalApprovals), c.InternalApprovalsRequired)
			}
			d.Queue = append(d.Queue, row)
		}
	}
	if d.Engineer {
		page, err := p.d.Cases.List(r.Context(), pr, usecase.ListInput{TenantID: tenant})
		if err != nil {
			p.failAs(w, r, s, err, "")
			return
		}
		for _, req := range page.Requests {
			d.Mine = append(d.Mine, p.mine(req, now))
		}
	}
	p.render(w, r, s, http.StatusOK, "provider", "Provider console", "provider", d)
}

// mine is one of the engineer's own requests as the console shows it.
func (p *Portal) mine(req lockbox.Request, now time.Time) consoleRow {
	row := consoleRow{R: req, Filed: utc(req.CreatedDateTime),
		Cancel: req.Status == lockbox.StatusPending || req.Status == lockbox.StatusInternalReview}
	switch {
	case req.Status == lockbox.StatusPending || req.Status == lockbox.StatusInternalReview:
		row.Left = timeLeft(req.ExpirationDateTime.Sub(now))
	case req.AccessActive && req.AccessExpirationDateTime != nil:
		row.Live, row.Left, row.Until = true, timeLeft(req.AccessExpirationDateTime.Sub(now)), utc(*req.AccessExpirationDateTime)
		row.SSH = fmt.Sprintf("lockboxctl ssh-cert -tenant %s -request %s -key ~/.ssh/id_ed25519.pub -token-file ~/.lockbox/token",
			req.TenantID, req.RequestID)
	}
	return row
}

// consoleParams are the fields of the console's forms.
var consoleParams = params{FormTokenField: 1, "tenant": 1, "requestId": 1, "action": 1, "reason": 1}

// consoleAct approves or denies a request in internal review, or cancels
// the engineer's own pending request (POST provider): the same use cases as
// lockbox-approve, lockbox-deny and lockbox-cancel, which decide again who
// may. It answers 303 to the console with a message.
func (p *Portal) consoleAct(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	v, err := form(r, consoleParams, maxForm)
	if err != nil {
		p.failAs(w, r, s, err, p.link(pathProvider))
		return
	}
	if !p.checkFormToken(w, r, s, v.Get(FormTokenField)) {
		return
	}
	tenant, id, reason := v.Get("tenant"), v.Get("requestId"), v.Get("reason")
	back := p.link(pathProvider + "?tenant=" + url.QueryEscape(tenant))
	pr := s.principal()
	if !providerUser(pr) {
		p.failAs(w, r, s, lockbox.Forbiddenf("the provider console is for the provider's engineers and approvers"), p.link("/"))
		return
	}
	if strings.TrimSpace(reason) == "" {
		p.failAs(w, r, s, lockbox.Invalidf("give a reason"), back)
		return
	}
	var req lockbox.Request
	var msg string
	switch a := lockbox.Action(v.Get("action")); a {
	case lockbox.ActionApprove, lockbox.ActionDeny:
		req, err = p.d.Cases.Decide(r.Context(), pr, a, lockbox.DecisionInput{RequestID: id, TenantID: tenant, Reason: reason})
		switch {
		case a == lockbox.ActionDeny:
			msg = "You denied request " + req.SupportRequest + " for the provider. The customer is not asked."
		case req.Status == lockbox.StatusPending:
			msg = "You approved request " + req.SupportRequest + ". It has gone to the customer, whose approvers are told now."
		case req.Status == lockbox.StatusApproved && req.Emergency != nil:
			msg = "You approved emergency access " + req.SupportRequest + ". It is live now; the customer's approvers and escalation contacts are told, and will review it."
		default:
			msg = "Your approval of request " + req.SupportRequest + " is recorded. It waits for more provider approvals."
		}
	case lockbox.ActionCancel:
		req, err = p.d.Cases.Cancel(r.Context(), pr, lockbox.CancelInput{RequestID: id, TenantID: tenant, Reason: reason})
		msg = "You withdrew request " + req.SupportRequest + "."
	default:
		err = lockbox.Invalidf("action must be approve, deny or cancel")
	}
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	s.Flash = msg
	if err := p.saveSession(r, s); err != nil {
		p.d.Log.Warn("could not keep the outcome's message", "err", err)
	}
	p.redirect(w, pathProvider+"?tenant="+url.QueryEscape(tenant))
}
