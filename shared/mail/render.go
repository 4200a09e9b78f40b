package mail

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	htmltemplate "html/template"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"lockbox.dev/shared/lockbox"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// The templates: the wording of every notification type (text/template,
// rendered to plain strings), and one layout per body format.
var (
	wording = texttemplate.Must(texttemplate.New("wording.tmpl").
		ParseFS(templateFS, "templates/wording.tmpl"))
	textLayout = texttemplate.Must(texttemplate.New("mail.txt.tmpl").
			Funcs(texttemplate.FuncMap{"indent": indent, "pad": pad}).
			ParseFS(templateFS, "templates/mail.txt.tmpl"))
	htmlLayout = htmltemplate.Must(htmltemplate.New("mail.html.tmpl").
			ParseFS(templateFS, "templates/mail.html.tmpl"))
)

// timeLayout is how mails show instants: in UTC, with the weekday.
const timeLayout = "Mon 2006-01-02 15:04 MST"

// facts is what the wording of a notification may say: the request's
// values, ready to print.
type facts struct {
	Tenant     string
	Case       string // the support case, e.g. INC-1001
	Requester  string // "Eve Engineer (eng-7)"
	Resources  string // "postgres resource db-1", "3 postgres resources"
	Level      string // "ReadOnly access", or "access"
	Expires    string // the approval window's end
	AccessEnds string // the grant's end; "" without a grant
	Filed      string
	Remaining  string // reminders: until the window closes; ending: until the grant ends
	By         string // who decided, approved, revoked or canceled
	Self       bool   // By is the requester
	Rule       string // the rule of an automatic decision
	Auto       bool   // a rule, or Lockbox being off, decided
	Off        bool   // Lockbox is off for the tenant
	Count      int    // approvals so far
	Required   int    // approvals needed
	Missing    int    // approvals still needed
	// Lockdown: the request was canceled by its tenant's lockdown.
	Lockdown bool
	// ToRequester: the mail goes to the requester (a receipt goes to the
	// approvers too, worded for each).
	ToRequester bool
	// A receipt's: the grant was revoked (else its hours ran out), it was
	// used, and how: "14 access checks on 2 of its 3 resources and 1 SSH
	// certificate issued", from FirstUse to LastUse.
	Revoked           bool
	Used              bool
	UseSummary        string
	FirstUse, LastUse string
	// Emergency access's: the incident, and when the customer's review
	// falls due.
	Incident, ReviewDue string
}

// document is a rendered mail, laid out by both layouts.
type document struct {
	Subject       string
	Title         string // the subject's action, as a heading
	Tenant        string
	Greeting      string
	Lead          string
	Action        string // the call to action's label
	Link          string // the portal's page of the request
	Rows          []row
	Justification string
	Approvals     []approvalRow
	ApprovalsHead string
	// Checked is what the provider checked before asking the customer
	// (the request's providerChecks), one line each; none without a
	// provider policy.
	Checked []string
	// Usage is a receipt's "Access used": each resource of the grant and
	// its use, and the credentials issued; NotUsed says plainly that the
	// grant was not used (then Usage is empty).
	Usage       []usageRow
	Credentials string
	NotUsed     string
	ReasonLabel string
	Reason      string
	Footer      string
}

// row is one labelled value of the request; Link, when set, is where the
// value points (an http or https URL).
type row struct {
	Label string
	Value string
	Items []resourceID // a list value (resources)
	Link  string
}

// resourceID is a resource's id, whole and cut before each "/": Parts
// (where the HTML body lets a line break) and Name, the last part, which
// tells apart ids of one resource group (the HTML body shows it in bold).
type resourceID struct {
	ID    string
	Parts []string
	Name  string
}

// resourceIDs are ids as a row lists them.
func resourceIDs(ids []string) []resourceID {
	out := make([]resourceID, len(ids))
	for i, id := range ids {
		id = oneLine(id)
		parts := pathParts(id)
		out[i] = resourceID{ID: id, Parts: parts[:len(parts)-1], Name: parts[len(parts)-1]}
	}
	return out
}

