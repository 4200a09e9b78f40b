package lockbox

import (
	"net/url"
	"unicode"
	"unicode/utf8"
)

// CreateInput is the body of lockbox-create: the fields a caller may set.
type CreateInput struct {
	TenantID       string    `json:"tenantId"`
	SubscriptionID string    `json:"subscriptionId,omitempty"`
	ResourceType   string    `json:"resourceType"`
	ResourceIDs    []string  `json:"resourceIds"`
	AccessLevel    string    `json:"accessLevel,omitempty"`
	Justification  string    `json:"justification"`
	SupportRequest string    `json:"supportRequest"`
	SupportCaseURL string    `json:"supportCaseUrl,omitempty"`
	WorkItemSource string    `json:"workItemSource,omitempty"`
	Requester      Requester `json:"requester"`
	Duration       *int      `json:"duration,omitempty"`
	// Emergency, set by the provider's engineer, asks for break-glass
	// access: approved by provider-approvers under the provider's policy,
	// live at once, reviewed by the customer afterwards.
	Emergency *EmergencyInput `json:"emergency,omitempty"`
}

// DecisionInput is the body of lockbox-approve and lockbox-deny. Duration is
// only accepted by approve.
type DecisionInput struct {
	RequestID string `json:"requestId"`
	// TenantID names the tenant: required of the provider's approvers
	// (internal review); a customer's approver may only name their own.
	TenantID string `json:"tenantId,omitempty"`
	Reason   string `json:"reason"`
	Duration *int   `json:"duration,omitempty"`
	// Passkey, in a tenant that requires it (Settings.RequirePasskey), is
	// the decider's WebAuthn assertion over the decision's Statement.
	Passkey *PasskeyAssertion `json:"passkey,omitempty"`
}

// Field limits of the API contract.
const (
	MaxResourceIDs    = 50
	MaxJustification  = 4096
	MaxReason         = 4096
	MaxDurationHours  = 720
	maxIDLen          = 64
	maxTenantLen      = 64
	maxRequesterIDLen = 128
	maxShortText      = 256
	maxResourceIDLen  = 1024
	maxURLLen         = 2048
)

var (
	requestIDPattern = idShape{max: maxIDLen}                 // ^[A-Za-z0-9-]{1,64}$
	tenantPattern    = idShape{max: maxTenantLen, dots: true} // ^[A-Za-z0-9._-]{1,64}$
	tokenPattern     = idShape{max: 128, dots: true}          // ^[A-Za-z0-9._-]{1,128}$
)

// idShape is the shape of an id: 1..max bytes, each an ASCII letter, a
// digit or '-', and with dots '.' or '_' as well. Every call checks one or
// two: a loop over the bytes does it in a tenth of a regexp's time.
type idShape struct {
	max  int
	dots bool
}

