package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"lockbox.dev/shared/lockbox"
)

// pathSettingsForm is where the settings form posts (the JSON document
// posts to pathSettings).
const pathSettingsForm = "/settings/form"

// settingsFormParams are the settings form's fields: the settings read
// (version) with what to change. Existing approvers, rules and webhooks
// are removed by their id or name; one of each may be added.
var settingsFormParams = params{FormTokenField: 1, "version": 1, "enabled": 1, "break-glass": 1,
	"remove-approver": lockbox.MaxApprovers, "approver-name": 1, "approver-email": 1,
	"required-approvals": 1, "max-duration": 1, "reminders": 1, "escalate-after": 1, "escalation-contacts": 1,
	"remove-rule": lockbox.MaxRules, "rule-name": 1, "rule-effect": 1, "rule-when": 1, "rule-days": 7, "rule-from": 1,
	"rule-to": 1, "rule-timezone": 1, "rule-access-levels": 1, "rule-resource-types": 1,
	"remove-webhook": lockbox.MaxWebhooks, "webhook-url": 1, "webhook-format": 1, "webhook-secret": 1,
	"webhook-events": len(lockbox.NotificationTypes)}

// saveSettingsForm stores what the settings form changed (POST
// settings/form): the settings of the version the form was read at, with
// its changes, through the same use case as the JSON document and
// lockbox-settings' PUT (the version as If-Match: a stale form is refused,
// nothing stored; validated; webhook secrets kept; audited).
func (p *Portal) saveSettingsForm(w http.ResponseWriter, r *http.Request) {
	back := p.link(pathSettings)
	s, v, ok := p.postedForm(w, r, settingsFormParams, maxForm, back)
	if !ok {
		return
	}
	pr := s.principal()
	version, err := formVersion(v)
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	current, err := p.d.Cases.Settings(r.Context(), pr, "")
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	stored, err := p.applySettingsForm(r, pr, current, version, v)
	if err != nil {
		status, _ := errorPage(err, p.d.Log)
		if current, err2 := p.d.Cases.Settings(r.Context(), pr, ""); err2 == nil {
			p.showSettingsForm(w, r, s, status, current, version, v, message(err, p.d.Log))
			return
		}
		p.failAs(w, r, s, err, back)
		return
	}
	s.Flash = "Settings saved: version " + strconv.FormatInt(stored.Version, 10) + "."
	if err := p.saveSession(r, s); err != nil {
		p.d.Log.Warn("could not keep the outcome's message", "err", err)
	}
	p.redirect(w, pathSettings)
}

// applySettingsForm stores current (read at version) with the form's
// changes v, through the use case PutSettings with version as If-Match.
func (p *Portal) applySettingsForm(r *http.Request, pr lockbox.Principal, current lockbox.Settings, version int64, v url.Values) (lockbox.Settings, error) {
	if current.Version != version {
		return lockbox.Settings{}, lockbox.ErrStaleSettings()
	}
	next, err := settingsFromForm(current, v)
	if err != nil {
		return lockbox.Settings{}, err
	}
	return p.d.Cases.PutSettings(r.Context(), pr, "", next, []int64{version})
}