// usageRow is one resource of a receipt: its id (Parts and Name: cut
// before each "/", where the HTML body lets a line break) and how it was used, "14
// checks, first …, last …" or "not used" (Used false).
type usageRow struct {
	Resource string
	Parts    []string // all but the last part
	Name     string   // the last part, which tells ids apart (in bold)
	Use      string
	Used     bool
}

// pathParts cuts a resource id before each "/" after its first character:
// "/subscriptions/s/resourceGroups/g" → "/subscriptions", "/s",
// "/resourceGroups", "/g".
func pathParts(id string) []string {
	var parts []string
	for len(id) > 1 {
		i := strings.IndexByte(id[1:], '/')
		if i < 0 {
			break
		}
		parts, id = append(parts, id[:i+1]), id[i+1:]
	}
	return append(parts, id)
}

// approvalRow is one approval of a request that needs several.
type approvalRow struct {
	By, At, Duration, Reason string
}

// Render renders notification n as a mail: its subject and its text and
// HTML bodies. portalURL is portal_url ("" for mails without a link), and
// recipient is who reads it: a display name, an address, or both
// ("Alice <alice@contoso.example>"); the mail greets the name, else the
// requester's name when recipient is the requester's address, else the
// address. With "" mails to the requester greet the requester and others
// greet no one in particular. The subject names the tenant, the support
// case and what happened, e.g. "[contoso] INC-1001: access approved".
func Render(n lockbox.Notification, portalURL string, recipient string) (subject, text, html string, err error) {
	f := newFacts(n)
	f.ToRequester = readByRequester(n, recipient)
	words := map[string]string{}
	for _, part := range []string{"subject", "lead", "action", "audience"} {
		name := string(n.Type) + "." + part
		if wording.Lookup(name) == nil {
			return "", "", "", fmt.Errorf("render notification %s: unknown type %q", n.ID, n.Type)
		}
		var b strings.Builder
		if err := wording.ExecuteTemplate(&b, name, f); err != nil {
			return "", "", "", fmt.Errorf("render notification %s: %s: %w", n.ID, name, err)
		}
		words[part] = strings.Join(strings.Fields(b.String()), " ")
	}
	doc := newDocument(n, f, words, portalURL, recipient)
	var tb, hb bytes.Buffer
	if err := textLayout.Execute(&tb, doc); err != nil {
		return "", "", "", fmt.Errorf("render notification %s: text body: %w", n.ID, err)
	}
	if err := htmlLayout.Execute(&hb, doc); err != nil {
		return "", "", "", fmt.Errorf("render notification %s: html body: %w", n.ID, err)
	}
	return doc.Subject, tb.String(), hb.String(), nil
}

