// Package lockbox is the domain of Lockbox: lockbox requests, their states and
// the pure rules that move them from one state to another, the principals that
// may act on them and the audit events those actions produce.
//
// Nothing here talks to Redis or HTTP. The store implements each transition
// atomically; the scenario table in lockboxtest pins both to the same rules.
package lockbox

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Requester is the support engineer who will get access. Email, when given,
// is where they are told what became of their request.
type Requester struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
	Email       string `json:"email,omitempty"`
}

// Label shows the requester to people: the name once, then the id: "Sam
// Okafor (sam.okafor@support.example)", "Eve Engineer (eng-7)", or the id
// alone when there is no other name.
func (r Requester) Label() string {
	id, name := strings.TrimSpace(r.ID), strings.TrimSpace(r.DisplayName)
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}

// Decision records who approved or denied a request, why and when. A request
// that needs several approvers is decided by the last approval (or the
// deny); Closure records who revoked or canceled it.
type Decision struct {
	By       string    `json:"by"`
	Reason   string    `json:"reason"`
	DateTime time.Time `json:"dateTime"`
}

// Approval is one approver's approval of a request that needs several.
type Approval struct {
	By       string    `json:"by"`
	Reason   string    `json:"reason"`
	DateTime time.Time `json:"dateTime"`
	// Duration is the hours of access this approver allows: what was asked,
	// or less. The grant lasts the shortest of the approvals'.
	Duration int `json:"duration"`
}

// Request is a lockbox request as callers see it. Field names follow Azure's
// Microsoft.CustomerLockbox API where it has one.
type Request struct {
	RequestID                string     `json:"requestId"`
	TenantID                 string     `json:"tenantId"`
	SubscriptionID           string     `json:"subscriptionId,omitempty"`
	ResourceType             string     `json:"resourceType"`
	ResourceIDs              []string   `json:"resourceIds"`
	AccessLevel              string     `json:"accessLevel,omitempty"`
	Justification            string     `json:"justification"`
	SupportRequest           string     `json:"supportRequest"`
	SupportCaseURL           string     `json:"supportCaseUrl,omitempty"`
	WorkItemSource           string     `json:"workItemSource,omitempty"`
	Requester                Requester  `json:"requester"`
	Status                   Status     `json:"status"`
	CreatedDateTime          time.Time  `json:"createdDateTime"`
	ExpirationDateTime       time.Time  `json:"expirationDateTime"`
	Duration                 int        `json:"duration"`
	Decision                 *Decision  `json:"decision"`
	AccessExpirationDateTime *time.Time `json:"accessExpirationDateTime"`
	AccessActive             bool       `json:"accessActive"`
	// RequiredApprovals distinct approvers must approve (the tenant's
	// setting when the request was filed); Approvals is the progress.
	RequiredApprovals int        `json:"requiredApprovals"`
	Approvals         []Approval `json:"approvals"`
	// Closure records who revoked the grant or canceled the request.
	Closure *Decision `json:"closure"`
	// Usage is how the grant was used (lockbox-check, lockbox-credential),
	// counted in the same atomic steps; nil until its first use.
	Usage *Usage `json:"usage"`
	// FiledVia says how whoever filed the request authenticated (read-only):
	// FiledViaWebhook (the webhook secret of lockbox-create), "intake:<source>"
	// (a ticketing system's own webhook) or FiledViaToken (a person's or
	// tool's token).
	FiledVia string `json:"filedVia"`
	// ProviderChecks is what the provider's policy checked before the
	// customer was asked (ProviderPolicy); nil when no policy applies,
	// and then not part of the answer.
	ProviderChecks *ProviderChecks `json:"providerChecks,omitempty"`
	// PasskeySignatures are the decisions on the request signed with a
	// passkey (read-only), oldest first.
	PasskeySignatures []PasskeySignature `json:"passkeySignatures,omitempty"`
	// Emergency is the break-glass access the request asked for; nil for
	// an ordinary request, and then not part of the answer.
	Emergency *Emergency `json:"emergency,omitempty"`

	// Grant is the access lifetime an approval without a duration gives,
	// before the max_access_ttl cap: Duration hours when the caller asked
	// for a duration, access_ttl otherwise. Not part of the API.
	Grant time.Duration `json:"-"`
	// FiledBy is the key (Principal.Key) of whoever filed the request: a
	// ticketing system, an operator, the engineer. Not part of the API.
	FiledBy string `json:"-"`
	// AssertedSource is the work item source that a signed integration
	// asserted when filing (see FiledAs), the only one a rule's
	// workItemSources matches; "" when a person's token filed it. Not part
	// of the API, and not stored: rules are applied as a request is filed.
	AssertedSource string `json:"-"`
	// MaxGrant caps the grant (the tenant's maxDuration when the request
	// was filed); 0 when only the global cap applies. Not part of the API.
	MaxGrant time.Duration `json:"-"`
	// Reminders are when, before its window closes, the approvers are
	// reminded, and EscalateAfter when after filing the escalation contacts
	// are told (0: never): the tenant's settings when it was filed. Not
	// part of the API.
	Reminders     []time.Duration `json:"-"`
	EscalateAfter time.Duration   `json:"-"`
}

// How a request was filed (Request.FiledVia); an intake source's filings
// are "intake:<source>".
const (
	FiledViaWebhook = "webhook"
	FiledViaToken   = "token"
)

