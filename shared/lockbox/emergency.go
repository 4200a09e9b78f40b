package lockbox

import (
	"context"
	"time"
)

// Break-glass: the provider's emergency access, made accountable. A rule
// of the provider's policy may allow it (ProviderRule.Emergency); a filing
// that names an emergency (CreateInput.Emergency) is approved by that many
// provider-approvers instead of the customer, is live at once
// (EmergencyApproveLockboxRequest), tells the customer's approvers and
// escalation contacts at once, and must be reviewed by the customer
// afterwards (Review: acknowledged or disputed). A tenant may refuse it
// altogether (Settings.BreakGlass).

// The values of Settings.BreakGlass.
const (
	BreakGlassAllow = "allow"
	BreakGlassDeny  = "deny"
)

// breakGlass is s.BreakGlass with its default.
func (s Settings) breakGlass() string {
	if s.BreakGlass == "" {
		return BreakGlassAllow
	}
	return s.BreakGlass
}

// DeniesBreakGlass is BreakGlassDeny when s refuses emergency access, ""
// otherwise: how the store keeps it for the emergency approval's check.
func (s Settings) DeniesBreakGlass() string {
	if s.breakGlass() == BreakGlassDeny {
		return BreakGlassDeny
	}
	return ""
}

// Admit refuses a filing the tenant's settings refuse outright, whatever
// anyone decides: emergency access in a tenant whose breakGlass is "deny"
// (ErrBreakGlassDenied). The store applies it under the same settings
// version as the filing's automatic decision, in the filing's atomic step;
// the emergency approval checks the setting again, in its own step, so
// that a deny saved while a filing waits for the provider's approvers
// holds too.
func (s Settings) Admit(r Request) error {
	if r.Emergency != nil && s.breakGlass() == BreakGlassDeny {
		return ErrBreakGlassDenied(r.TenantID)
	}
	return nil
}

// ErrBreakGlassDenied refuses emergency access to a tenant whose settings
// say breakGlass "deny".
func ErrBreakGlassDenied(tenant string) error {
	return Errorf(KindForbidden, "BreakGlassDenied", "tenant %s refuses emergency access (its setting breakGlass is %q): file a normal request",
		tenant, BreakGlassDeny)
}

// EmergencyRule is what a provider policy rule allows of emergency access:
// how many provider-approvers must approve it (1..3), and the longest it
// may last, in hours.
type EmergencyRule struct {
	Approvals   int `yaml:"approvals" json:"approvals"`
	MaxDuration int `yaml:"maxDuration" json:"maxDuration"`
}

// EmergencyInput is what an emergency filing says: the incident it
// answers and why the customer cannot be asked first.
type EmergencyInput struct {
	Incident string `json:"incident"`
	Reason   string `json:"reason"`
}

// validate checks the emergency of a filing.
func (e *EmergencyInput) validate() error {
	if e == nil {
		return nil
	}
	if !text(e.Incident, 1, maxShortText, false) {
		return Invalidf("emergency.incident must be 1..256 characters without control characters")
	}
	if !text(e.Reason, 1, MaxReason, true) {
		return Invalidf("emergency.reason must be 1..4096 characters")
	}
	return nil
}

// Emergency is a request's emergency access, as the customer sees it: the
// incident and reason it was filed with, when the customer's review falls
// due (once it is live), and the review.
type Emergency struct {
	Incident string `json:"incident"`
	Reason   string `json:"reason"`
	// ReviewDueDateTime is when an emergency access not reviewed by then
	// is escalated; nil until the access is live.
	ReviewDueDateTime *time.Time `json:"reviewDueDateTime"`
	// Review is the customer's verdict; nil until they review it.
	Review *EmergencyReview `json:"review"`
}

// EmergencyLive reports whether the emergency access r holds went live: the
// provider-approvers approved it, so the customer must review it.
func (r Request) EmergencyLive() bool {
	return r.Emergency != nil && r.Emergency.ReviewDueDateTime != nil
}

// AwaitsReview reports whether r is emergency access the customer has yet
// to review.
func (r Request) AwaitsReview() bool {
	return r.EmergencyLive() && r.Emergency.Review == nil
}

