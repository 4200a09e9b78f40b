package lockbox

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ProviderChecks is what the provider checked before asking the customer,
// shown to the customer on the request ("Checked by the provider: …"): the
// filer's multi-factor authentication and isolated identity, the provider's
// internal approvals, and the policy rule that applied.
type ProviderChecks struct {
	MFA               bool               `json:"mfa"`
	IsolatedIdentity  bool               `json:"isolatedIdentity"`
	InternalApprovals []InternalApproval `json:"internalApprovals"`
	// InternalApprovalsRequired is how many provider-approvers must approve
	// before the customer is asked (0: none).
	InternalApprovalsRequired int    `json:"internalApprovalsRequired"`
	PolicyRule                string `json:"policyRule"`
}

// InternalApproval is one provider-approver's approval of a request in
// InternalReview.
type InternalApproval struct {
	By       string    `json:"by"`
	DateTime time.Time `json:"dateTime"`
}

// CustomerVisible reports whether the customer may see r: not while the
// provider's internal review holds it, nor when that review ended it
// (denied or expired before the customer was ever asked).
func (r Request) CustomerVisible() bool {
	pc := r.ProviderChecks
	return r.Status != StatusInternalReview && (pc == nil || len(pc.InternalApprovals) >= pc.InternalApprovalsRequired)
}

// ProviderPolicy is the provider's just-in-time policy (the secret
// lockbox-provider-policy): ordered rules, the first whose match fits a
// filing applies. With no policy nothing is required.
type ProviderPolicy struct {
	Rules []ProviderRule `yaml:"rules" json:"rules"`
	// Identity says which token claims prove MFA and an isolated identity
	// (mfa_amr_values, isolated_issuers, isolated_identity_claim).
	Identity IdentityChecks `yaml:"-" json:"-"`
}

// ProviderRule is one rule of a ProviderPolicy.
type ProviderRule struct {
	Name    string          `yaml:"name" json:"name"`
	Match   ProviderMatch   `yaml:"match" json:"match"`
	Require ProviderRequire `yaml:"require" json:"require"`
	// Deny, when set, refuses every filing the rule matches, with this
	// reason (403).
	Deny string `yaml:"deny" json:"deny,omitempty"`
	// Emergency, when set, allows break-glass access to what the rule
	// matches (CreateInput.Emergency).
	Emergency *EmergencyRule `yaml:"emergency" json:"emergency,omitempty"`
}

// ProviderMatch selects filings; an empty list matches any value, and every
// list given must match.
type ProviderMatch struct {
	// ResourceTypes are resource types, compared without regard to case;
	// one ending in "/*" matches every type under it.
	ResourceTypes []string `yaml:"resourceTypes" json:"resourceTypes,omitempty"`
	// AccessLevels are access levels, compared without regard to case (a
	// filing without one is "Read").
	AccessLevels []string `yaml:"accessLevels" json:"accessLevels,omitempty"`
	// Tenants are tenant ids.
	Tenants []string `yaml:"tenants" json:"tenants,omitempty"`
}

// ProviderRequire is what a rule requires of a filing.
type ProviderRequire struct {
	MFA              bool `yaml:"mfa" json:"mfa,omitempty"`
	IsolatedIdentity bool `yaml:"isolatedIdentity" json:"isolatedIdentity,omitempty"`
	// InternalApprovals (0..3) provider-approvers must approve before the
	// customer is asked.
	InternalApprovals int `yaml:"internalApprovals" json:"internalApprovals,omitempty"`
	// MaxResources bounds the resource ids of a filing (0: no bound).
	MaxResources int `yaml:"maxResources" json:"maxResources,omitempty"`
	// MaxDuration bounds the hours asked for (0: no bound).
	MaxDuration int `yaml:"maxDuration" json:"maxDuration,omitempty"`
}

// IdentityChecks say which claims of a token prove what a rule requires.
type IdentityChecks struct {
	// MFAValues are the amr values that count as multi-factor
	// authentication (mfa_amr_values).
	MFAValues []string
	// IsolatedIssuers are token issuers whose identities are isolated
	// (isolated_issuers); IsolatedClaim a claim that, when true, says so
	// (isolated_identity_claim).
	IsolatedIssuers []string
	IsolatedClaim   string
}

// DefaultIdentityChecks are the defaults of IdentityChecks.
var DefaultIdentityChecks = IdentityChecks{MFAValues: []string{"mfa", "hwk", "otp", "fido", "swk"}, IsolatedClaim: "lockbox_isolated"}

// MaxInternalApprovals bounds a rule's internalApprovals.
const MaxInternalApprovals = 3

