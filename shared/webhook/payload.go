package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"lockbox.dev/shared/lockbox"
)

// TypePrefix starts the "type" of a standard delivery:
// "lockbox.request.created", "lockbox.request.approved", …
const TypePrefix = "lockbox.request."

// Wants reports whether w subscribed to notifications of type t: one of
// lockbox.NotificationTypes that w lists in Events, or any of them when
// Events is empty. The mail-only types (quorum steps, "grant ends soon")
// never go to webhooks.
func Wants(w lockbox.Webhook, t lockbox.NotificationType) bool {
	if !slices.Contains(lockbox.NotificationTypes, string(t)) {
		return false
	}
	return len(w.Events) == 0 || slices.Contains(w.Events, string(t))
}

// Payload returns the body of n's delivery in format (lockbox.FormatStandard,
// FormatSlack or FormatTeams); portalURL is the portal's public base URL, ""
// for none (then the Slack and Teams messages have no button).
//
//   - standard: {"type": "lockbox.request.<type>", "timestamp": <n.Time, RFC
//     3339>, "data": <the request as the API returns it>};
//   - slack: an incoming-webhook message, {"text": <a one-line fallback>,
//     "blocks": [header, facts, resources, justification, reason, a button
//     to the portal]}, user text escaped for mrkdwn and cut to Slack's limits;
//   - teams: a message with one Adaptive Card 1.2 (a title, a FactSet, the
//     resources, the justification and an Action.OpenUrl to the portal), user
//     text escaped for the card's Markdown.
//
// Only the types in lockbox.NotificationTypes, and those for the provider
// alone (Notification.ProviderOnly), have a payload.
func Payload(format string, n lockbox.Notification, portalURL string) ([]byte, error) {
	if !slices.Contains(lockbox.NotificationTypes, string(n.Type)) && !n.ProviderOnly() {
		return nil, fmt.Errorf("webhook payload: notification type %q does not go to webhooks", n.Type)
	}
	var v any
	switch format {
	case lockbox.FormatStandard:
		if n.TenantWide() {
			v = standardMessage{Type: TenantTypePrefix + string(n.Type), Timestamp: n.Time.UTC(),
				Data: tenantData{TenantID: n.Request.TenantID, By: n.Actor.ID, Reason: n.Reason}}
		} else {
			v = standardMessage{Type: StandardType(n.Type), Timestamp: n.Time.UTC(), Data: n.Request}
		}
	case lockbox.FormatSlack:
		v = slackMessageOf(summarize(n), link(n, portalURL))
	case lockbox.FormatTeams:
		v = teamsMessageOf(summarize(n), link(n, portalURL))
	default:
		return nil, fmt.Errorf("webhook payload: unknown format %q", format)
	}
	body, err := marshal(v)
	if err != nil {
		return nil, fmt.Errorf("webhook payload (%s): %w", format, err)
	}
	return body, nil
}

// emergencyTypes are the standard "type" of the notifications about
// emergency access (break-glass): "lockbox.emergency.<what>".
var emergencyTypes = map[lockbox.NotificationType]string{
	lockbox.NoteEmergency:           "lockbox.emergency.granted",
	lockbox.NoteEmergencyDisputed:   "lockbox.emergency.disputed",
	lockbox.NoteEmergencyUnreviewed: "lockbox.emergency.unreviewed",
	lockbox.NoteEmergencyRequested:  "lockbox.emergency.requested",
}

// StandardType is the "type" of a standard delivery about one request:
// "lockbox.request.<type>", or for emergency access
// "lockbox.emergency.granted", "lockbox.emergency.disputed",
// "lockbox.emergency.unreviewed" and, for the provider alone,
// "lockbox.emergency.requested".
func StandardType(t lockbox.NotificationType) string {
	if name, ok := emergencyTypes[t]; ok {
		return name
	}
	return TypePrefix + string(t)
}

// TenantTypePrefix starts the "type" of a standard delivery about a tenant
// rather than a request: "lockbox.tenant.lockdown",
// "lockbox.tenant.lockdownLifted".
const TenantTypePrefix = "lockbox.tenant."

// standardMessage is a delivery in the standard format: its data is the
// request, or for a tenant's own notification a tenantData.
type standardMessage struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// tenantData is the data of a tenant's own notification: the tenant, who
// acted and why (a lockdown's reason names its until).
type tenantData struct {
	TenantID string `json:"tenantId"`
	By       string `json:"by"`
	Reason   string `json:"reason"`
}

// link is the portal page a message links to: the request's, or for a
// tenant's own notification its settings page.
func link(n lockbox.Notification, portalURL string) string {
	if n.TenantWide() {
		return lockbox.TenantLink(portalURL)
	}
	return lockbox.PortalLink(portalURL, n.Request.RequestID)
}