// settingsFromForm is set with the settings form's changes v. It checks
// only what the form itself needs (numbers that parse, an added item's
// required fields); the use case validates the result.
func settingsFromForm(set lockbox.Settings, v url.Values) (lockbox.Settings, error) {
	next := set
	switch v.Get("enabled") {
	case "on":
		next.Enabled = true
	case "off":
		next.Enabled = false
	default:
		return set, lockbox.Invalidf("say whether Lockbox is on or off")
	}
	switch v.Get("break-glass") {
	case lockbox.BreakGlassDeny:
		next.BreakGlass = lockbox.BreakGlassDeny
	case lockbox.BreakGlassAllow:
		if set.BreakGlass == lockbox.BreakGlassDeny {
			next.BreakGlass = lockbox.BreakGlassAllow
		}
	case "": // a form of before the setting: unchanged
	default:
		return set, lockbox.Invalidf("say whether the provider's emergency access is allowed or refused")
	}

	remove := v["remove-approver"]
	next.Approvers = slices.DeleteFunc(slices.Clone(set.Approvers), func(a lockbox.Approver) bool { return slices.Contains(remove, a.ID) })
	name, email := strings.TrimSpace(v.Get("approver-name")), strings.TrimSpace(v.Get("approver-email"))
	switch {
	case email != "":
		if slices.ContainsFunc(next.Approvers, func(a lockbox.Approver) bool { return strings.EqualFold(a.Email, email) || a.ID == email }) {
			return set, lockbox.Invalidf("%s is already an approver", truncate(email, 100))
		}
		next.Approvers = append(next.Approvers, lockbox.Approver{ID: email, Email: email, DisplayName: name})
	case name != "":
		return set, lockbox.Invalidf("give the new approver's email address")
	}

	n, err := strconv.Atoi(strings.TrimSpace(v.Get("required-approvals")))
	if err != nil {
		return set, lockbox.Invalidf("required approvals must be a number from 1 to %d", lockbox.MaxRequiredApprovals)
	}
	next.RequiredApprovals = n
	next.MaxDuration = nil
	if h := strings.TrimSpace(v.Get("max-duration")); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil {
			return set, lockbox.Invalidf("the longest grant must be a whole number of hours, or empty for the deployment's cap")
		}
		next.MaxDuration = &n
	}
	next.Reminders = list(v.Get("reminders"))

	after, contacts := strings.TrimSpace(v.Get("escalate-after")), list(v.Get("escalation-contacts"))
	next.Escalation = nil
	switch {
	case after != "" && len(contacts) > 0:
		e := &lockbox.Escalation{After: after}
		for _, c := range contacts {
			id := c
			if set.Escalation != nil { // a contact kept keeps its id
				if i := slices.IndexFunc(set.Escalation.Contacts, func(k lockbox.Contact) bool { return strings.EqualFold(k.Email, c) }); i >= 0 {
					id = set.Escalation.Contacts[i].ID
				}
			}
			e.Contacts = append(e.Contacts, lockbox.Contact{ID: id, Email: c})
		}
		next.Escalation = e
	case after != "" || len(contacts) > 0:
		return set, lockbox.Invalidf("escalation needs both a time (e.g. 24h) and at least one address; leave both empty for none")
	}

	removeRules := v["remove-rule"]
	next.Rules = slices.DeleteFunc(slices.Clone(set.Rules), func(r lockbox.Rule) bool { return slices.Contains(removeRules, r.Name) })
	if rule, ok, err := ruleFromForm(v); err != nil {
		return set, err
	} else if ok {
		next.Rules = append(next.Rules, rule)
	}

	removeHooks := v["remove-webhook"]
	next.Webhooks = slices.DeleteFunc(slices.Clone(set.Webhooks), func(w lockbox.Webhook) bool { return slices.Contains(removeHooks, w.ID) })
	if u := strings.TrimSpace(v.Get("webhook-url")); u != "" {
		hook := lockbox.Webhook{ID: newWebhookID(next.Webhooks), URL: u, Format: v.Get("webhook-format"),
			Secret: strings.TrimSpace(v.Get("webhook-secret")), Events: v["webhook-events"]}
		if hook.Format == "" {
			hook.Format = lockbox.FormatStandard
		}
		next.Webhooks = append(next.Webhooks, hook)
	}
	return next, nil
}

// ruleFromForm is the rule the form adds (ok false when its name is
// empty): an effect, optionally for some access levels and resource types,
// and optionally within or outside a weekly window.
func ruleFromForm(v url.Values) (lockbox.Rule, bool, error) {
	name := strings.TrimSpace(v.Get("rule-name"))
	if name == "" {
		return lockbox.Rule{}, false, nil
	}
	r := lockbox.Rule{Name: name, Effect: v.Get("rule-effect"),
		Match: lockbox.RuleMatch{AccessLevels: orNil(list(v.Get("rule-access-levels"))), ResourceTypes: orNil(list(v.Get("rule-resource-types")))}}
	switch when := v.Get("rule-when"); when {
	case "", "always":
	case "within", "outside":
		r.Match.Schedule = &lockbox.Schedule{Timezone: strings.TrimSpace(v.Get("rule-timezone")), Days: v["rule-days"],
			From: strings.TrimSpace(v.Get("rule-from")), To: strings.TrimSpace(v.Get("rule-to")), Outside: when == "outside"}
		// The days in the week's order, as the checkboxes list them.
		slices.SortFunc(r.Match.Schedule.Days, func(a, b string) int {
			return slices.Index(weekOrder, a) - slices.Index(weekOrder, b)
		})
	default:
		return lockbox.Rule{}, false, lockbox.Invalidf("the new rule's time must be always, within or outside a weekly window")
	}
	return r, true, nil
}