// Validate reports every problem of the policy at once, each named by its
// place ("rules[2].require.internalApprovals").
func (p ProviderPolicy) Validate() []error {
	var errs []error
	fail := func(at, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
	}
	if len(p.Rules) == 0 {
		fail("rules", "at least one rule is needed")
	}
	names := map[string]bool{}
	for i, r := range p.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		switch {
		case !text(r.Name, 1, maxShortText, false):
			fail(at+".name", "must be 1..256 characters")
		case names[r.Name]:
			fail(at+".name", "%q is used by an earlier rule", r.Name)
		}
		names[r.Name] = true
		for j, t := range r.Match.ResourceTypes {
			if !text(t, 1, maxShortText, false) {
				fail(fmt.Sprintf("%s.match.resourceTypes[%d]", at, j), "must be 1..256 characters")
			}
		}
		for j, l := range r.Match.AccessLevels {
			if !tokenPattern.MatchString(l) {
				fail(fmt.Sprintf("%s.match.accessLevels[%d]", at, j), "%q is not an access level (1..128 characters of [A-Za-z0-9._-])", l)
			}
		}
		for j, t := range r.Match.Tenants {
			if !ValidTenantID(t) {
				fail(fmt.Sprintf("%s.match.tenants[%d]", at, j), "%q is not a tenant id", t)
			}
		}
		q := r.Require
		if q.InternalApprovals < 0 || q.InternalApprovals > MaxInternalApprovals {
			fail(at+".require.internalApprovals", "must be 0..%d", MaxInternalApprovals)
		}
		if q.MaxResources < 0 || q.MaxResources > MaxResourceIDs {
			fail(at+".require.maxResources", "must be 1..%d (0 or absent: no bound)", MaxResourceIDs)
		}
		if q.MaxDuration < 0 || q.MaxDuration > MaxDurationHours {
			fail(at+".require.maxDuration", "must be 1..%d hours (0 or absent: no bound)", MaxDurationHours)
		}
		if r.Deny != "" {
			if !text(r.Deny, 1, MaxReason, false) {
				fail(at+".deny", "must be 1..4096 characters without control characters")
			}
			if q != (ProviderRequire{}) {
				fail(at, "a rule either denies or requires, not both")
			}
			if r.Emergency != nil {
				fail(at, "a rule either denies or allows emergency access, not both")
			}
		}
		if e := r.Emergency; e != nil {
			if e.Approvals < 1 || e.Approvals > MaxInternalApprovals {
				fail(at+".emergency.approvals", "must be 1..%d", MaxInternalApprovals)
			}
			if e.MaxDuration < 1 || e.MaxDuration > MaxDurationHours {
				fail(at+".emergency.maxDuration", "must be 1..%d hours", MaxDurationHours)
			}
		}
	}
	return errs
}

// matches reports whether m selects r.
func (m ProviderMatch) matches(r Request) bool {
	level := r.AccessLevel
	if level == "" {
		level = DefaultCheckLevel
	}
	typeOK := len(m.ResourceTypes) == 0 || slices.ContainsFunc(m.ResourceTypes, func(t string) bool {
		if prefix, ok := strings.CutSuffix(t, "/*"); ok {
			return len(r.ResourceType) > len(prefix) && strings.EqualFold(r.ResourceType[:len(prefix)+1], prefix+"/")
		}
		return strings.EqualFold(t, r.ResourceType)
	})
	return typeOK && (len(m.AccessLevels) == 0 || slices.ContainsFunc(m.AccessLevels, func(l string) bool { return strings.EqualFold(l, level) })) &&
		(len(m.Tenants) == 0 || slices.Contains(m.Tenants, r.TenantID))
}

// Rule returns the first rule that matches r, or nil.
func (p *ProviderPolicy) Rule(r Request) *ProviderRule {
	if p == nil {
		return nil
	}
	for i := range p.Rules {
		if p.Rules[i].Match.matches(r) {
			return &p.Rules[i]
		}
	}
	return nil
}

// HasMFA reports whether the principal's token shows multi-factor
// authentication: an amr value among c.MFAValues.
func (c IdentityChecks) HasMFA(p Principal) bool {
	return p.Kind == KindUser && slices.ContainsFunc(p.AMR, func(v string) bool { return slices.Contains(c.MFAValues, v) })
}

// IsIsolated reports whether the principal's identity is isolated: its
// token's issuer is among c.IsolatedIssuers, or its claim c.IsolatedClaim
// is true.
func (c IdentityChecks) IsIsolated(p Principal) bool {
	return p.Kind == KindUser && ((p.Issuer != "" && slices.Contains(c.IsolatedIssuers, p.Issuer)) ||
		(c.IsolatedClaim != "" && slices.Contains(p.TrueClaims, c.IsolatedClaim)))
}

