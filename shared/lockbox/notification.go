package lockbox

import (
	"net/url"
	"strings"
	"time"
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
)

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