// newFacts gathers what the wording of n may say.
func newFacts(n lockbox.Notification) facts {
	r := n.Request
	f := facts{
		Tenant:    oneLine(r.TenantID),
		Case:      oneLine(r.SupportRequest),
		Requester: person(r.Requester),
		Resources: resources(r),
		Level:     "access",
		Expires:   when(r.ExpirationDateTime),
		Filed:     when(r.CreatedDateTime),
		By:        oneLine(n.Actor.ID),
		Auto:      n.Auto(),
		Count:     len(r.Approvals),
		Required:  max(r.RequiredApprovals, 1),
	}
	if f.Case == "" {
		f.Case = "(none given)"
	}
	if r.AccessLevel != "" {
		f.Level = oneLine(r.AccessLevel) + " access"
	}
	if r.AccessExpirationDateTime != nil {
		f.AccessEnds = when(*r.AccessExpirationDateTime)
	}
	f.Missing = max(f.Required-f.Count, 0)
	switch {
	case n.Type == lockbox.NoteApproved || n.Type == lockbox.NoteDenied:
		if r.Decision != nil && r.Decision.By != "" && !f.Auto {
			f.By = oneLine(r.Decision.By)
		}
	case n.Type == lockbox.NoteRevoked || n.Type == lockbox.NoteCanceled || n.Type == lockbox.NoteReceipt:
		if r.Closure != nil && r.Closure.By != "" {
			f.By = oneLine(r.Closure.By)
		}
	}
	if n.Type == lockbox.NoteReceipt {
		f.Revoked = r.Status == lockbox.StatusRevoked
		if u := r.Usage; u != nil && (u.Checks > 0 || u.Credentials > 0) {
			f.Used, f.UseSummary = true, useSummary(*u, len(r.ResourceIDs))
			if u.FirstUseDateTime != nil && u.LastUseDateTime != nil {
				f.FirstUse, f.LastUse = when(*u.FirstUseDateTime), when(*u.LastUseDateTime)
			}
		}
	}
	if f.Auto {
		rule, isRule := strings.CutPrefix(n.Actor.ID, lockbox.RuleActor(""))
		f.Rule, f.Off = oneLine(rule), !isRule
	}
	if e := r.Emergency; e != nil {
		f.Incident = oneLine(e.Incident)
		if e.ReviewDueDateTime != nil {
			f.ReviewDue = when(*e.ReviewDueDateTime)
		}
		if n.Type == lockbox.NoteEmergency && r.Decision != nil {
			f.By = oneLine(r.Decision.By)
		}
	}
	f.Lockdown = n.ByLockdown()
	f.Self = f.By != "" && lockbox.SameIdentity(f.By, r.Requester.ID)
	f.Remaining = remaining(n)
	return f
}

// useSummary says how a grant of resources resources was used: "14 access
// checks on 2 of its 3 resources and 1 SSH certificate issued".
func useSummary(u lockbox.Usage, resources int) string {
	var parts []string
	if u.Checks > 0 {
		used := 0
		for _, r := range u.Resources {
			if r.Checks > 0 {
				used++
			}
		}
		checks := count(u.Checks, "access check")
		switch {
		case resources > 1 && used == resources:
			checks += fmt.Sprintf(" on all %d of its resources", resources)
		case resources > 1:
			checks += fmt.Sprintf(" on %d of its %d resources", used, resources)
		}
		parts = append(parts, checks)
	}
	if u.Credentials > 0 {
		parts = append(parts, count(u.Credentials, "SSH certificate")+" issued")
	}
	return strings.Join(parts, " and ")
}

// count is "1 check", "14 checks".
func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// usage lays out a receipt's "Access used": every resource of the grant in
// the request's order, the credentials issued, or that it was not used.
func usage(r lockbox.Request, f facts) (rows []usageRow, credentials, notUsed string) {
	if !f.Used {
		return nil, "", "No check allowed access to any of its resources, and no credential was issued."
	}
	byID := map[string]lockbox.ResourceUsage{}
	for _, u := range r.Usage.Resources {
		byID[u.ResourceID] = u
	}
	for _, id := range r.ResourceIDs {
		parts := pathParts(oneLine(id))
		row := usageRow{Resource: oneLine(id), Parts: parts[:len(parts)-1], Name: parts[len(parts)-1], Use: "not used"}
		if u, ok := byID[id]; ok && u.Checks > 0 {
			row.Used = true
			if first, last := when(u.FirstUseDateTime), when(u.LastUseDateTime); first == last {
				row.Use = count(u.Checks, "check") + ", at " + first
			} else {
				row.Use = count(u.Checks, "check") + ", first " + first + ", last " + last
			}
		}
		rows = append(rows, row)
	}
	credentials = "none"
	if c := r.Usage.Credentials; c > 0 {
		credentials = count(c, "SSH certificate")
	}
	return rows, credentials, ""
}

// remaining is, for a reminder, the time left until the approval window
// closes and, for the ending notice, until the grant ends ("" when unknown).
func remaining(n lockbox.Notification) string {
	if n.Time.IsZero() {
		if n.Type == lockbox.NoteEnding {
			return span(lockbox.EndingNotice)
		}
		return ""
	}
	switch n.Type {
	case lockbox.NoteReminder:
		return span(n.Request.ExpirationDateTime.Sub(n.Time))
	case lockbox.NoteEnding:
		if end := n.Request.AccessExpirationDateTime; end != nil {
			return span(end.Sub(n.Time))
		}
		return span(lockbox.EndingNotice)
	}
	return ""
}