// marshal encodes v as the API does: without HTML escaping (a '<' costs one
// byte, not six) and without a trailing newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// summary is what the chat formats show of a notification, before escaping.
// Resources are listed under ResourcesLabel: "Resources", or a receipt's
// "Access used", each resource with its use.
type summary struct {
	Title          string
	Tenant         string
	Facts          []fact
	ResourcesLabel string
	ResourceType   string
	Resources      []string
	Justification  string
	ReasonLabel    string
	Reason         string
}

// fact is one labelled value; Link, when set, is an http(s) URL the value
// links to.
type fact struct {
	Label, Value, Link string
}

// titles are the headlines of the notification types.
var titles = map[lockbox.NotificationType]string{
	lockbox.NoteCreated:   "New access request",
	lockbox.NoteApproved:  "Access request approved",
	lockbox.NoteDenied:    "Access request denied",
	lockbox.NoteExpired:   "Access request expired: nobody decided in time",
	lockbox.NoteCompleted: "Access ended",
	lockbox.NoteRevoked:   "Access revoked",
	lockbox.NoteCanceled:  "Access request canceled",
	lockbox.NoteReminder:  "Reminder: access request awaiting approval",
	lockbox.NoteEscalated: "Escalation: access request not decided",
	lockbox.NoteReceipt:   "Access receipt",
	// A tenant's own.
	lockbox.NoteLockdown:       "Tenant locked down: all provider access stopped",
	lockbox.NoteLockdownLifted: "Tenant lockdown lifted",
	// Emergency access.
	lockbox.NoteEmergency:           "Emergency access granted without your approval: review it",
	lockbox.NoteEmergencyDisputed:   "Emergency access disputed by the customer",
	lockbox.NoteEmergencyUnreviewed: "Escalation: emergency access not reviewed",
	lockbox.NoteEmergencyRequested:  "Emergency access requested: the provider's approvers must decide",
}

// byLabels name who acted, for the types an actor decides.
var byLabels = map[lockbox.NotificationType]string{
	lockbox.NoteApproved: "Approved by",
	lockbox.NoteDenied:   "Denied by",
	lockbox.NoteRevoked:  "Revoked by",
	lockbox.NoteCanceled: "Canceled by",
	// A tenant's own.
	lockbox.NoteLockdown:       "Locked down by",
	lockbox.NoteLockdownLifted: "Lifted by",
	// Emergency access.
	lockbox.NoteEmergencyDisputed: "Disputed by",
}

// summarize picks what a person needs to see of n.
func summarize(n lockbox.Notification) summary {
	r := n.Request
	s := summary{
		Title:          titles[n.Type],
		Tenant:         r.TenantID,
		ResourcesLabel: "Resources",
		ResourceType:   r.ResourceType,
		Resources:      r.ResourceIDs,
		Justification:  r.Justification,
	}
	if n.Auto() {
		s.Title += " automatically"
	}
	requester := r.Requester.ID
	if r.Requester.DisplayName != "" {
		requester = r.Requester.DisplayName + " (" + r.Requester.ID + ")"
	}
	add := func(label, value string) {
		if value != "" {
			s.Facts = append(s.Facts, fact{Label: label, Value: value})
		}
	}
	add("Tenant", r.TenantID)
	if r.SupportRequest != "" {
		s.Facts = append(s.Facts, fact{Label: "Support case", Value: r.SupportRequest, Link: caseLink(r.SupportCaseURL)})
	}
	add("Requester", requester)
	add("Access level", r.AccessLevel)
	add("Status", string(r.Status))
	if r.Duration > 0 {
		add("Duration", strconv.Itoa(r.Duration)+" h")
	}
	if r.RequiredApprovals > 1 {
		add("Approvals", fmt.Sprintf("%d of %d", len(r.Approvals), r.RequiredApprovals))
	}
	switch n.Type {
	case lockbox.NoteCreated, lockbox.NoteReminder, lockbox.NoteEscalated:
		if !r.ExpirationDateTime.IsZero() {
			add("Approval window closes", utc(r.ExpirationDateTime))
		}
	case lockbox.NoteApproved, lockbox.NoteCompleted, lockbox.NoteRevoked, lockbox.NoteReceipt:
		if r.AccessExpirationDateTime != nil {
			label := "Access until"
			if n.Type != lockbox.NoteApproved {
				label = "Access ended"
			}
			add(label, utc(*r.AccessExpirationDateTime))
		}
	}
	if e := r.Emergency; e != nil {
		add("Incident", e.Incident)
		add("Emergency reason", e.Reason)
		if pc := r.ProviderChecks; pc != nil {
			by := make([]string, len(pc.InternalApprovals))
			for i, a := range pc.InternalApprovals {
				by[i] = a.By
			}
			add("Approved by the provider", strings.Join(by, ", "))
		}
		if r.AccessExpirationDateTime != nil && n.Type == lockbox.NoteEmergency {
			add("Access until", utc(*r.AccessExpirationDateTime))
		}
		if e.ReviewDueDateTime != nil && e.Review == nil {
			add("Review due", utc(*e.ReviewDueDateTime))
		}
	}
	if label, ok := byLabels[n.Type]; ok {
		if n.Auto() {
			label = "Decided by"
		}
		add(label, n.Actor.ID)
	}
	if n.Type == lockbox.NoteReceipt {
		receipt(&s, n, add)
	}
	if n.Reason != "" {
		s.ReasonLabel, s.Reason = "Reason", n.Reason
	}
	return s
}