// The verdicts of a review.
const (
	VerdictAcknowledge = "acknowledge"
	VerdictDispute     = "dispute"
)

// EmergencyReview is the customer's verdict on emergency access.
type EmergencyReview struct {
	Verdict  string    `json:"verdict"`
	By       string    `json:"by"`
	Reason   string    `json:"reason"`
	DateTime time.Time `json:"dateTime"`
}

// ReviewInput is the body of lockbox-review.
type ReviewInput struct {
	RequestID string `json:"requestId"`
	Verdict   string `json:"verdict"`
	Reason    string `json:"reason"`
}

// Validate checks a review: a request id, a known verdict and a reason,
// as every decision has (a dispute's reason is what the provider must
// answer).
func (in ReviewInput) Validate() error {
	switch {
	case !ValidRequestID(in.RequestID):
		return Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
	case in.Verdict != VerdictAcknowledge && in.Verdict != VerdictDispute:
		return Invalidf("verdict must be %q or %q", VerdictAcknowledge, VerdictDispute)
	case !text(in.Reason, 1, MaxReason, true):
		return Invalidf("reason must be 1..4096 characters without control characters")
	}
	return nil
}

// Op is the audit operation of a review's verdict.
func (in ReviewInput) Op() string {
	if in.Verdict == VerdictDispute {
		return OpDisputeEmergency
	}
	return OpAcknowledgeEmergency
}

// AuthorizeReview decides whether p may review emergency access: the
// customer's approver or admin, in their own tenant; never someone who
// also holds a provider role (an engineer, an operator, a
// provider-approver). Reviewing emergency access one filed or was named
// on is refused by the review itself (ErrOwnRequest).
func AuthorizeReview(p Principal) error {
	switch {
	case p.Kind != KindUser || (!p.Has(RoleApprover) && !p.Has(RoleAdmin)):
		return Forbiddenf("reviewing emergency access needs the tenant's role %s or %s", RoleApprover, RoleAdmin)
	case p.Has(RoleRequester) || p.Has(RoleOperator) || p.Has(RoleProviderApprover):
		return Forbiddenf("the provider's people never review the provider's emergency access")
	}
	return nil
}

// screenEmergency applies rule to the emergency filing r: the rule must
// allow emergency access, and r may ask for no more than its maxDuration.
// r then waits for the rule's approvals from provider-approvers
// (InternalReview), after which it is live at once.
func screenEmergency(r Request, rule *ProviderRule) error {
	switch {
	case rule == nil || rule.Emergency == nil:
		return Errorf(KindForbidden, "EmergencyNotAllowed", "the provider's policy allows no emergency access to this request")
	case r.Duration > rule.Emergency.MaxDuration:
		return Errorf(KindUnprocessable, "ProviderScopeExceeded",
			"duration: the provider's policy (rule %s) allows emergency access of at most %d hours, this request asks for %d",
			rule.Name, rule.Emergency.MaxDuration, r.Duration)
	}
	return nil
}

// EmergencyStore keeps the customer's reviews of emergency access
// (redisstore implements it).
type EmergencyStore interface {
	// ReviewEmergency records in's verdict on emergency access of tenant
	// by actor, whose key is principal (Principal.Key), with its audit
	// event and, for a dispute, its notification, in one atomic step.
	// Errors: KindNotFound (also a request the customer never saw),
	// KindForbidden (ErrOwnRequest: principal filed it or is named on it),
	// KindConflict (ErrNotEmergency, ErrReviewedBefore), KindUnavailable.
	ReviewEmergency(ctx context.Context, tenant string, in ReviewInput, actor Actor, principal string, now time.Time) (Request, error)
	// Unreviewed returns the tenant's live emergency access awaiting
	// review, newest first. Errors: KindUnavailable.
	Unreviewed(ctx context.Context, tenant string) ([]Request, error)
}

// ErrNotEmergency is a review of a request that is no emergency access.
func ErrNotEmergency() error {
	return Errorf(KindConflict, "NotEmergencyAccess", "this request is not emergency access: there is nothing to review")
}

// ErrReviewedBefore is a second review of emergency access.
func ErrReviewedBefore(verdict string) error {
	return Errorf(KindConflict, "AlreadyReviewed", "this emergency access was reviewed before (verdict %s)", verdict)
}
