package portal

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// The settings in words, as the settings page's "In force" says them.

// weekOrder is the week as rules list their days.
var weekOrder = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// daysInWords says a schedule's days: "every day", "Mon–Fri", "Mon–Wed,
// Sat", "Tue, Thu" (a run of three days or more as a range).
func daysInWords(days []string) string {
	on := make([]bool, len(weekOrder))
	n := 0
	for i, d := range weekOrder {
		if slices.Contains(days, d) {
			on[i] = true
			n++
		}
	}
	if n == len(weekOrder) {
		return "every day"
	}
	var parts []string
	for i := 0; i < len(on); i++ {
		if !on[i] {
			continue
		}
		j := i
		for j+1 < len(on) && on[j+1] {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, weekOrder[i]+"–"+weekOrder[j])
		case j > i:
			parts = append(parts, weekOrder[i], weekOrder[j])
		default:
			parts = append(parts, weekOrder[i])
		}
		i = j
	}
	return strings.Join(parts, ", ")
}

// ruleInWords says what a rule does: "Auto-deny every request filed
// outside Mon–Fri 08:00–18:00 Europe/Berlin", "Auto-approve requests for
// ReadOnly access to postgres resources, filed through github".
func ruleInWords(r lockbox.Rule) string {
	effect := "Auto-approve"
	if r.Effect == lockbox.EffectAutoDeny {
		effect = "Auto-deny"
	}
	m := r.Match
	var which []string
	if len(m.AccessLevels) > 0 {
		which = append(which, "for "+orList(m.AccessLevels)+" access")
	}
	if len(m.ResourceTypes) > 0 {
		which = append(which, "to "+orList(m.ResourceTypes)+" resources")
	}
	if len(m.RequesterIDs) > 0 {
		which = append(which, "by "+orList(m.RequesterIDs))
	}
	if len(m.WorkItemSources) > 0 {
		which = append(which, "filed through "+orList(m.WorkItemSources))
	}
	if m.MissingSupportCaseURL != nil {
		if *m.MissingSupportCaseURL {
			which = append(which, "without a support case link")
		} else {
			which = append(which, "with a support case link")
		}
	}
	s := effect + " every request"
	if len(which) > 0 {
		s = effect + " requests " + strings.Join(which, ", ")
	}
	if sc := m.Schedule; sc != nil {
		where := "within"
		if sc.Outside {
			where = "outside"
		}
		if len(which) > 0 {
			s += ","
		}
		s += " filed " + where + " " + daysInWords(sc.Days) + " " + sc.From + "–" + sc.To + " " + sc.Timezone
	}
	return s
}

// orList is "a", "a or b", "a, b or c".
func orList(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

// durationInWords says a Go duration of settings ("24h", "90m") the way a
// person does: "24 hours", "1 hour 30 minutes"; the text itself when it
// does not parse.
func durationInWords(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return s
	}
	switch {
	case d%time.Minute != 0:
		return s
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/time.Hour), "hour") + " " + plural(int(d%time.Hour/time.Minute), "minute")
}

// hoursInWords is "1 hour", "24 hours".
func hoursInWords(h int) string { return plural(h, "hour") }

// capInWords says the deployment's longest grant: "24 hours", or "30s"
// when it is not a whole number of hours.
func capInWords(d time.Duration) string {
	if d > 0 && d%time.Hour == 0 {
		return hoursInWords(int(d / time.Hour))
	}
	return durationInWords(d.String())
}

// inForce is the settings in words, for the settings page's summary.
type inForce struct {
	Lockbox       string
	BreakGlass    string
	Approvals     string
	LongestGrant  string
	Cap           string // the deployment's cap, "24 hours"
	Reminders     string
	Escalation    string
	Approvers     []string // "Alice Approver <alice@contoso.example>"
	Rules         []string // each in words, in the order they are tried
	Webhooks      []string // "Slack: https://hooks.slack.example/… (every event)"
	NoApproverMsg string
}

// settingsInWords says set, under the deployment's grant cap.
func settingsInWords(set lockbox.Settings, grantCap time.Duration) inForce {
	f := inForce{Lockbox: "Off: requests are approved at once by the system, and recorded"}
	if set.Enabled {
		f.Lockbox = "On: requests wait for an approver's decision"
	}
	f.BreakGlass = "Allowed under the provider's policy; you are told at once and review it afterwards"
	if set.BreakGlass == lockbox.BreakGlassDeny {
		f.BreakGlass = "Refused: every access waits for your approvers"
	}
	f.Approvals = "1 approver decides"
	if n := set.RequiredApprovals; n > 1 {
		f.Approvals = strconv.Itoa(n) + " different approvers must approve; one deny denies"
	}
	f.Cap = capInWords(grantCap)
	f.LongestGrant = f.Cap + " (the deployment's cap)"
	if m := set.MaxDuration; m != nil {
		f.LongestGrant = hoursInWords(*m) + " (this tenant's limit"
		if time.Duration(*m)*time.Hour > grantCap {
			f.LongestGrant += "; the deployment's cap of " + capInWords(grantCap) + " applies"
		}
		f.LongestGrant += ")"
	}
	f.Reminders = "none"
	if len(set.Reminders) > 0 {
		words := make([]string, len(set.Reminders))
		for i, r := range set.Reminders {
			words[i] = durationInWords(r)
		}
		f.Reminders = andList(words) + " before the approval window closes"
	}
	f.Escalation = "none"
	if e := set.Escalation; e != nil {
		to := make([]string, len(e.Contacts))
		for i, c := range e.Contacts {
			to[i] = c.Email
		}
		f.Escalation = "after " + durationInWords(e.After) + " without a decision, to " + andList(to)
	}
	for _, a := range set.Approvers {
		f.Approvers = append(f.Approvers, approverInWords(a))
	}
	if len(set.Approvers) == 0 {
		f.NoApproverMsg = "Nobody is told of new requests by mail."
	}
	for _, r := range set.Rules {
		f.Rules = append(f.Rules, ruleInWords(r))
	}
	for _, w := range set.Webhooks {
		f.Webhooks = append(f.Webhooks, webhookInWords(w))
	}
	return f
}

// approverInWords is "Alice Approver <alice@contoso.example>", or the
// address alone.
func approverInWords(a lockbox.Approver) string {
	if a.DisplayName == "" {
		return a.Email
	}
	return a.DisplayName + " <" + a.Email + ">"
}

// webhookInWords is "Slack, https://hooks.slack.example/…: every event".
func webhookInWords(w lockbox.Webhook) string {
	format := map[string]string{lockbox.FormatStandard: "Standard Webhooks", lockbox.FormatSlack: "Slack", lockbox.FormatTeams: "Microsoft Teams"}[w.Format]
	if format == "" {
		format = w.Format
	}
	events := "every event"
	if len(w.Events) > 0 {
		events = andList(w.Events)
	}
	return fmt.Sprintf("%s to %s: %s", format, shortURL(w.URL), events)
}

// shortURL is a webhook URL as the page shows it: scheme, host and the
// start of the path.
func shortURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return truncate(raw, 60)
	}
	return truncate(u.Scheme+"://"+u.Host+u.EscapedPath(), 60)
}

// andList is "a", "a and b", "a, b and c".
func andList(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " and " + vs[len(vs)-1]
}