// receipt adds what a receipt tells to s: who revoked the grant, and how
// it was used: each resource with its checks and first and last use (or
// "not used") and the SSH certificates issued, or that it was not used.
func receipt(s *summary, n lockbox.Notification, add func(label, value string)) {
	r := n.Request
	if r.Status == lockbox.StatusRevoked {
		add("Revoked by", n.Actor.ID)
	}
	u := r.Usage
	if u == nil || (u.Checks == 0 && u.Credentials == 0) {
		s.Title += ": grant not used"
		add("Access used", "Not used: no check allowed access to any of its resources, and no credential was issued")
		return
	}
	byID := map[string]lockbox.ResourceUsage{}
	for _, ru := range u.Resources {
		byID[ru.ResourceID] = ru
	}
	s.ResourcesLabel, s.Resources = "Access used", make([]string, len(r.ResourceIDs))
	for i, id := range r.ResourceIDs {
		use := "not used"
		switch ru, ok := byID[id]; {
		case !ok || ru.Checks == 0:
		case ru.Checks == 1:
			use = "1 check, at " + utc(ru.FirstUseDateTime)
		case utc(ru.FirstUseDateTime) == utc(ru.LastUseDateTime):
			use = fmt.Sprintf("%d checks, at %s", ru.Checks, utc(ru.FirstUseDateTime))
		default:
			use = fmt.Sprintf("%d checks, first %s, last %s", ru.Checks, utc(ru.FirstUseDateTime), utc(ru.LastUseDateTime))
		}
		s.Resources[i] = id + ": " + use
	}
	certificates := "none"
	switch {
	case u.Credentials == 1:
		certificates = "1 SSH certificate"
	case u.Credentials > 1:
		certificates = strconv.Itoa(u.Credentials) + " SSH certificates"
	}
	add("Credentials issued", certificates)
}

// oneLine is the fallback text of a message: its title, tenant, support
// case and requester.
func (s summary) oneLine() string {
	parts := []string{"tenant " + s.Tenant}
	for _, f := range s.Facts {
		switch f.Label {
		case "Support case":
			parts = append(parts, "support case "+f.Value)
		case "Requester":
			parts = append(parts, "requested by "+f.Value)
		}
	}
	return s.Title + ": " + strings.Join(parts, ", ")
}

// utc formats t for people: minutes, in UTC, said so.
func utc(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// caseLink returns raw if it is an absolute http(s) URL, "" otherwise.
func caseLink(raw string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return raw
}

// ellipsis ends text that was cut.
const ellipsis = "…"

// clip returns s with every rune escaped by esc, at most limit runes long:
// text that does not fit is cut after the last escaped rune that fits with
// an ellipsis (never inside an escape), trailing spaces dropped.
func clip(s string, limit int, esc func(rune) string) string {
	var pieces []string
	n := 0
	for _, r := range s {
		e := esc(r)
		k := utf8.RuneCountInString(e)
		if n+k > limit {
			for n+1 > limit && len(pieces) > 0 {
				n -= utf8.RuneCountInString(pieces[len(pieces)-1])
				pieces = pieces[:len(pieces)-1]
			}
			return strings.TrimRightFunc(strings.Join(pieces, ""), unicode.IsSpace) + ellipsis
		}
		pieces = append(pieces, e)
		n += k
	}
	return strings.Join(pieces, "")
}

// list renders items one a line, each as prefix + the escaped item, within
// limit runes in all: the items that do not fit are counted in a last line,
// "… and N more". An item too long for a line of its own is clipped.
func list(items []string, prefix string, limit int, esc func(rune) string) string {
	reserve := utf8.RuneCountInString(moreLine(len(items))) + 1
	perItem := limit - reserve - utf8.RuneCountInString(prefix) - 1
	var b strings.Builder
	used := 0
	for i, it := range items {
		line := prefix + clip(it, perItem, esc)
		k := utf8.RuneCountInString(line)
		if i > 0 {
			k++ // the newline before it
		}
		need := used + k
		if i < len(items)-1 {
			need += reserve
		}
		if need > limit {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(moreLine(len(items) - i))
			return b.String()
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
		used += k
	}
	return b.String()
}

func moreLine(n int) string {
	return fmt.Sprintf("%s and %d more", ellipsis, n)
}