// newDocument lays out n with its wording.
func newDocument(n lockbox.Notification, f facts, words map[string]string, portalURL, recipient string) document {
	r := n.Request
	doc := document{
		Subject:       "[" + f.Tenant + "] " + f.Case + ": " + words["subject"],
		Title:         capitalize(words["subject"]),
		Tenant:        f.Tenant,
		Greeting:      greeting(n, recipient),
		Lead:          words["lead"],
		Action:        words["action"],
		Link:          webLink(lockbox.PortalLink(portalURL, r.RequestID)),
		Justification: r.Justification,
		Footer:        words["audience"],
	}
	if r.SupportRequest == "" {
		doc.Subject = "[" + f.Tenant + "] " + words["subject"]
	}
	if n.TenantWide() {
		doc.Link = webLink(lockbox.TenantLink(portalURL))
		doc.Rows = []row{{Label: "Tenant", Value: f.Tenant}, {Label: byLabel(n.Type), Value: f.By}, {Label: "At", Value: when(n.Time)}}
		doc.ReasonLabel, doc.Reason = reason(n)
		return doc
	}
	doc.Rows = rows(n, f)
	if r.RequiredApprovals > 1 || n.Type == lockbox.NoteApproval {
		doc.ApprovalsHead = fmt.Sprintf("Approvals: %d of %d", f.Count, f.Required)
		for _, a := range r.Approvals {
			doc.Approvals = append(doc.Approvals, approvalRow{
				By: oneLine(a.By), At: when(a.DateTime), Duration: hours(a.Duration), Reason: a.Reason,
			})
		}
	}
	if n.Type == lockbox.NoteReceipt {
		doc.Usage, doc.Credentials, doc.NotUsed = usage(r, f)
	}
	doc.Checked = ProviderChecked(r.ProviderChecks)
	doc.ReasonLabel, doc.Reason = reason(n)
	return doc
}

// ProviderChecked says what the provider checked before asking the
// customer, one line each (nil without checks): the engineer's sign-in
// (multi-factor or not), their identity (isolated or not), who approved
// internally and when, and the policy rule that applied.
func ProviderChecked(c *lockbox.ProviderChecks) []string {
	if c == nil {
		return nil
	}
	yes := func(b bool, y, n string) string {
		if b {
			return y
		}
		return n
	}
	out := []string{
		yes(c.MFA, "Multi-factor authentication: yes", "Multi-factor authentication: not shown by the engineer's sign-in"),
		yes(c.IsolatedIdentity, "Isolated identity: yes", "Isolated identity: not shown by the engineer's sign-in"),
	}
	if len(c.InternalApprovals) == 0 {
		out = append(out, "Internal approval: none required")
	} else {
		var by []string
		for _, a := range c.InternalApprovals {
			by = append(by, oneLine(a.By)+" ("+when(a.DateTime)+")")
		}
		out = append(out, "Internal approval: "+strings.Join(by, ", "))
	}
	rule := "no rule matched"
	if c.PolicyRule != "" {
		rule = oneLine(c.PolicyRule)
	}
	return append(out, "Policy rule: "+rule)
}

