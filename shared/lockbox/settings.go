package lockbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // rules' schedules name IANA time zones; the function images have no tz database
)

// Settings is a tenant's settings document (lockbox-settings): whether
// Lockbox is on, who is told about requests, how many must approve, which
// requests rules decide, and where notifications go. A tenant that never
// saved settings has DefaultSettings. Requests take what applies to them
// (required approvals, the cap on grants, a rule's decision) when they are
// filed: a later change never alters them.
type Settings struct {
	// Enabled: Lockbox is on for the tenant. Off, a request is recorded and
	// approved at once by the system (AutoApproveLockboxRequest), so the
	// audit trail stays whole.
	Enabled bool `json:"enabled"`
	// Approvers are notified of requests; authority to decide still comes
	// from a token's role.
	Approvers  []Approver  `json:"approvers"`
	Escalation *Escalation `json:"escalation"`
	// Reminders are offsets before the approval window closes (Go
	// durations, e.g. "24h") at which approvers are reminded.
	Reminders []string `json:"reminders"`
	// RequiredApprovals distinct approvers must approve (1..5); one deny
	// denies.
	RequiredApprovals int `json:"requiredApprovals"`
	// MaxDuration, in hours, caps every grant in the tenant (never above
	// the global max_access_ttl); nil for the global cap alone.
	MaxDuration *int      `json:"maxDuration"`
	Rules       []Rule    `json:"rules"`
	Webhooks    []Webhook `json:"webhooks"`
	// RequirePasskey makes approve, deny and revoke need a WebAuthn
	// assertion from a passkey the decider registered (true, or a list of
	// access levels); absent or false for none.
	RequirePasskey *PasskeyRequirement `json:"requirePasskey,omitempty"`
	// BreakGlass says whether the provider's emergency access may reach
	// the tenant: BreakGlassAllow (or absent) under the provider's policy,
	// BreakGlassDeny never (an emergency filing is refused, 403).
	BreakGlass string `json:"breakGlass,omitempty"`

	// Read-only: set by the store on every change.
	Version         int64      `json:"version"`
	UpdatedDateTime *time.Time `json:"updatedDateTime"`
	UpdatedBy       string     `json:"updatedBy"`
}

// Approver is someone notified of a tenant's requests.
type Approver struct {
	ID             string `json:"id"`
	Email          string `json:"email"`
	AlternateEmail string `json:"alternateEmail,omitempty"`
	DisplayName    string `json:"displayName,omitempty"`
}

// Escalation says whom to tell when nobody decided a request in time.
type Escalation struct {
	After    string    `json:"after"` // a Go duration after filing, e.g. "24h"
	Contacts []Contact `json:"contacts"`
}

// Contact is someone to notify.
type Contact struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// The effects of a rule.
const (
	EffectAutoApprove = "autoApprove"
	EffectAutoDeny    = "autoDeny"
)

// Rule decides a request when it is filed, if it matches: rules are tried in
// order and the first match wins.
type Rule struct {
	Name   string    `json:"name"`
	Effect string    `json:"effect"`
	Match  RuleMatch `json:"match"`
	// UpdatedBy (read-only) is who last changed the rule: it never
	// auto-approves a request they filed or that was filed for them.
	UpdatedBy string `json:"updatedBy,omitempty"`
}

// RuleMatch lists what a request must have for a rule to match: every
// criterion given (one of the values, for lists); an empty match matches
// every request.
type RuleMatch struct {
	ResourceTypes []string `json:"resourceTypes,omitempty"` // case-insensitive
	AccessLevels  []string `json:"accessLevels,omitempty"`  // case-insensitive
	// WorkItemSources match the source a signed integration asserted
	// (Request.AssertedSource), case-insensitively; never a request filed
	// with a person's token.
	WorkItemSources []string `json:"workItemSources,omitempty"`
	RequesterIDs    []string `json:"requesterIds,omitempty"` // as identities (CanonicalID)
	// MissingSupportCaseURL: true matches requests without a support case
	// link, false those with one.
	MissingSupportCaseURL *bool     `json:"missingSupportCaseUrl,omitempty"`
	Schedule              *Schedule `json:"schedule,omitempty"`
}