// Screen applies the policy to r as p files it, before anything is
// written: the first matching rule's deny (403 ProviderDenied), its bounds
// (422 naming resourceIds or duration) and the factors it requires of a
// person's token (403 StepUpRequired naming each one missing). A signed
// integration cannot prove a person's factors: a rule requiring them sends
// its filing to internal review (at least one internal approval). The
// request answered carries ProviderChecks and, when a review is required,
// the status InternalReview. A nil policy (no secret) changes nothing.
//
// An emergency filing (break-glass) needs a rule that allows emergency
// access (403 EmergencyNotAllowed otherwise, also without a policy), asks
// for at most its maxDuration (422), meets the rule's other bounds and
// factors, and waits for the rule's emergency approvals from
// provider-approvers (InternalReview) instead of its internalApprovals.
func (p *ProviderPolicy) Screen(r Request, pr Principal) (Request, error) {
	if p == nil {
		if r.Emergency != nil {
			return r, screenEmergency(r, nil)
		}
		return r, nil
	}
	checks := &ProviderChecks{MFA: p.Identity.HasMFA(pr), IsolatedIdentity: p.Identity.IsIsolated(pr),
		InternalApprovals: []InternalApproval{}}
	rule := p.Rule(r)
	if r.Emergency != nil && (rule == nil || rule.Deny == "") {
		if err := screenEmergency(r, rule); err != nil {
			return r, err
		}
	}
	if rule == nil {
		r.ProviderChecks = checks
		return r, nil
	}
	checks.PolicyRule = rule.Name
	if rule.Deny != "" {
		return r, Errorf(KindForbidden, "ProviderDenied", "the provider's policy (rule %s) refuses this request: %s", rule.Name, rule.Deny)
	}
	q := rule.Require
	if q.MaxResources > 0 && len(r.ResourceIDs) > q.MaxResources {
		return r, Errorf(KindUnprocessable, "ProviderScopeExceeded",
			"resourceIds: the provider's policy (rule %s) allows at most %d resources, this request names %d", rule.Name, q.MaxResources, len(r.ResourceIDs))
	}
	if q.MaxDuration > 0 && r.Duration > q.MaxDuration {
		return r, Errorf(KindUnprocessable, "ProviderScopeExceeded",
			"duration: the provider's policy (rule %s) allows at most %d hours, this request asks for %d", rule.Name, q.MaxDuration, r.Duration)
	}
	review := q.InternalApprovals
	if r.Emergency != nil {
		review = rule.Emergency.Approvals // provider-approvers let it in, instead of the customer
	}
	var missing []string
	if q.MFA && !checks.MFA {
		missing = append(missing, "mfa (sign in with multi-factor authentication: amr "+strings.Join(p.Identity.MFAValues, ", ")+")")
	}
	if q.IsolatedIdentity && !checks.IsolatedIdentity {
		missing = append(missing, "isolatedIdentity (use your isolated identity)")
	}
	if len(missing) > 0 {
		if pr.Kind != KindService {
			return r, Errorf(KindForbidden, "StepUpRequired", "the provider's policy (rule %s) requires %s", rule.Name, strings.Join(missing, " and "))
		}
		review = max(review, 1) // a system cannot prove a person's factors: people review it
	}
	checks.InternalApprovalsRequired = review
	r.ProviderChecks = checks
	if review > 0 {
		r.Status = StatusInternalReview
	}
	return r, nil
}

// AuthorizeInternalReview decides whether p may approve or deny requests in
// the provider's internal review, in the tenant it names: role
// lockbox.provider-approver, never with a customer's role. Reviewing a
// request one filed or that was filed for one is refused by the transition
// itself (Transition.OwnForbidden).
func AuthorizeInternalReview(p Principal, tenantID string) error {
	switch {
	case p.Kind != KindUser || !p.Has(RoleProviderApprover):
		return Forbiddenf("reviewing a request for the provider needs role %s", RoleProviderApprover)
	case p.Has(RoleApprover) || p.Has(RoleAdmin) || p.Has(RoleReader):
		return Forbiddenf("a customer's role can never review a request for the provider")
	case !ValidTenantID(tenantID):
		return Invalidf("tenantId is required: the provider names the tenant")
	}
	return nil
}

// ReviewWindow returns r, filed InternalReview, with the provider's review
// window as its expiration (lim.InternalReviewTTL, 24h when unset): the
// customer's approval window starts only when the review releases it.
func (r Request) ReviewWindow(lim Limits) Request {
	if r.Status != StatusInternalReview {
		return r
	}
	ttl := lim.InternalReviewTTL
	if ttl <= 0 {
		ttl = DefaultLimits.InternalReviewTTL
	}
	r.ExpirationDateTime = r.CreatedDateTime.Add(ttl)
	return r
}
