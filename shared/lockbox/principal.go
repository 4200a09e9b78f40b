package lockbox

import (
	"fmt"
	"slices"
	"strings"
)

// Role is a Lockbox role carried in a token's roles claim.
type Role string

// The roles.
const (
	RoleApprover  Role = "lockbox.approver"  // decides requests in their tenant, lists them
	RoleReader    Role = "lockbox.reader"    // lists requests in their tenant
	RoleRequester Role = "lockbox.requester" // files requests for themself, lists their own
	RoleOperator  Role = "lockbox.operator"  // provider side: files for anyone, lists any tenant; never decides
	RoleAdmin     Role = "lockbox.admin"     // the tenant's administrator: settings, revocation
	// RoleProviderApprover is the provider's internal approver (a support
	// lead): approves or denies requests in InternalReview, in any tenant
	// it names; never the customer's decision.
	RoleProviderApprover Role = "lockbox.provider-approver"
)

// Roles lists every role a token may carry; others are ignored.
var Roles = []Role{RoleApprover, RoleReader, RoleRequester, RoleOperator, RoleAdmin, RoleProviderApprover}

// PrincipalKind says how a caller authenticated.
type PrincipalKind string

// The principal kinds.
const (
	// KindService is a system holding the webhook secret: the ticketing
	// system or the provider's JIT access service.
	KindService PrincipalKind = "service"
	// KindUser is a person or tool with a bearer token.
	KindUser PrincipalKind = "user"
)

// Principal is an authenticated caller.
type Principal struct {
	Kind     PrincipalKind
	Subject  string // token sub, or "webhook" for services
	TenantID string // token tid; empty for services
	Roles    []Role
	// SignatureHash, for a signed delivery, is the hex SHA-256 of its
	// signature, by which a replay of the same delivery is recognised.
	SignatureHash string
	// Source, for a ticketing system's own webhook (an intake source,
	// Subject "intake:<name>"), is the source's kind (jira, github,
	// zendesk, servicenow): the work item source its filings assert.
	Source string
	// AMR, Issuer and TrueClaims are what a person's token says of how
	// they signed in: its amr values, its iss, and the names of its
	// top-level claims whose value is true (ProviderPolicy's checks).
	AMR        []string
	Issuer     string
	TrueClaims []string
}

// Has reports whether p holds role r.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

// Key identifies p in canonical form (CanonicalID): "user:<sub>" for people
// and tools, "service:<subject>" for signed systems. The store records it as
// who filed a request.
func (p Principal) Key() string {
	if p.Kind == KindService {
		return ServiceKeyPrefix + CanonicalID(p.Subject)
	}
	return UserKey(p.Subject)
}

// UserFromClaims is the person a verified token's claims name: sub, the
// tenant in claims[tenantClaim], and the known roles in claims[rolesClaim]
// (a list, or a space-separated string), each once; unknown roles are
// dropped. Errors: KindUnauthorized for a sub or tenant that is missing or
// not valid.
func UserFromClaims(sub string, claims map[string]any, tenantClaim, rolesClaim string) (Principal, error) {
	tenant, _ := claims[tenantClaim].(string)
	switch {
	case !ValidRequesterID(sub):
		return Principal{}, Unauthorizedf("token has no valid sub claim")
	case !ValidTenantID(tenant):
		return Principal{}, Unauthorizedf("token has no valid %s claim", tenantClaim)
	}
	p := Principal{Kind: KindUser, Subject: sub, TenantID: tenant}
	var roles []string
	switch v := claims[rolesClaim].(type) {
	case string:
		roles = strings.Fields(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				roles = append(roles, s)
			}
		}
	}
	for _, name := range roles {
		if r := Role(name); slices.Contains(Roles, r) && !p.Has(r) {
			p.Roles = append(p.Roles, r)
		}
	}
	p.Issuer, _ = claims["iss"].(string)
	switch v := claims["amr"].(type) {
	case string:
		p.AMR = strings.Fields(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && len(p.AMR) < maxClaimValues {
				p.AMR = append(p.AMR, s)
			}
		}
	}
	for name, v := range claims {
		if b, ok := v.(bool); ok && b && len(p.TrueClaims) < maxClaimValues {
			p.TrueClaims = append(p.TrueClaims, name)
		}
	}
	slices.Sort(p.TrueClaims)
	return p, nil
}

// maxClaimValues bounds the amr values and true claims kept of a token.
const maxClaimValues = 32

// The prefixes of principal keys.
const (
	UserKeyPrefix    = "user:"
	ServiceKeyPrefix = "service:"
)