// rows lists the request's values an approver needs, in reading order.
func rows(n lockbox.Notification, f facts) []row {
	r := n.Request
	out := []row{{Label: "Support case", Value: f.Case, Link: webLink(r.SupportCaseURL)}}
	tenant := f.Tenant
	if r.SubscriptionID != "" {
		tenant += " (subscription " + oneLine(r.SubscriptionID) + ")"
	}
	out = append(out,
		row{Label: "Tenant", Value: tenant},
		row{Label: "Requested by", Value: f.Requester},
		row{Label: "Resource type", Value: oneLine(r.ResourceType)},
	)
	if n.Type != lockbox.NoteReceipt || !f.Used { // a receipt of a used grant lists them under "Access used"
		out = append(out, row{Label: "Resources", Items: resourceIDs(r.ResourceIDs)})
	}
	if r.AccessLevel != "" {
		out = append(out, row{Label: "Access level", Value: oneLine(r.AccessLevel)})
	}
	if r.Duration > 0 {
		out = append(out, row{Label: "Access asked", Value: hours(r.Duration)})
	}
	if r.WorkItemSource != "" {
		out = append(out, row{Label: "Work item source", Value: oneLine(r.WorkItemSource)})
	}
	out = append(out, row{Label: "Filed", Value: f.Filed})
	if e := r.Emergency; e != nil {
		out = append(out, row{Label: "Incident", Value: f.Incident}, row{Label: "Emergency reason", Value: oneLine(e.Reason)})
		if f.ReviewDue != "" && e.Review == nil {
			out = append(out, row{Label: "Review due", Value: f.ReviewDue})
		}
	}
	switch n.Type {
	case lockbox.NoteCreated, lockbox.NoteReminder, lockbox.NoteEscalated, lockbox.NoteApproval:
		out = append(out, row{Label: "Decide before", Value: f.Expires})
	case lockbox.NoteExpired:
		out = append(out, row{Label: "Expired", Value: f.Expires})
	}
	if n.Type == lockbox.NoteReceipt && r.Decision != nil {
		out = append(out, row{Label: "Access granted", Value: when(r.Decision.DateTime)})
		if r.Decision.By != "" {
			out = append(out, row{Label: "Approved by", Value: oneLine(r.Decision.By)})
		}
	}
	if f.AccessEnds != "" {
		label := "Access ends"
		switch n.Type {
		case lockbox.NoteCompleted, lockbox.NoteRevoked:
			label = "Access was granted until"
		case lockbox.NoteReceipt:
			label = "Access ended"
		}
		out = append(out, row{Label: label, Value: f.AccessEnds})
	}
	if label := byLabel(n.Type); label != "" && f.By != "" && !f.Auto && (n.Type != lockbox.NoteReceipt || f.Revoked) {
		out = append(out, row{Label: label, Value: f.By})
	}
	return append(out,
		row{Label: "Status", Value: string(r.Status)},
		row{Label: "Request", Value: oneLine(r.RequestID)},
	)
}

// byLabel names the actor of a notification type; "" when the mail does
// not show one.
func byLabel(t lockbox.NotificationType) string {
	switch t {
	case lockbox.NoteApproved, lockbox.NoteApproval:
		return "Approved by"
	case lockbox.NoteDenied:
		return "Denied by"
	case lockbox.NoteRevoked, lockbox.NoteReceipt:
		return "Revoked by"
	case lockbox.NoteCanceled:
		return "Canceled by"
	case lockbox.NoteLockdown:
		return "Locked down by"
	case lockbox.NoteLockdownLifted:
		return "Lifted by"
	case lockbox.NoteEmergency:
		return "Let in by"
	case lockbox.NoteEmergencyDisputed:
		return "Disputed by"
	}
	return ""
}

// reason is the reason given for a decision or a closure, with its label.
func reason(n lockbox.Notification) (label, text string) {
	text = n.Reason
	switch n.Type {
	case lockbox.NoteApproved, lockbox.NoteDenied:
		if text == "" && n.Request.Decision != nil {
			text = n.Request.Decision.Reason
		}
		label = "Reason for the decision"
	case lockbox.NoteRevoked, lockbox.NoteCanceled:
		if text == "" && n.Request.Closure != nil {
			text = n.Request.Closure.Reason
		}
		label = "Reason"
	case lockbox.NoteReceipt:
		if text == "" && n.Request.Closure != nil {
			text = n.Request.Closure.Reason
		}
		label = "Reason for revoking"
	case lockbox.NoteApproval:
		label = "Reason for the approval"
	case lockbox.NoteEmergencyDisputed:
		label = "Reason for the dispute"
	default:
		label = "Reason"
	}
	return label, text
}