// MatchString reports whether s has the shape.
func (p idShape) MatchString(s string) bool {
	if s == "" || len(s) > p.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		case p.dots && (c == '.' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// ValidRequestID reports whether id has the shape of a request id.
func ValidRequestID(id string) bool { return requestIDPattern.MatchString(id) }

// ValidTenantID reports whether id has the shape of a tenant id.
func ValidTenantID(id string) bool { return tenantPattern.MatchString(id) }

// ValidRequesterID reports whether id can be an identity (a requester's id,
// a token's sub, an approver's id): 1..128 visible characters, without
// spaces and without control, format or invisible characters, which would
// let two spellings that read alike name two people.
func ValidRequesterID(id string) bool {
	if id == "" || !utf8.ValidString(id) || utf8.RuneCountInString(id) > maxRequesterIDLen {
		return false
	}
	for _, r := range id {
		if invisible(r) {
			return false
		}
	}
	return true
}

// Validate checks in against the contract and reports the first problem as a
// KindInvalid error naming the field.
func (in CreateInput) Validate() error {
	switch {
	case !ValidTenantID(in.TenantID):
		return Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	case in.SubscriptionID != "" && !tokenPattern.MatchString(in.SubscriptionID):
		return Invalidf("subscriptionId must be 1..128 characters of [A-Za-z0-9._-]")
	case !text(in.ResourceType, 1, maxShortText, false):
		return Invalidf("resourceType must be 1..256 printable characters")
	case len(in.ResourceIDs) < 1 || len(in.ResourceIDs) > MaxResourceIDs:
		return Invalidf("resourceIds must hold 1..50 resource ids")
	case in.AccessLevel != "" && !tokenPattern.MatchString(in.AccessLevel):
		return Invalidf("accessLevel must be 1..128 characters of [A-Za-z0-9._-]")
	case !text(in.Justification, 1, MaxJustification, true):
		return Invalidf("justification must be 1..4096 characters without control characters")
	case !text(in.SupportRequest, 1, maxRequesterIDLen, false):
		return Invalidf("supportRequest must be 1..128 printable characters")
	case in.SupportCaseURL != "" && !validCaseURL(in.SupportCaseURL):
		return Invalidf("supportCaseUrl must be an absolute http or https URL of at most 2048 characters")
	case in.WorkItemSource != "" && !text(in.WorkItemSource, 1, maxShortText, false):
		return Invalidf("workItemSource must be at most 256 printable characters")
	case !ValidRequesterID(in.Requester.ID):
		return Invalidf("requester.id must be 1..128 visible characters without spaces or invisible characters")
	case in.Requester.DisplayName != "" && !text(in.Requester.DisplayName, 1, maxShortText, false):
		return Invalidf("requester.displayName must be at most 256 printable characters")
	case in.Requester.Email != "" && !validEmail(in.Requester.Email):
		return Invalidf("requester.email must be an email address")
	case in.Duration != nil && (*in.Duration < 1 || *in.Duration > MaxDurationHours):
		return Invalidf("duration must be a whole number of hours from 1 to 720")
	case in.Emergency != nil && in.Duration == nil:
		return Invalidf("duration is required for emergency access: name the hours it needs")
	}
	if err := in.Emergency.validate(); err != nil {
		return err
	}
	for _, id := range in.ResourceIDs {
		if !text(id, 1, maxResourceIDLen, false) {
			return Invalidf("each resourceIds entry must be 1..1024 printable characters")
		}
	}
	return nil
}

// Validate checks a decision body. allowDuration is false for deny.
func (in DecisionInput) Validate(allowDuration bool) error {
	switch {
	case !ValidRequestID(in.RequestID):
		return Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
	case in.TenantID != "" && !ValidTenantID(in.TenantID):
		return Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	case !text(in.Reason, 1, MaxReason, true):
		return Invalidf("reason must be 1..4096 characters without control characters")
	case in.Duration != nil && !allowDuration:
		return Invalidf("duration is only accepted when approving")
	case in.Duration != nil && (*in.Duration < 1 || *in.Duration > MaxDurationHours):
		return Invalidf("duration must be a whole number of hours from 1 to 720")
	case in.Passkey != nil:
		return in.Passkey.Validate()
	}
	return nil
}

// text reports whether s is valid UTF-8 of min..max characters with no
// control characters (multiline allows \n, \r and \t).
func text(s string, minLen, maxLen int, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	n := utf8.RuneCountInString(s)
	if n < minLen || n > maxLen {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return false
		}
	}
	return true
}

// printable reports whether s has only printable characters (spaces allowed
// only when spaces is true).
func printable(s string, spaces bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || (!spaces && unicode.IsSpace(r)) {
			return false
		}
	}
	return true
}

func validCaseURL(s string) bool {
	if len(s) > maxURLLen || !printable(s, false) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// CancelInput is the body of lockbox-cancel. TenantID names the tenant:
// requesters, operators and signed services act across tenants.
type CancelInput struct {
	RequestID string `json:"requestId"`
	Reason    string `json:"reason"`
	TenantID  string `json:"tenantId"`
}

// Validate checks a cancel body.
func (in CancelInput) Validate() error {
	if err := (DecisionInput{RequestID: in.RequestID, Reason: in.Reason}).Validate(false); err != nil {
		return err
	}
	if !ValidTenantID(in.TenantID) {
		return Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	}
	return nil
}