// Schedule is a weekly window in a time zone: a request filed on one of
// Days between From and To (local time; To before From wraps past
// midnight) is inside it. Outside inverts the match.
type Schedule struct {
	Timezone string   `json:"timezone"` // IANA, e.g. "Europe/Berlin"
	Days     []string `json:"days"`     // "Mon".."Sun"
	From     string   `json:"from"`     // "HH:MM"
	To       string   `json:"to"`       // "HH:MM", 24:00 allowed
	Outside  bool     `json:"outside"`
}

// The notification formats of a webhook.
const (
	FormatStandard = "standard"
	FormatSlack    = "slack"
	FormatTeams    = "teams"
)

// Webhook is an endpoint told about the tenant's requests.
type Webhook struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Format string   `json:"format"`
	Events []string `json:"events,omitempty"` // notification types; all when empty
	// Secret signs deliveries (Standard Webhooks, "whsec_<base64>"). It is
	// write-only: never returned; a PUT that leaves it out keeps the one
	// stored for the webhook's id.
	Secret string `json:"secret,omitempty"`
}

// NotificationTypes are the kinds of notification a webhook may subscribe
// to (the "type" of a standard delivery is "lockbox.request.<type>").
var NotificationTypes = []string{"created", "approved", "denied", "expired", "completed", "revoked", "canceled", "reminder", "escalated", "receipt", "lockdown", "lockdownLifted",
	"emergency", "emergencyDisputed", "emergencyUnreviewed"}

// Limits of the settings document.
const (
	MaxApprovers         = 50
	MaxRules             = 20
	MaxWebhooks          = 10
	MaxRequiredApprovals = 5
	maxReminders         = 5
	maxContacts          = 10
	maxMatchValues       = 50
)