// greeting addresses the reader: recipient's name ("Alice" of "Alice
// <a@x>"), the requester's name when recipient is the requester or their
// address (or empty, in mails to the requester), else recipient as given.
func greeting(n lockbox.Notification, recipient string) string {
	name := oneLine(strings.TrimSpace(recipient))
	if a, err := netmail.ParseAddress(name); err == nil {
		switch {
		case a.Name != "":
			name = oneLine(a.Name)
		case n.Request.Requester.Email != "" && strings.EqualFold(a.Address, strings.TrimSpace(n.Request.Requester.Email)):
			name = ""
		}
	}
	if name == "" && (toRequester(n) || recipient != "") {
		name = oneLine(n.Request.Requester.DisplayName)
		if name == "" {
			name = oneLine(n.Request.Requester.ID)
		}
	}
	if name == "" {
		return "Hello,"
	}
	return "Hello " + name + ","
}

// readByRequester reports whether the mail of n to recipient is read by
// the requester: a type told to the requester alone, or a receipt (told to
// the approvers too) sent to the requester's address.
func readByRequester(n lockbox.Notification, recipient string) bool {
	if toRequester(n) {
		return true
	}
	a, err := netmail.ParseAddress(strings.TrimSpace(recipient))
	email := strings.TrimSpace(n.Request.Requester.Email)
	return n.Type == lockbox.NoteReceipt && err == nil && email != "" && strings.EqualFold(a.Address, email)
}

// toRequester reports whether n is told to the requester (rather than to
// approvers or escalation contacts).
func toRequester(n lockbox.Notification) bool {
	switch n.Type {
	case lockbox.NoteApproved, lockbox.NoteDenied:
		return !n.Auto()
	case lockbox.NoteExpired, lockbox.NoteCompleted, lockbox.NoteRevoked, lockbox.NoteEnding:
		return true
	case lockbox.NoteCanceled:
		return n.ByLockdown()
	}
	return false
}

// person shows a requester as "Display Name (id)", or the id alone, on one
// line (lockbox.Requester.Label, as the portal shows them).
func person(p lockbox.Requester) string {
	return lockbox.Requester{ID: oneLine(p.ID), DisplayName: oneLine(p.DisplayName)}.Label()
}

// resources names the requested resources in a sentence: one by its
// name, the last part of its id (the Resources row shows the whole id).
func resources(r lockbox.Request) string {
	kind := oneLine(r.ResourceType)
	switch len(r.ResourceIDs) {
	case 0:
		return kind + " resources"
	case 1:
		id := oneLine(r.ResourceIDs[0])
		parts := pathParts(id)
		return kind + " resource " + cmp.Or(strings.TrimPrefix(parts[len(parts)-1], "/"), id)
	}
	return strconv.Itoa(len(r.ResourceIDs)) + " " + kind + " resources"
}

// when shows an instant in UTC.
func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(timeLayout)
}

// hours shows a number of hours.
func hours(h int) string {
	if h == 1 {
		return "1 hour"
	}
	return strconv.Itoa(h) + " hours"
}

// span shows a duration the way a person says it: "30 minutes", "2 hours",
// "1 hour 30 minutes", "4 days".
func span(d time.Duration) string {
	d = d.Round(time.Minute)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 || h >= 10 {
			return plural(int(d.Round(time.Hour)/time.Hour), "hour")
		}
		return plural(h, "hour") + " " + plural(m, "minute")
	}
	return plural(int(d.Round(24*time.Hour)/(24*time.Hour)), "day")
}

// webLink returns u if it is an absolute http or https URL, else "": other
// links (javascript:, data:) are shown as text, never linked.
func webLink(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return u
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

// indent indents every line of text by two spaces.
func indent(text string) string {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// pad left-aligns a label with its colon in a column of 18 characters.
func pad(label string) string {
	return fmt.Sprintf("%-18s", label+":")
}
