package lockbox

import (
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// NotificationType is what someone is told about a request. A webhook
// subscribes to the ones in NotificationTypes (its "type" is
// "lockbox.request.<type>"); the others go by mail only.
type NotificationType string

// The notification types.
const (
	NoteCreated   NotificationType = "created"   // approvers (mail), webhooks
	NoteApproved  NotificationType = "approved"  // the requester (mail), webhooks
	NoteDenied    NotificationType = "denied"    // the requester (mail), webhooks
	NoteExpired   NotificationType = "expired"   // the requester (mail), webhooks
	NoteCompleted NotificationType = "completed" // the requester (mail), webhooks
	NoteRevoked   NotificationType = "revoked"   // the requester (mail), webhooks
	NoteCanceled  NotificationType = "canceled"  // approvers (mail), webhooks
	NoteReminder  NotificationType = "reminder"  // approvers (mail), webhooks: the approval window closes soon
	NoteEscalated NotificationType = "escalated" // escalation contacts (mail), webhooks: nobody decided in time
	// NoteApproval is a step towards a quorum: the approvers are told who
	// approved and how many approvals are still needed (mail only).
	NoteApproval NotificationType = "approval"
	// NoteEnding tells the requester their grant ends in 30 minutes (mail
	// only).
	NoteEnding NotificationType = "ending"
	// NoteReceipt is a grant's access receipt, sent when the grant ends
	// (completed or revoked): how it was used, per resource, and the
	// credentials issued. The approvers and the requester (mail), webhooks.
	NoteReceipt NotificationType = "receipt"
	// NoteLockdown and NoteLockdownLifted are the tenant's, not a
	// request's (their requestId is ""): its admin locked it down, or
	// lifted the lockdown. The approvers (mail), webhooks (type
	// "lockbox.tenant.lockdown", "lockbox.tenant.lockdownLifted").
	NoteLockdown       NotificationType = "lockdown"
	NoteLockdownLifted NotificationType = "lockdownLifted"
	// NoteEmergency: the provider's emergency access went live without the
	// customer (break-glass). The approvers and the escalation contacts
	// (mail), webhooks ("lockbox.emergency.granted"): review it.
	NoteEmergency NotificationType = "emergency"
	// NoteEmergencyDisputed: the customer disputed emergency access. The
	// approvers (mail), webhooks, the provider's among them
	// ("lockbox.emergency.disputed").
	NoteEmergencyDisputed NotificationType = "emergencyDisputed"
	// NoteEmergencyUnreviewed: nobody reviewed emergency access within
	// review_ttl. The escalation contacts and the approvers (mail),
	// webhooks ("lockbox.emergency.unreviewed").
	NoteEmergencyUnreviewed NotificationType = "emergencyUnreviewed"
	// NoteEmergencyRequested: an engineer filed emergency access, which
	// waits for the provider's approvers. The provider-wide webhook only
	// ("lockbox.emergency.requested"), so that they are paged at once; the
	// customer hears of it when it goes live (NoteEmergency).
	NoteEmergencyRequested NotificationType = "emergencyRequested"
)

// ProviderOnly reports whether n goes to the provider-wide webhook alone:
// nothing of it reaches the tenant's mail or webhooks.
func (n Notification) ProviderOnly() bool { return n.Type == NoteEmergencyRequested }

// EndingNotice is how long before a grant ends the requester is told.
const EndingNotice = 30 * time.Minute

// Notification is one thing someone must hear about a request: what
// happened, to which request (as it stands when the notification is
// delivered), when, and by whom.
type Notification struct {
	// ID identifies the notification (its outbox entry); with a recipient
	// and a channel it identifies a delivery, so a delivery sent again
	// carries the same Message-ID or webhook-id.
	ID      string
	Type    NotificationType
	Request Request
	Time    time.Time // when the change happened, or the reminder fell due
	Actor   Actor     // who caused it (system for rules, time and reminders)
	Reason  string    // the decision's or closure's reason
}

// TenantWide reports whether n is about its tenant rather than one request
// (a lockdown, or its lift): its Request holds only the TenantID.
func (n Notification) TenantWide() bool {
	return n.Type == NoteLockdown || n.Type == NoteLockdownLifted
}

// ByLockdown reports whether n is a request canceled by the tenant's admin:
// only a lockdown cancels as the admin, and it tells the requester (the
// approvers hear of the lockdown once, NoteLockdown).
func (n Notification) ByLockdown() bool {
	return n.Type == NoteCanceled && n.Actor.Kind == ActorAdmin
}

// TenantLink is the portal's page of a tenant's settings and lockdown
// under the portal's public base URL; "" without one.
func TenantLink(base string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/settings"
}

// Auto reports whether a rule, or Lockbox being off, decided the request.
func (n Notification) Auto() bool {
	return n.Actor.Kind == ActorSystem && (n.Type == NoteApproved || n.Type == NoteDenied)
}

// PortalLink is the portal's page of request id under the portal's public
// base URL (portal_url); "" without one.
func PortalLink(base, id string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/requests/" + url.PathEscape(id)
}

// Note is what an action tells people about: approve tells of the approval
// (NoteApproved once the quorum is reached; a step before it is
// NoteApproval), deny of the denial, and so on. The store records it in
// the same step as the action.
func (a Action) Note() NotificationType {
	return map[Action]NotificationType{
		ActionApprove: NoteApproved, ActionAutoApprove: NoteApproved, ActionDeny: NoteDenied, ActionAutoDeny: NoteDenied,
		ActionRevoke: NoteRevoked, ActionCancel: NoteCanceled, ActionExpire: NoteExpired, ActionComplete: NoteCompleted,
		ActionEmergencyApprove: NoteEmergency,
	}[a]
}

// EndsGrant reports whether action a ends a live grant (revoke, complete):
// the store then records the grant's access receipt (NoteReceipt) in the
// same step, besides a.Note().
func (a Action) EndsGrant() bool {
	tr, ok := Transitions[a]
	return ok && tr.From == StatusApproved
}

// The channels a notification is delivered on.
const (
	ChannelMail    = "mail"
	ChannelWebhook = "webhook"
)

// DeliveryState is where a delivery stands.
type DeliveryState string

// The delivery states: pending (not tried yet), sending (claimed by a
// lockbox-notify run), sent, retrying (failed, tried again later), failed
// (for good: permanently refused, or still failing after RetryFor; it is
// dead-lettered).
const (
	DeliveryPending  DeliveryState = "pending"
	DeliverySending  DeliveryState = "sending"
	DeliverySent     DeliveryState = "sent"
	DeliveryRetrying DeliveryState = "retrying"
	DeliveryFailed   DeliveryState = "failed"
)

// RetryFor is how long a failing delivery is retried before it is
// dead-lettered.
const RetryFor = 24 * time.Hour

// Delivery is one notification to one recipient on one channel. Its ID is
// derived from the notification's and the recipient's, so that a delivery
// sent again (after a crash) carries the same Message-ID or webhook-id.
type Delivery struct {
	ID           string
	Notification Notification // what to tell (its Request holds only the ids until it is sent)
	Channel      string       // ChannelMail or ChannelWebhook
	// Target is the mail address, or the tenant's webhook id
	// (ProviderWebhook for the provider-wide one).
	Target    string
	State     DeliveryState
	Attempts  int
	LastError string
	Created   time.Time
	Updated   time.Time
	Next      time.Time // when it is tried next (pending, retrying)
}

// ProviderWebhook is the Target of deliveries to the provider-wide webhook
// (notify_webhook_url).
const ProviderWebhook = "provider"

// Backoff is how long after its attempts-th failed attempt a delivery is
// tried again: 30 s, doubling, at most an hour.
func Backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for range max(attempts-1, 0) {
		if d *= 2; d >= time.Hour {
			return time.Hour
		}
	}
	return d
}

// Recipient is how a delivery's recipient may be shown: a mail address
// masked (MaskAddress), a webhook by its id.
func (d Delivery) Recipient() string {
	if d.Channel != ChannelMail {
		return d.Channel + " " + d.Target
	}
	return MaskAddress(d.Target)
}

// MaskAddress hides most of a mail address for delivery records and logs:
// the first character of the local part stays, the domain stays
// ("alice@contoso.example" → "a***@contoso.example"). Something that is no
// address becomes "***".
func MaskAddress(addr string) string {
	addr = strings.TrimSpace(addr)
	if p, err := mail.ParseAddress(addr); err == nil {
		addr = p.Address
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "***"
	}
	first, _ := utf8.DecodeRuneInString(addr)
	return string(first) + "***" + addr[at:]
}