// UserKey is the key of the person whose id (a token's sub, a requester's
// id) is id.
func UserKey(id string) string { return UserKeyPrefix + CanonicalID(id) }

// AuthorizeCreate decides whether p may file the request in. Services and
// operators may file for any engineer; a requester only for themself.
func AuthorizeCreate(p Principal, in CreateInput) error {
	switch {
	case p.Kind == KindService, p.Has(RoleOperator):
		return nil
	case p.Has(RoleRequester):
		if !SameIdentity(in.Requester.ID, p.Subject) {
			return Forbiddenf("a requester may only file requests for themself")
		}
		return nil
	}
	return Forbiddenf("filing a request needs role %s or %s", RoleRequester, RoleOperator)
}

// AuthorizeDecide decides whether p may approve or deny at all. Only an
// approver decides, never someone who is also a requester or an operator
// (the provider's side never decides for the customer), and only inside
// p.TenantID (the store looks requests up in that tenant alone). Deciding a
// request one filed or that was filed for one is refused by the transition
// itself (Transition.OwnForbidden), atomically.
func AuthorizeDecide(p Principal) error {
	switch {
	case p.Kind != KindUser || !p.Has(RoleApprover):
		return Forbiddenf("deciding a request needs role %s", RoleApprover)
	case p.Has(RoleRequester):
		return Forbiddenf("a requester can never decide a request")
	case p.Has(RoleOperator):
		return Forbiddenf("an operator can never decide a request")
	}
	return nil
}

// Scope is what a caller may list: one tenant, and within it either every
// request or only those of one requester.
type Scope struct {
	TenantID string
	// RequesterID, when set, limits the scope to the requests filed for
	// this requester (canonical form, CanonicalID).
	RequesterID string
	// HideInternal, for the customer's roles, leaves out what the
	// provider's internal review holds (Request.CustomerVisible).
	HideInternal bool
}

// AuthorizeList turns the tenantId a caller asked for (may be empty) into the
// scope it may read. Approvers and readers read their own tenant; operators
// and services any tenant they name; requesters their own requests in the
// tenant they name.
func AuthorizeList(p Principal, tenantID string) (Scope, error) {
	if tenantID != "" && !ValidTenantID(tenantID) {
		return Scope{}, Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	}
	switch {
	case p.Kind == KindService || p.Has(RoleOperator):
		if tenantID == "" {
			tenantID = p.TenantID
		}
		if tenantID == "" {
			return Scope{}, Invalidf("tenantId is required")
		}
		return Scope{TenantID: tenantID}, nil
	case p.Has(RoleApprover) || p.Has(RoleReader) || p.Has(RoleAdmin):
		if tenantID != "" && tenantID != p.TenantID {
			return Scope{}, Forbiddenf("you may only list requests of your own tenant")
		}
		return Scope{TenantID: p.TenantID, HideInternal: true}, nil
	case p.Has(RoleProviderApprover):
		if tenantID == "" {
			tenantID = p.TenantID
		}
		return Scope{TenantID: tenantID}, nil
	case p.Has(RoleRequester):
		if tenantID == "" {
			return Scope{}, Invalidf("tenantId is required")
		}
		return Scope{TenantID: tenantID, RequesterID: CanonicalID(p.Subject)}, nil
	}
	return Scope{}, Forbiddenf("listing needs one of the lockbox roles")
}

// AuthorizeRevoke decides whether p may revoke grants at all: an approver
// or admin of p.TenantID (the store looks requests up there alone), never
// someone who is also a requester or an operator. Revoking a grant one
// filed or that was filed for one is refused by the transition itself.
func AuthorizeRevoke(p Principal) error {
	switch {
	case p.Kind != KindUser || !(p.Has(RoleApprover) || p.Has(RoleAdmin)):
		return Forbiddenf("revoking a grant needs role %s or %s", RoleApprover, RoleAdmin)
	case p.Has(RoleRequester):
		return Forbiddenf("a requester can never revoke a grant")
	case p.Has(RoleOperator):
		return Forbiddenf("an operator can never revoke a grant")
	}
	return nil
}

// RevokeActor is who the audit log records revoking: the tenant's admin, or
// an approver.
func RevokeActor(p Principal) Actor {
	if p.Has(RoleAdmin) && !p.Has(RoleApprover) {
		return Actor{Kind: ActorAdmin, ID: p.Subject}
	}
	return Actor{Kind: ActorApprover, ID: p.Subject}
}