// newWebhookID is an id no webhook of hooks has: webhook-1, webhook-2, …
func newWebhookID(hooks []lockbox.Webhook) string {
	for i := 1; ; i++ {
		id := "webhook-" + strconv.Itoa(i)
		if !slices.ContainsFunc(hooks, func(w lockbox.Webhook) bool { return w.ID == id }) {
			return id
		}
	}
}

// list splits a field of values separated by commas or line breaks,
// trimmed, empty ones dropped: "24h, 2h" → ["24h", "2h"].
func list(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// orNil is vs, or nil when it is empty (a rule's criterion not given).
func orNil(vs []string) []string {
	if len(vs) == 0 {
		return nil
	}
	return vs
}

// settingsForm is what the settings form's fields hold: the settings in
// force, or a refused form's values shown again (never a webhook secret).
type settingsForm struct {
	Enabled                           bool
	DenyBreakGlass                    bool
	RequiredApprovals, MaxDuration    string
	Reminders                         string
	EscalateAfter, EscalationContacts string
	ApproverName, ApproverEmail       string
	RuleName, RuleEffect, RuleWhen    string
	RuleFrom, RuleTo, RuleTimezone    string
	RuleAccessLevels                  string
	RuleResourceTypes                 string
	RuleDays                          []string
	WebhookURL, WebhookFormat         string
	WebhookEvents                     []string
	Remove                            []string // the approvers, rules and webhooks ticked for removal
}

// formOf is the form of the settings set, with an empty rule and webhook to
// add (a rule's window defaulting to Mon–Fri 08:00–18:00 Europe/Berlin).
func formOf(set lockbox.Settings) settingsForm {
	f := settingsForm{Enabled: set.Enabled, DenyBreakGlass: set.BreakGlass == lockbox.BreakGlassDeny, RequiredApprovals: strconv.Itoa(set.RequiredApprovals),
		Reminders: strings.Join(set.Reminders, ", "), RuleEffect: lockbox.EffectAutoDeny, RuleWhen: "always",
		RuleFrom: "08:00", RuleTo: "18:00", RuleTimezone: "Europe/Berlin", RuleDays: weekOrder[:5], WebhookFormat: lockbox.FormatStandard}
	if set.MaxDuration != nil {
		f.MaxDuration = strconv.Itoa(*set.MaxDuration)
	}
	if e := set.Escalation; e != nil {
		f.EscalateAfter = e.After
		emails := make([]string, len(e.Contacts))
		for i, c := range e.Contacts {
			emails[i] = c.Email
		}
		f.EscalationContacts = strings.Join(emails, ", ")
	}
	return f
}

// formFrom is a refused form's fields, shown again as they were sent.
func formFrom(v url.Values) settingsForm {
	f := settingsForm{Enabled: v.Get("enabled") == "on", DenyBreakGlass: v.Get("break-glass") == lockbox.BreakGlassDeny, RequiredApprovals: v.Get("required-approvals"), MaxDuration: v.Get("max-duration"),
		Reminders: v.Get("reminders"), EscalateAfter: v.Get("escalate-after"), EscalationContacts: v.Get("escalation-contacts"),
		ApproverName: v.Get("approver-name"), ApproverEmail: v.Get("approver-email"),
		RuleName: v.Get("rule-name"), RuleEffect: v.Get("rule-effect"), RuleWhen: v.Get("rule-when"), RuleFrom: v.Get("rule-from"),
		RuleTo: v.Get("rule-to"), RuleTimezone: v.Get("rule-timezone"), RuleAccessLevels: v.Get("rule-access-levels"),
		RuleResourceTypes: v.Get("rule-resource-types"), RuleDays: v["rule-days"],
		WebhookURL: v.Get("webhook-url"), WebhookFormat: v.Get("webhook-format"), WebhookEvents: v["webhook-events"]}
	f.Remove = append(append(slices.Clone(v["remove-approver"]), v["remove-rule"]...), v["remove-webhook"]...)
	return f
}