// DefaultSettings are the settings of a tenant that never saved any;
// enabled is the deployment's default_enabled.
func DefaultSettings(enabled bool) Settings {
	return Settings{Enabled: enabled, Approvers: []Approver{}, Reminders: []string{"24h", "2h"}, RequiredApprovals: 1,
		Rules: []Rule{}, Webhooks: []Webhook{}}
}

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	clockPattern  = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$`)
	weekdayByName = map[string]time.Weekday{"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday,
		"Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday}
)

// WebhookSecretPrefix starts every webhook secret (Standard Webhooks).
const WebhookSecretPrefix = "whsec_"

// Validate checks s as a PUT gives it and reports the first problem as a
// KindInvalid error naming the field ("rules[2].match.schedule.timezone:
// …"). allowPlainHTTP accepts http:// webhook URLs (webhook_allow_private,
// for local receivers); whether a URL's host is private is checked where
// names are resolved, not here.
func (s Settings) Validate(allowPlainHTTP bool) error {
	if len(s.Approvers) > MaxApprovers {
		return Invalidf("approvers: at most %d", MaxApprovers)
	}
	for i, a := range s.Approvers {
		f := fmt.Sprintf("approvers[%d]", i)
		switch {
		case !ValidRequesterID(a.ID):
			return Invalidf("%s.id must be 1..128 visible characters without spaces or invisible characters", f)
		case !validEmail(a.Email):
			return Invalidf("%s.email must be an email address", f)
		case a.AlternateEmail != "" && !validEmail(a.AlternateEmail):
			return Invalidf("%s.alternateEmail must be an email address", f)
		case a.DisplayName != "" && !text(a.DisplayName, 1, maxShortText, false):
			return Invalidf("%s.displayName must be at most 256 printable characters", f)
		}
	}
	if e := s.Escalation; e != nil {
		if d, err := time.ParseDuration(e.After); err != nil || d < time.Minute || d > 30*24*time.Hour {
			return Invalidf("escalation.after must be a Go duration from 1m to 720h, e.g. \"24h\"")
		}
		if len(e.Contacts) < 1 || len(e.Contacts) > maxContacts {
			return Invalidf("escalation.contacts must hold 1..%d contacts", maxContacts)
		}
		for i, c := range e.Contacts {
			if !ValidRequesterID(c.ID) || !validEmail(c.Email) {
				return Invalidf("escalation.contacts[%d] needs an id and an email address", i)
			}
		}
	}
	if len(s.Reminders) > maxReminders {
		return Invalidf("reminders: at most %d", maxReminders)
	}
	for i, r := range s.Reminders {
		if d, err := time.ParseDuration(r); err != nil || d < time.Minute || d > 30*24*time.Hour {
			return Invalidf("reminders[%d] must be a Go duration from 1m to 720h, e.g. \"2h\"", i)
		}
		if slices.Index(s.Reminders, r) != i {
			return Invalidf("reminders[%d] repeats %q", i, r)
		}
	}
	if s.RequiredApprovals < 1 || s.RequiredApprovals > MaxRequiredApprovals {
		return Invalidf("requiredApprovals must be 1..%d", MaxRequiredApprovals)
	}
	if s.MaxDuration != nil && (*s.MaxDuration < 1 || *s.MaxDuration > MaxDurationHours) {
		return Invalidf("maxDuration must be a whole number of hours from 1 to %d", MaxDurationHours)
	}
	if len(s.Rules) > MaxRules {
		return Invalidf("rules: at most %d", MaxRules)
	}
	for i, r := range s.Rules {
		if err := r.validate(fmt.Sprintf("rules[%d]", i)); err != nil {
			return err
		}
		if slices.IndexFunc(s.Rules, func(o Rule) bool { return o.Name == r.Name }) != i {
			return Invalidf("rules[%d].name repeats %q", i, r.Name)
		}
	}
	if err := s.RequirePasskey.validate(); err != nil {
		return err
	}
	if s.BreakGlass != "" && s.BreakGlass != BreakGlassAllow && s.BreakGlass != BreakGlassDeny {
		return Invalidf("breakGlass must be %q or %q", BreakGlassAllow, BreakGlassDeny)
	}
	if len(s.Webhooks) > MaxWebhooks {
		return Invalidf("webhooks: at most %d", MaxWebhooks)
	}
	for i, w := range s.Webhooks {
		if err := w.validate(fmt.Sprintf("webhooks[%d]", i), allowPlainHTTP); err != nil {
			return err
		}
		if slices.IndexFunc(s.Webhooks, func(o Webhook) bool { return o.ID == w.ID }) != i {
			return Invalidf("webhooks[%d].id repeats %q", i, w.ID)
		}
	}
	return nil
}

func (r Rule) validate(f string) error {
	switch {
	case !namePattern.MatchString(r.Name):
		return Invalidf("%s.name must be 1..64 characters of [A-Za-z0-9._-]", f)
	case r.Effect != EffectAutoApprove && r.Effect != EffectAutoDeny:
		return Invalidf("%s.effect must be %s or %s", f, EffectAutoApprove, EffectAutoDeny)
	}
	m := r.Match
	for j, id := range m.RequesterIDs {
		if !ValidRequesterID(id) {
			return Invalidf("%s.match.requesterIds[%d] must be 1..128 visible characters without spaces or invisible characters", f, j)
		}
	}
	for name, list := range map[string][]string{"resourceTypes": m.ResourceTypes, "accessLevels": m.AccessLevels,
		"workItemSources": m.WorkItemSources, "requesterIds": m.RequesterIDs} {
		if len(list) > maxMatchValues {
			return Invalidf("%s.match.%s: at most %d values", f, name, maxMatchValues)
		}
		for j, v := range list {
			if !text(v, 1, maxShortText, false) {
				return Invalidf("%s.match.%s[%d] must be 1..256 printable characters", f, name, j)
			}
		}
	}
	if sc := m.Schedule; sc != nil {
		g := f + ".match.schedule"
		if _, err := time.LoadLocation(sc.Timezone); err != nil || sc.Timezone == "" || strings.EqualFold(sc.Timezone, "Local") {
			return Invalidf("%s.timezone must name an IANA time zone, e.g. \"Europe/Berlin\"", g)
		}
		if len(sc.Days) < 1 || len(sc.Days) > 7 {
			return Invalidf("%s.days must hold 1..7 of Mon, Tue, Wed, Thu, Fri, Sat, Sun", g)
		}
		for j, d := range sc.Days {
			if _, ok := weekdayByName[d]; !ok || slices.Index(sc.Days, d) != j {
				return Invalidf("%s.days[%d] must be one of Mon, Tue, Wed, Thu, Fri, Sat, Sun, once each", g, j)
			}
		}
		if !clockPattern.MatchString(sc.From) || sc.From == "24:00" {
			return Invalidf("%s.from must be a time of day HH:MM from 00:00 to 23:59", g)
		}
		if !clockPattern.MatchString(sc.To) || sc.To == sc.From {
			return Invalidf("%s.to must be a time of day HH:MM from 00:01 to 24:00, other than from", g)
		}
	}
	return nil
}

func (w Webhook) validate(f string, allowPlainHTTP bool) error {
	if !namePattern.MatchString(w.ID) {
		return Invalidf("%s.id must be 1..64 characters of [A-Za-z0-9._-]", f)
	}
	u, err := url.Parse(w.URL)
	switch {
	case len(w.URL) > maxURLLen || err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
		return Invalidf("%s.url must be an absolute https URL of at most 2048 characters, without credentials", f)
	case u.Scheme != "https" && !(allowPlainHTTP && u.Scheme == "http"):
		return Invalidf("%s.url must use https", f)
	case w.Format != FormatStandard && w.Format != FormatSlack && w.Format != FormatTeams:
		return Invalidf("%s.format must be %s, %s or %s", f, FormatStandard, FormatSlack, FormatTeams)
	}
	for j, e := range w.Events {
		if !slices.Contains(NotificationTypes, e) || slices.Index(w.Events, e) != j {
			return Invalidf("%s.events[%d] must be one of %s, once each", f, j, strings.Join(NotificationTypes, ", "))
		}
	}
	if w.Secret != "" && !ValidWebhookSecret(w.Secret) {
		return Invalidf("%s.secret must be %s followed by the base64 of 24 to 64 random bytes", f, WebhookSecretPrefix)
	}
	return nil
}

// ValidWebhookSecret reports whether s is "whsec_" and the standard base64
// of 24..64 bytes.
func ValidWebhookSecret(s string) bool {
	raw, ok := strings.CutPrefix(s, WebhookSecretPrefix)
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	return err == nil && len(b) >= 24 && len(b) <= 64
}

func validEmail(s string) bool {
	if len(s) > 254 || !printable(s, false) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// ForAdmin returns s as the tenant's admins see it: without webhook
// secrets, which are write-only.
func (s Settings) ForAdmin() Settings {
	s.Webhooks = slices.Clone(s.Webhooks)
	for i := range s.Webhooks {
		s.Webhooks[i].Secret = ""
	}
	return s
}

// Public returns s as everyone else who may read it sees it: without
// webhook secrets, and each webhook URL cut to its scheme and host. A Slack
// or Teams URL is itself a credential (whoever holds it may post to the
// channel), so only the tenant's admins see it whole.
func (s Settings) Public() Settings {
	s = s.ForAdmin()
	for i, w := range s.Webhooks {
		s.Webhooks[i].URL = MaskURL(w.URL)
	}
	return s
}

// MaskURL returns raw's scheme and host followed by "/…": what may be
// shown of a URL that is a credential.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "…"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Updated returns next as it is stored after a PUT by `by` over prev:
// webhook secrets left out keep prev's for the same id, and each rule that
// is new or changed is marked as updated by `by`. A new webhook without a
// secret is refused (KindInvalid).
func (next Settings) Updated(prev Settings, by string) (Settings, error) {
	next.Webhooks = slices.Clone(next.Webhooks)
	for i, w := range next.Webhooks {
		if w.Secret != "" {
			continue
		}
		j := slices.IndexFunc(prev.Webhooks, func(o Webhook) bool { return o.ID == w.ID })
		if j < 0 {
			return next, Invalidf("webhooks[%d].secret is required for a new webhook", i)
		}
		next.Webhooks[i].Secret = prev.Webhooks[j].Secret
	}
	next.Rules = slices.Clone(next.Rules)
	for i, r := range next.Rules {
		j := slices.IndexFunc(prev.Rules, func(o Rule) bool { return o.Name == r.Name })
		if j >= 0 && SameRule(prev.Rules[j], r) {
			next.Rules[i].UpdatedBy = prev.Rules[j].UpdatedBy
		} else {
			next.Rules[i].UpdatedBy = by
		}
	}
	return next, nil
}

// SameRule reports whether a and b say the same, whoever wrote them: their
// canonical JSON (without the read-only updatedBy) is equal. Pointers
// (missingSupportCaseUrl, schedule) compare by the values they point to.
func SameRule(a, b Rule) bool {
	a.UpdatedBy, b.UpdatedBy = "", ""
	return sameJSON(a, b)
}

// sameJSON reports whether a and b encode to the same JSON: values compared
// by value, pointers by what they point to, as the document stores them.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Changes names what changed from prev to next, for the audit log's reason
// ("requiredApprovals 1 → 2; rules: added weekend-deny"). It never names a
// secret, only that one changed.
func (next Settings) Changes(prev Settings) string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if next.Enabled != prev.Enabled {
		add("enabled %t → %t", prev.Enabled, next.Enabled)
	}
	if next.RequiredApprovals != prev.RequiredApprovals {
		add("requiredApprovals %d → %d", prev.RequiredApprovals, next.RequiredApprovals)
	}
	if hours(next.MaxDuration) != hours(prev.MaxDuration) {
		add("maxDuration %s → %s", hours(prev.MaxDuration), hours(next.MaxDuration))
	}
	if next.RequirePasskey.String() != prev.RequirePasskey.String() {
		add("requirePasskey %s → %s", prev.RequirePasskey, next.RequirePasskey)
	}
	if next.breakGlass() != prev.breakGlass() {
		add("breakGlass %s → %s", prev.breakGlass(), next.breakGlass())
	}
	if !slices.Equal(next.Reminders, prev.Reminders) {
		add("reminders [%s] → [%s]", strings.Join(prev.Reminders, " "), strings.Join(next.Reminders, " "))
	}
	if !sameJSON(next.Escalation, prev.Escalation) {
		add("escalation")
	}
	ids := func(as []Approver) []string {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = fmt.Sprintf("%s <%s> <%s>", a.ID, a.Email, a.AlternateEmail)
		}
		return out
	}
	if !slices.Equal(ids(next.Approvers), ids(prev.Approvers)) {
		add("approvers (%d → %d)", len(prev.Approvers), len(next.Approvers))
	}
	names := func(rs []Rule) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.Name
		}
		return out
	}
	if d := listDiff(names(prev.Rules), names(next.Rules), func(name string) bool {
		i, j := slices.IndexFunc(prev.Rules, func(r Rule) bool { return r.Name == name }), slices.IndexFunc(next.Rules, func(r Rule) bool { return r.Name == name })
		return !SameRule(prev.Rules[i], next.Rules[j])
	}); d != "" {
		add("rules: %s", d)
	}
	hooks := func(ws []Webhook) []string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = w.ID
		}
		return out
	}
	if d := listDiff(hooks(prev.Webhooks), hooks(next.Webhooks), func(id string) bool {
		i, j := slices.IndexFunc(prev.Webhooks, func(w Webhook) bool { return w.ID == id }), slices.IndexFunc(next.Webhooks, func(w Webhook) bool { return w.ID == id })
		return !sameJSON(prev.Webhooks[i], next.Webhooks[j]) // the secret counts, unnamed
	}); d != "" {
		add("webhooks: %s", d)
	}
	if len(out) == 0 {
		return "no change"
	}
	return strings.Join(out, "; ")
}

// listDiff says which names were added, removed, changed or reordered.
func listDiff(prev, next []string, changed func(name string) bool) string {
	var parts []string
	for _, n := range next {
		if !slices.Contains(prev, n) {
			parts = append(parts, "added "+n)
		} else if changed(n) {
			parts = append(parts, "changed "+n)
		}
	}
	for _, n := range prev {
		if !slices.Contains(next, n) {
			parts = append(parts, "removed "+n)
		}
	}
	if len(parts) == 0 && !slices.Equal(prev, next) {
		parts = append(parts, "reordered")
	}
	return strings.Join(parts, ", ")
}

func hours(h *int) string {
	if h == nil {
		return "global cap"
	}
	return fmt.Sprintf("%dh", *h)
}

// AutoDecision is what a tenant's settings decide for a request when it is
// filed: nothing (Action ""), or an automatic approval or denial by the
// system actor ActorID, with a reason for the audit log.
type AutoDecision struct {
	Action  Action // ActionAutoApprove, ActionAutoDeny or ""
	ActorID string // "rule:<name>", or SystemActor when Lockbox is off
	Reason  string
}

// Decide returns what s decides for r, filed at r.CreatedDateTime: Lockbox
// off approves it at once, when the tenant's admin turned it off; otherwise
// the first matching rule applies. Nobody auto-approves their own request:
// an approval by a rule last changed by the requester or whoever filed r
// (or, with Lockbox off, by whoever last changed the settings) does not
// apply, and the request waits for people. Lockbox off by the deployment's
// default alone (settings never saved: UpdatedBy empty) approves nothing:
// only the customer's admin may waive the customer's decision.
func (s Settings) Decide(r Request) AutoDecision {
	if !s.Enabled {
		if s.UpdatedBy == "" || r.Involves(UserKey(s.UpdatedBy)) {
			return AutoDecision{}
		}
		return AutoDecision{Action: ActionAutoApprove, ActorID: SystemActor, Reason: "Lockbox is off for this tenant"}
	}
	for _, rule := range s.Rules {
		if !rule.Match.Matches(r, r.CreatedDateTime) {
			continue
		}
		if rule.Effect == EffectAutoDeny {
			return AutoDecision{Action: ActionAutoDeny, ActorID: RuleActor(rule.Name), Reason: "rule " + rule.Name}
		}
		if rule.UpdatedBy != "" && r.Involves(UserKey(rule.UpdatedBy)) {
			return AutoDecision{} // first match wins, and this one may not approve
		}
		return AutoDecision{Action: ActionAutoApprove, ActorID: RuleActor(rule.Name), Reason: "rule " + rule.Name}
	}
	return AutoDecision{}
}

// RuleActor is the system actor id of a rule.
func RuleActor(name string) string { return "rule:" + name }

// Matches reports whether r, filed at at, has everything m asks for.
func (m RuleMatch) Matches(r Request, at time.Time) bool {
	fold := func(list []string, v string) bool {
		return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, v) })
	}
	switch {
	case len(m.ResourceTypes) > 0 && !fold(m.ResourceTypes, r.ResourceType):
		return false
	case len(m.AccessLevels) > 0 && !fold(m.AccessLevels, r.AccessLevel):
		return false
	case len(m.WorkItemSources) > 0 && (r.AssertedSource == "" || !fold(m.WorkItemSources, r.AssertedSource)):
		return false
	case len(m.RequesterIDs) > 0 && !slices.ContainsFunc(m.RequesterIDs, func(id string) bool { return SameIdentity(id, r.Requester.ID) }):
		return false
	case m.MissingSupportCaseURL != nil && *m.MissingSupportCaseURL != (r.SupportCaseURL == ""):
		return false
	case m.Schedule != nil && !m.Schedule.Matches(at):
		return false
	}
	return true
}

// Matches reports whether at falls in the window (or, with Outside, not).
func (sc Schedule) Matches(at time.Time) bool {
	loc, err := time.LoadLocation(sc.Timezone)
	if err != nil {
		return false // validated when saved; a zone gone from the database matches nothing
	}
	local := at.In(loc)
	minute := local.Hour()*60 + local.Minute()
	from, to := clockMinutes(sc.From), clockMinutes(sc.To)
	day := local.Weekday()
	if from > to && minute < to { // the early hours of a window that began the day before
		day = (day + 6) % 7
	}
	inDays := slices.ContainsFunc(sc.Days, func(d string) bool { return weekdayByName[d] == day })
	var inHours bool
	if from < to {
		inHours = minute >= from && minute < to
	} else {
		inHours = minute >= from || minute < to
	}
	return (inDays && inHours) != sc.Outside
}

func clockMinutes(hhmm string) int {
	var h, m int
	_, _ = fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return h*60 + m
}