// FiledAs returns r as filed by p: who filed it (FiledBy, p's key), how
// (FiledVia) and the work item source it asserts (AssertedSource). Only a
// signed integration asserts a source: the webhook secret signs the body,
// so its workItemSource is the system's word; an intake source asserts its
// own kind (jira, github…), whatever the ticket says. A person's token
// asserts none, so a typed workItemSource never satisfies a rule.
func (r Request) FiledAs(p Principal) Request {
	r.FiledBy = p.Key()
	r.FiledVia, r.AssertedSource = FiledViaToken, ""
	if p.Kind == KindService {
		r.FiledVia = p.Subject
		r.AssertedSource = r.WorkItemSource
		if p.Source != "" {
			r.AssertedSource = p.Source
		}
	}
	return r
}

// Involves reports whether the principal with key (Principal.Key) filed r or
// is its requester: segregation of duties keeps them from deciding it.
func (r Request) Involves(key string) bool {
	return key != "" && (key == r.FiledBy || key == UserKey(r.Requester.ID))
}

// ApprovedBy reports whether the principal with key (Principal.Key)
// approved r already (a quorum in progress).
func (r Request) ApprovedBy(key string) bool {
	for _, a := range r.Approvals {
		if UserKey(a.By) == key {
			return true
		}
	}
	return false
}

// Limits are the configured lifetimes.
type Limits struct {
	PendingTTL   time.Duration // the approval window (pending_ttl, 96h)
	AccessTTL    time.Duration // the grant when no duration is asked (access_ttl, 8h)
	MaxAccessTTL time.Duration // caps every grant (max_access_ttl, 24h)
	// InternalReviewTTL is how long the provider's internal review may take
	// (internal_review_ttl, 24h) before the request expires unreviewed.
	InternalReviewTTL time.Duration
	// EmergencyReviewTTL is how long the customer has to review emergency
	// access once it is live (review_ttl, 72h) before it is escalated.
	EmergencyReviewTTL time.Duration
}

// DefaultLimits are Azure Customer Lockbox's timings.
var DefaultLimits = Limits{PendingTTL: 96 * time.Hour, AccessTTL: 8 * time.Hour, MaxAccessTTL: 24 * time.Hour,
	InternalReviewTTL: 24 * time.Hour, EmergencyReviewTTL: 72 * time.Hour}

// NewRequest builds the Pending request that in describes, filed at now.
// in must have passed Validate. Times are kept to the millisecond, the
// resolution the store keeps.
func NewRequest(in CreateInput, id string, now time.Time, lim Limits) Request {
	now = now.UTC().Truncate(time.Millisecond)
	r := Request{
		RequestID:          id,
		TenantID:           in.TenantID,
		SubscriptionID:     in.SubscriptionID,
		ResourceType:       in.ResourceType,
		ResourceIDs:        in.ResourceIDs,
		AccessLevel:        in.AccessLevel,
		Justification:      in.Justification,
		SupportRequest:     in.SupportRequest,
		SupportCaseURL:     in.SupportCaseURL,
		WorkItemSource:     in.WorkItemSource,
		Requester:          in.Requester,
		Status:             StatusPending,
		CreatedDateTime:    now,
		ExpirationDateTime: now.Add(lim.PendingTTL),
		RequiredApprovals:  1,
		Approvals:          []Approval{},
	}
	if e := in.Emergency; e != nil {
		r.Emergency = &Emergency{Incident: e.Incident, Reason: e.Reason}
	}
	if in.Duration != nil {
		r.Duration = *in.Duration
		r.Grant = time.Duration(*in.Duration) * time.Hour
	} else {
		r.Duration = hoursCeil(lim.AccessTTL)
		r.Grant = lim.AccessTTL
	}
	return r
}

// Govern applies what a tenant's settings say about r when it is filed: how
// many must approve it and the cap on its grant.
func (r Request) Govern(s Settings) Request {
	r.RequiredApprovals = max(s.RequiredApprovals, 1)
	r.MaxGrant = 0
	if s.MaxDuration != nil {
		r.MaxGrant = time.Duration(*s.MaxDuration) * time.Hour
	}
	window := r.ExpirationDateTime.Sub(r.CreatedDateTime)
	r.Reminders = nil
	for _, v := range s.Reminders {
		if d, err := time.ParseDuration(v); err == nil && d > 0 && d < window {
			r.Reminders = append(r.Reminders, d)
		}
	}
	r.EscalateAfter = 0
	if e := s.Escalation; e != nil {
		if d, err := time.ParseDuration(e.After); err == nil && d > 0 && d < window {
			r.EscalateAfter = d
		}
	}
	return r
}

func hoursCeil(d time.Duration) int {
	h := int((d + time.Hour - 1) / time.Hour)
	return max(h, 1)
}

// Effective returns r as it stands at now: a Pending request past its window
// is Expired and an Approved one past its grant is Completed, whether or not a
// sweep has recorded it yet. AccessActive is true exactly while a grant lives.
func (r Request) Effective(now time.Time) Request {
	grantLive := r.AccessExpirationDateTime != nil && now.Before(*r.AccessExpirationDateTime)
	r.Status = EffectiveStatus(r.Status, now.Before(r.ExpirationDateTime), grantLive)
	r.AccessActive = r.Status == StatusApproved
	return r
}

// NewID returns a fresh request id: a random (version 4) UUID from crypto/rand.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
