package lockbox

import (
	"strings"
	"time"
)

// Operation names of the binding: a grant used, access refused, a
// credential issued.
const (
	// OpUseGrant records the first allowed use of each resource of a grant
	// (lockbox-check); its reason names the method and path.
	OpUseGrant = "UseLockboxGrant"
	// OpRefuseAccess records a refused check of an authenticated engineer,
	// at most one per engineer, resource and minute.
	OpRefuseAccess = "RefuseLockboxAccess"
	// OpIssueCredential records an SSH certificate issued for a grant.
	OpIssueCredential = "IssueLockboxCredential"
)

// Usage is how a grant was used: the checks that allowed access, the
// credentials issued, when, and per resource. Nil until the first use.
type Usage struct {
	Checks           int             `json:"checks"`
	Credentials      int             `json:"credentials"`
	FirstUseDateTime *time.Time      `json:"firstUseDateTime"`
	LastUseDateTime  *time.Time      `json:"lastUseDateTime"`
	Resources        []ResourceUsage `json:"resources"`
}

// ResourceUsage is how one resource of a grant was used.
type ResourceUsage struct {
	ResourceID       string    `json:"resourceId"`
	Checks           int       `json:"checks"`
	FirstUseDateTime time.Time `json:"firstUseDateTime"`
	LastUseDateTime  time.Time `json:"lastUseDateTime"`
}

// The refusal codes of a check.
const (
	// CodeNoGrant: the engineer holds no grant naming the resource.
	CodeNoGrant = "NoGrant"
	// CodePendingApproval: a request of the engineer naming the resource
	// waits for the customer's decision.
	CodePendingApproval = "PendingApproval"
	// CodeGrantEnded: the engineer's grant naming the resource ended (its
	// hours ran out, or it was revoked).
	CodeGrantEnded = "GrantEnded"
)

// DefaultCheckLevel is the access level a check asks for when the proxy
// names none.
const DefaultCheckLevel = "Read"

// CheckInput is what a proxy asks lockbox-check: may the caller reach
// ResourceID of TenantID at AccessLevel? The proxy's configuration sets the
// tenant, resource and level, never the engineer; Method and URI are what
// the engineer asked for, recorded.
type CheckInput struct {
	TenantID    string
	ResourceID  string
	AccessLevel string
	Method      string
	URI         string
}

// Validate checks a check's input; the level defaults to Read.
func (in *CheckInput) Validate() error {
	switch {
	case in.TenantID == "":
		return Invalidf("X-Lockbox-Tenant is required: the proxy's configuration names the tenant")
	case !ValidTenantID(in.TenantID):
		return Invalidf("X-Lockbox-Tenant must be 1..64 characters of [A-Za-z0-9._-]")
	case in.ResourceID == "":
		return Invalidf("X-Lockbox-Resource is required: the proxy's configuration names the resource")
	case !text(in.ResourceID, 1, maxResourceIDLen, false):
		return Invalidf("X-Lockbox-Resource must be 1..1024 printable characters")
	case in.AccessLevel != "" && !tokenPattern.MatchString(in.AccessLevel):
		return Invalidf("X-Lockbox-Access-Level must be 1..128 characters of [A-Za-z0-9._-]")
	}
	if in.AccessLevel == "" {
		in.AccessLevel = DefaultCheckLevel
	}
	// The method and URI are only recorded: cut them, and drop what would
	// not print.
	in.Method = clip(in.Method, 16)
	in.URI = clip(in.URI, 512)
	return nil
}

// clip keeps at most n printable runes of s.
func clip(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			break
		}
		if r == '\uFFFD' || r < 0x20 || r == 0x7f {
			continue
		}
		b.WriteRune(r)
		n--
	}
	return b.String()
}

// Covers reports whether a grant of level covers a check of asked: the
// same level (compared without case), and any grant covers Read.
func Covers(level, asked string) bool {
	return strings.EqualFold(asked, DefaultCheckLevel) || strings.EqualFold(level, asked)
}

// CheckResult is lockbox-check's answer. Allowed: RequestID's grant covers
// the resource until AccessUntil. Refused: Code says why, and RequestID,
// when set, names the request it is about.
type CheckResult struct {
	Allowed     bool
	RequestID   string
	AccessUntil time.Time
	Code        string
}

// ErrRefused is the error of a refused check: 403 with the code.
func ErrRefused(res CheckResult) *Error {
	msg := map[string]string{
		CodeNoGrant:         "you hold no grant for this resource: file a lockbox request",
		CodePendingApproval: "your lockbox request for this resource waits for the customer's decision",
		CodeGrantEnded:      "your grant for this resource has ended",
	}[res.Code]
	e := Errorf(KindForbidden, res.Code, "%s", msg)
	e.RequestID = res.RequestID
	return e
}

// AuthorizeCheck decides whether p may ask for access at all: an engineer
// (role lockbox.requester) with a person's token, for their own grants.
func AuthorizeCheck(p Principal) error {
	if p.Kind != KindUser || !p.Has(RoleRequester) {
		return Forbiddenf("access needs role %s: the engineer's own token", RoleRequester)
	}
	return nil
}

// CredentialInput is the body of lockbox-credential's POST: an SSH
// certificate for PublicKey (an authorized_keys line) under the live grant
// of RequestID in TenantID.
type CredentialInput struct {
	TenantID  string `json:"tenantId"`
	RequestID string `json:"requestId"`
	PublicKey string `json:"publicKey"`
}

// Validate checks a credential body's ids; the key is parsed by the CA.
func (in CredentialInput) Validate() error {
	switch {
	case !ValidTenantID(in.TenantID):
		return Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	case !ValidRequestID(in.RequestID):
		return Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
	case in.PublicKey == "":
		return Invalidf("publicKey is required: the engineer's OpenSSH public key line")
	}
	return nil
}

// AuthorizeCredential decides whether p may be issued credentials: an
// engineer (role lockbox.requester), for their own requests only (the
// store looks the request up under p's requester key).
func AuthorizeCredential(p Principal) error {
	if p.Kind != KindUser || !p.Has(RoleRequester) {
		return Forbiddenf("a credential needs role %s: the engineer's own token", RoleRequester)
	}
	return nil
}

// ErrGrantNotLive is returned when a credential is asked for a request
// whose grant is not live; current is its effective status.
func ErrGrantNotLive(current Status) *Error {
	e := Errorf(KindForbidden, "GrantNotLive", "this request holds no live grant (it is %s): no credential is issued", current)
	e.CurrentStatus = current
	return e
}

// Credential is an issued credential, as the store records it.
type Credential struct {
	// Serial is the certificate's serial number; Fingerprint the SHA-256
	// fingerprint of the engineer's key.
	Serial      uint64
	Fingerprint string
}