// AuthorizeCancel turns the tenantId a caller names into where it may cancel
// and as whom: a requester their own pending requests in the tenant they
// name (onlyRequester set), an operator or a signed service any request of
// the tenant it names.
func AuthorizeCancel(p Principal, tenantID string) (tenant, onlyRequester string, actor Actor, err error) {
	if !ValidTenantID(tenantID) {
		return "", "", Actor{}, Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	}
	switch {
	case p.Kind == KindService:
		return tenantID, "", Actor{Kind: ActorSystem, ID: p.Subject}, nil
	case p.Has(RoleOperator):
		return tenantID, "", Actor{Kind: ActorEngineer, ID: p.Subject}, nil
	case p.Has(RoleRequester):
		return tenantID, UserKey(p.Subject), Actor{Kind: ActorEngineer, ID: p.Subject}, nil
	}
	return "", "", Actor{}, Forbiddenf("canceling a request needs role %s (your own) or %s", RoleRequester, RoleOperator)
}

// IntakePrefix starts the subject of a ticketing source's principal
// ("intake:<source>"), which is also how its filings say they were filed
// (Request.FiledVia).
const IntakePrefix = "intake:"

// AuthorizeClose decides whether p may close a ticket's requests in
// tenant: only a ticketing source (an intake source, authenticated by its
// vendor's signature), and only what it filed itself (the close use case
// compares each request's FiledBy with p's key).
func AuthorizeClose(p Principal, tenant string) error {
	switch {
	case !ValidTenantID(tenant):
		return Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	case p.Kind != KindService || p.Source == "" || !strings.HasPrefix(p.Subject, IntakePrefix):
		return Forbiddenf("only a ticketing source closes a ticket's requests")
	}
	return nil
}

// TicketActor is the system actor id of a ticketing source's close:
// "ticket:<source>".
func TicketActor(p Principal) string { return "ticket:" + strings.TrimPrefix(p.Subject, IntakePrefix) }

// AuthorizeSettings decides which tenant's settings p may read (write
// false) or change (write true), given the tenantId it names. The tenant's
// admin (and, to read, its approvers and readers) their own; operators and
// signed services may read the one they name, never change it: the
// settings say whether and how the customer decides, and nothing the
// provider controls may turn that off, add an auto-approval or change who
// approves. An admin who is also an operator or a requester is refused too,
// as deciding is.
func AuthorizeSettings(p Principal, tenantID string, write bool) (string, error) {
	if !write {
		return AuthorizeTenantView(p, tenantID)
	}
	if tenantID != "" && !ValidTenantID(tenantID) {
		return "", Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	}
	switch {
	case p.Kind != KindUser || !p.Has(RoleAdmin):
		return "", Forbiddenf("changing settings needs role %s of the tenant; the provider may read them, never change them", RoleAdmin)
	case p.Has(RoleOperator) || p.Has(RoleRequester):
		return "", Forbiddenf("the provider's roles can never change a tenant's settings")
	case tenantID != "" && tenantID != p.TenantID:
		return "", Forbiddenf("you may only change the settings of your own tenant")
	}
	return p.TenantID, nil
}

// AuthorizeTenantView decides which tenant's settings and activity log p may
// read, given the tenantId it names: the tenant's admins, approvers and
// readers their own; operators and signed services the one they name.
func AuthorizeTenantView(p Principal, tenantID string) (string, error) {
	return authorizeRead(p, tenantID, "this needs one of the lockbox roles of the tenant", RoleAdmin, RoleApprover, RoleReader)
}

// AuthorizeDeliveries decides whose notification deliveries p may read: the
// tenant's approvers and admins their own tenant's; operators and signed
// services the tenant they name.
func AuthorizeDeliveries(p Principal, tenantID string) (string, error) {
	return authorizeRead(p, tenantID, fmt.Sprintf("reading deliveries needs role %s or %s", RoleApprover, RoleAdmin),
		RoleApprover, RoleAdmin)
}

// authorizeRead decides which tenant p may read, given the tenantId it
// names: one holding any of roles reads their own; operators and signed
// services the one they name; anyone else is refused with refusal.
func authorizeRead(p Principal, tenantID, refusal string, roles ...Role) (string, error) {
	if tenantID != "" && !ValidTenantID(tenantID) {
		return "", Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	}
	if p.Kind == KindService || p.Has(RoleOperator) {
		if tenantID == "" {
			return "", Invalidf("tenantId is required")
		}
		return tenantID, nil
	}
	for _, r := range roles {
		if p.Has(r) {
			if tenantID != "" && tenantID != p.TenantID {
				return "", Forbiddenf("you may only read your own tenant's")
			}
			return p.TenantID, nil
		}
	}
	return "", Forbiddenf("%s", refusal)
}
