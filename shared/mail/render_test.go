package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
)

const (
	portalURL  = "https://portal.contoso.example/lockbox/"
	requestID  = "6f1c2d7e-0b4a-4c1e-9a55-3f2b8c9d0e1f"
	portalLink = "https://portal.contoso.example/lockbox/requests/" + requestID
	caseURL    = "https://support.provider.example/cases/INC-1001"
)

var (
	filed    = time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	decided  = filed.Add(time.Hour)
	grantEnd = decided.Add(8 * time.Hour)
)

// pending is a request as lockbox-create files it.
func pending() lockbox.Request {
	return lockbox.Request{
		RequestID: requestID, TenantID: "contoso", ResourceType: "postgres", ResourceIDs: []string{"db-1", "db-2"},
		AccessLevel: "ReadOnly", Justification: "Slow queries on the orders table since 08:00.",
		SupportRequest: "INC-1001", SupportCaseURL: caseURL,
		Requester: lockbox.Requester{ID: "eng-7", DisplayName: "Eve Engineer", Email: "eve@provider.example"},
		Status:    lockbox.StatusPending, CreatedDateTime: filed, ExpirationDateTime: filed.Add(96 * time.Hour),
		Duration: 8, RequiredApprovals: 1, Approvals: []lockbox.Approval{},
	}
}

// approved is pending() approved by alice.
func approved() lockbox.Request {
	r := pending()
	r.Status = lockbox.StatusApproved
	r.Decision = &lockbox.Decision{By: "alice", Reason: "matches the incident", DateTime: decided}
	end := grantEnd
	r.AccessExpirationDateTime = &end
	r.AccessActive = true
	return r
}

func withStatus(r lockbox.Request, s lockbox.Status) lockbox.Request {
	r.Status = s
	return r
}

func closedBy(r lockbox.Request, s lockbox.Status, by, reason string) lockbox.Request {
	r.Status = s
	r.Closure = &lockbox.Decision{By: by, Reason: reason, DateTime: decided.Add(time.Hour)}
	return r
}

// used is r with usage: 14 checks of db-1 from 10:40 to 12:05, and two
// SSH certificates.
func used(r lockbox.Request) lockbox.Request {
	first, last := decided.Add(10*time.Minute), decided.Add(95*time.Minute)
	r.Usage = &lockbox.Usage{Checks: 14, Credentials: 2, FirstUseDateTime: &first, LastUseDateTime: &last,
		Resources: []lockbox.ResourceUsage{{ResourceID: "db-1", Checks: 14, FirstUseDateTime: first, LastUseDateTime: last}}}
	return r
}

func quorum() lockbox.Request {
	r := pending()
	r.RequiredApprovals = 2
	r.Approvals = []lockbox.Approval{{By: "alice", Reason: "looks right", DateTime: decided, Duration: 4}}
	return r
}

var (
	engineer = lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"}
	system   = lockbox.Actor{Kind: lockbox.ActorSystem, ID: lockbox.SystemActor}
	alice    = lockbox.Actor{Kind: lockbox.ActorApprover, ID: "alice"}
)

// renderCase is one notification and what its mail must say.
type renderCase struct {
	n       lockbox.Notification
	subject string
	text    []string // in the text body, and (HTML-escaped) in the HTML body
}

func renderCases() map[string]renderCase {
	note := func(t lockbox.NotificationType, r lockbox.Request, at time.Time, by lockbox.Actor, reason string) lockbox.Notification {
		return lockbox.Notification{ID: "note-" + string(t), Type: t, Request: r, Time: at, Actor: by, Reason: reason}
	}
	rule := func(name string) lockbox.Actor {
		return lockbox.Actor{Kind: lockbox.ActorSystem, ID: lockbox.RuleActor(name)}
	}
	autoApproved := approved()
	autoApproved.Decision = &lockbox.Decision{By: lockbox.RuleActor("weekday-readonly"), Reason: "rule weekday-readonly", DateTime: filed}
	autoDenied := withStatus(pending(), lockbox.StatusDenied)
	autoDenied.Decision = &lockbox.Decision{By: lockbox.RuleActor("no-writes"), Reason: "rule no-writes", DateTime: filed}
	denied := withStatus(pending(), lockbox.StatusDenied)
	denied.Decision = &lockbox.Decision{By: "bob", Reason: "no customer consent yet", DateTime: decided}

	return map[string]renderCase{
		"created": {note(lockbox.NoteCreated, pending(), filed, engineer, ""),
			"[contoso] INC-1001: access request awaiting your approval",
			[]string{"Eve Engineer (eng-7) asks for ReadOnly access to 2 postgres resources for support case INC-1001",
				"Fri 2026-05-08 09:30 UTC", "Review and decide", "as an approver"}},
		"reminder": {note(lockbox.NoteReminder, pending(), filed.Add(94*time.Hour), system, ""),
			"[contoso] INC-1001: access request awaiting approval, closes in 2 hours",
			[]string{"closes in 2 hours, at Fri 2026-05-08 09:30 UTC", "Decide before"}},
		"escalated": {note(lockbox.NoteEscalated, pending(), filed.Add(24*time.Hour), system, ""),
			"[contoso] INC-1001: escalation: access request still undecided",
			[]string{"Nobody has decided", "filed Mon 2026-05-04 09:30 UTC", "Fri 2026-05-08 09:30 UTC", "escalation contact"}},
		"approval step": {note(lockbox.NoteApproval, quorum(), decided, alice, "looks right"),
			"[contoso] INC-1001: 1 of 2 approvals, access request awaiting 1 more",
			[]string{"alice approved the request of Eve Engineer (eng-7)", "Approvals: 1 of 2",
				"alice, Mon 2026-05-04 10:30 UTC, for 4 hours: looks right", "needs 1 more"}},
		"approved": {note(lockbox.NoteApproved, approved(), decided, alice, "matches the incident"),
			"[contoso] INC-1001: access approved",
			[]string{"alice approved your request", "The access lasts until Mon 2026-05-04 18:30 UTC",
				"Access ends", "Approved by", "matches the incident", "Hello Eve Engineer,"}},
		"approved by a rule": {note(lockbox.NoteApproved, autoApproved, filed, rule("weekday-readonly"), "rule weekday-readonly"),
			"[contoso] INC-1001: access approved automatically (rule weekday-readonly)",
			[]string{`because rule "weekday-readonly" of tenant contoso matched it`, "Mon 2026-05-04 18:30 UTC"}},
		"approved, Lockbox off": {note(lockbox.NoteApproved, autoApproved, filed, system, "Lockbox is off for this tenant"),
			"[contoso] INC-1001: access approved automatically (Lockbox is off)",
			[]string{"because Lockbox is off for tenant contoso"}},
		"denied": {note(lockbox.NoteDenied, denied, decided, lockbox.Actor{Kind: lockbox.ActorApprover, ID: "bob"}, "no customer consent yet"),
			"[contoso] INC-1001: access denied",
			[]string{"bob denied your request", "Denied by", "no customer consent yet"}},
		"denied by a rule": {note(lockbox.NoteDenied, autoDenied, filed, rule("no-writes"), "rule no-writes"),
			"[contoso] INC-1001: access denied automatically (rule no-writes)",
			[]string{`Lockbox denied the request of Eve Engineer (eng-7)`, `rule "no-writes"`}},
		"expired": {note(lockbox.NoteExpired, withStatus(pending(), lockbox.StatusExpired), filed.Add(96*time.Hour), system, ""),
			"[contoso] INC-1001: access request expired",
			[]string{"expired at Fri 2026-05-08 09:30 UTC", "nobody decided it"}},
		"completed": {note(lockbox.NoteCompleted, withStatus(approved(), lockbox.StatusCompleted), grantEnd, system, ""),
			"[contoso] INC-1001: access ended",
			[]string{"ended at Mon 2026-05-04 18:30 UTC"}},
		"revoked": {note(lockbox.NoteRevoked, closedBy(approved(), lockbox.StatusRevoked, "admin-1", "incident closed"), decided.Add(time.Hour),
			lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "admin-1"}, "incident closed"),
			"[contoso] INC-1001: access revoked",
			[]string{"admin-1 revoked your ReadOnly access", "Revoked by", "incident closed"}},
		"canceled": {note(lockbox.NoteCanceled, closedBy(pending(), lockbox.StatusCanceled, "eng-7", "fixed without access"), decided, engineer, "fixed without access"),
			"[contoso] INC-1001: access request canceled",
			[]string{"Eve Engineer (eng-7) withdrew their request", "Nothing is left to decide", "fixed without access"}},
		"receipt, revoked": {note(lockbox.NoteReceipt, used(closedBy(approved(), lockbox.StatusRevoked, "admin-1", "incident closed")),
			decided.Add(time.Hour), lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "admin-1"}, "incident closed"),
			"[contoso] INC-1001: access receipt",
			[]string{"The grant of Eve Engineer (eng-7) for ReadOnly access to 2 postgres resources (support case INC-1001) ended at Mon 2026-05-04 18:30 UTC, revoked by admin-1.",
				"It was used from Mon 2026-05-04 10:40 UTC to Mon 2026-05-04 12:05 UTC: 14 access checks on 1 of its 2 resources and 2 SSH certificates issued.",
				"Access used", "14 checks, first Mon 2026-05-04 10:40 UTC, last Mon 2026-05-04 12:05 UTC", "not used", "2 SSH certificates",
				"Approved by", "Revoked by", "Reason for revoking", "incident closed", "as an approver"}},
		"receipt, completed, not used": {note(lockbox.NoteReceipt, withStatus(approved(), lockbox.StatusCompleted), grantEnd, system, ""),
			"[contoso] INC-1001: access receipt, grant not used",
			[]string{"ended at Mon 2026-05-04 18:30 UTC, as its hours ran out. It was not used.",
				"No check allowed access to any of its resources, and no credential was issued.", "Access ended", "as an approver"}},
		"ending": {note(lockbox.NoteEnding, approved(), grantEnd.Add(-lockbox.EndingNotice), system, ""),
			"[contoso] INC-1001: your access ends in 30 minutes",
			[]string{"ends in 30 minutes, at Mon 2026-05-04 18:30 UTC"}},
	}
}

// TestRenderEveryType renders every notification type and checks the
// subject and that both bodies carry everything an approver needs.
func TestRenderEveryType(t *testing.T) {
	types := map[lockbox.NotificationType]bool{}
	for name, c := range renderCases() {
		t.Run(name, func(t *testing.T) {
			types[c.n.Type] = true
			recipient := "Alice Approver"
			if c.n.Type == lockbox.NoteApproved && !c.n.Auto() {
				recipient = "" // the requester's mail: addressed by the requester's name
			}
			subject, text, html, err := mail.Render(c.n, portalURL, recipient)
			require.NoError(t, err)
			assert.Equal(t, c.subject, subject, "subject")

			common := []string{
				"Eve Engineer (eng-7)", "postgres", "db-1", "db-2", "ReadOnly", "8 hours",
				"Slow queries on the orders table since 08:00.", "INC-1001", "contoso",
				"Filed", "Mon 2026-05-04 09:30 UTC", requestID, portalLink,
			}
			for _, want := range append(common, c.text...) {
				assert.Contains(t, text, want, "text body")
				assert.Contains(t, html, escapeHTML(want), "HTML body")
			}
			assert.Contains(t, text, "Support case:      INC-1001 <"+caseURL+">", "text: the support case with its link")
			assert.Contains(t, html, `href="`+caseURL+`"`, "HTML: the support case's link")
			assert.Contains(t, html, `<a href="`+portalLink+`" style="display:inline-block;`, "HTML: the portal button")
			assert.Contains(t, html, `<title>`+escapeHTML(c.subject)+`</title>`, "HTML title")
			if recipient != "" {
				assert.Contains(t, text, "Hello Alice Approver,", "greeting")
			}
			assertSelfContained(t, html)
		})
	}
	assert.Len(t, types, 12, "every notification type is rendered")
}

// assertSelfContained checks that an HTML body loads nothing and runs
// nothing, and is laid out for phones.
func assertSelfContained(t *testing.T, html string) {
	t.Helper()
	lower := strings.ToLower(html)
	for _, banned := range []string{"<script", "<img", "<link", "<style", "<iframe", " src=", "url(", "javascript:", "@import"} {
		assert.NotContains(t, lower, banned, "HTML body")
	}
	assert.Contains(t, html, `<meta name="viewport" content="width=device-width, initial-scale=1">`, "HTML: phone viewport")
	assert.Contains(t, html, `max-width:600px`, "HTML: one narrow column")
}

func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestRenderEscapesHostileValues(t *testing.T) {
	r := pending()
	r.Justification = `<script>alert("x")</script> & "quotes"`
	r.Requester.DisplayName = `<b onmouseover="alert(1)">Eve</b>`
	r.ResourceIDs = []string{`db-1"><img src=x onerror=alert(1)>`}
	r.SupportCaseURL = "javascript:alert(1)"
	r.SupportRequest = "INC-1001\r\nBcc: victim@example.com"
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteCreated, Request: r, Time: filed, Actor: engineer}

	subject, text, html, err := mail.Render(n, portalURL, `<i>Alice</i>`)
	require.NoError(t, err)
	assert.Equal(t, "[contoso] INC-1001  Bcc: victim@example.com: access request awaiting your approval", subject,
		"the subject stays one line")
	assert.Contains(t, html, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;`, "justification escaped")
	assert.Contains(t, html, `&lt;b onmouseover=&#34;alert(1)&#34;&gt;Eve&lt;/b&gt;`, "display name escaped")
	assert.Contains(t, html, `db-1&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`, "resource escaped")
	assert.Contains(t, html, `Hello &lt;i&gt;Alice&lt;/i&gt;,`, "recipient escaped")
	assert.NotContains(t, html, "javascript:", "a support case link that is no web link is left out")
	assertNoMarkup(t, html)
	assert.Contains(t, text, `<script>alert("x")</script> & "quotes"`, "the text body is plain text")
}

// assertNoMarkup checks that no hostile value became markup.
func assertNoMarkup(t *testing.T, html string) {
	t.Helper()
	for _, banned := range []string{"<script", "<img", "<b ", "<i>", "onmouseover=\""} {
		assert.NotContains(t, html, banned, "HTML body")
	}
}

func TestRenderWithoutPortal(t *testing.T) {
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteCreated, Request: pending(), Time: filed, Actor: engineer}
	_, text, html, err := mail.Render(n, "", "")
	require.NoError(t, err)
	assert.NotContains(t, text, "/requests/", "no portal link without portal_url")
	assert.NotContains(t, html, "Review and decide", "no button without a link")
	assert.Contains(t, text, "Hello,\n", "a neutral greeting for an approver without a name")
}

func TestRenderPortalLinkMustBeAWebLink(t *testing.T) {
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteCreated, Request: pending(), Time: filed, Actor: engineer}
	_, text, html, err := mail.Render(n, "javascript:alert(1)//", "")
	require.NoError(t, err)
	assert.NotContains(t, text, "javascript:", "text body")
	assert.NotContains(t, html, "javascript:", "HTML body")
}

func TestRenderQuorumReached(t *testing.T) {
	r := quorum()
	r.Approvals = append(r.Approvals, lockbox.Approval{By: "bob", DateTime: decided.Add(time.Minute), Duration: 8})
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteApproval, Request: r, Time: decided, Actor: alice}
	subject, text, _, err := mail.Render(n, portalURL, "")
	require.NoError(t, err)
	assert.Equal(t, "[contoso] INC-1001: 2 of 2 approvals", subject, "a step delivered after the quorum was reached")
	assert.Contains(t, text, "It now has the 2 approvals it needs.")
}

func TestRenderGreetsTheRequester(t *testing.T) {
	r := approved()
	r.Requester.DisplayName = ""
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteApproved, Request: r, Time: decided, Actor: alice}
	_, text, _, err := mail.Render(n, portalURL, "")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(text, "Hello eng-7,\n"), "got %q, want the requester's id", strings.SplitN(text, "\n", 2)[0])
}

func TestRenderGreeting(t *testing.T) {
	created := lockbox.Notification{ID: "n", Type: lockbox.NoteCreated, Request: pending(), Time: filed, Actor: engineer}
	granted := lockbox.Notification{ID: "n", Type: lockbox.NoteApproved, Request: approved(), Time: decided, Actor: alice}
	cases := []struct {
		n         lockbox.Notification
		recipient string
		want      string
	}{
		{created, "Alice Approver <alice@contoso.example>", "Hello Alice Approver,"},
		{created, "alice@contoso.example", "Hello alice@contoso.example,"},
		{created, "Alice", "Hello Alice,"},
		{created, "", "Hello,"},
		{granted, "EVE@provider.example", "Hello Eve Engineer,"},
		{granted, "", "Hello Eve Engineer,"},
		{granted, "Eve <eve@provider.example>", "Hello Eve,"},
	}
	for _, c := range cases {
		_, text, html, err := mail.Render(c.n, portalURL, c.recipient)
		require.NoError(t, err)
		got := strings.SplitN(text, "\n", 2)[0]
		assert.Equal(t, c.want, got, "greeting of a %s mail to %q", c.n.Type, c.recipient)
		assert.Contains(t, html, escapeHTML(c.want), "HTML greeting")
	}
}

func TestRenderUnknownType(t *testing.T) {
	_, _, _, err := mail.Render(lockbox.Notification{ID: "n", Type: "exploded", Request: pending()}, portalURL, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown type "exploded"`)
}

func TestRenderTextLayout(t *testing.T) {
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteCreated, Request: pending(), Time: filed, Actor: engineer}
	_, text, _, err := mail.Render(n, portalURL, "Alice Approver")
	require.NoError(t, err)
	want := `Hello Alice Approver,

Eve Engineer (eng-7) asks for ReadOnly access to 2 postgres resources for support case INC-1001. Approve or deny it before Fri 2026-05-08 09:30 UTC; without a decision it expires then.

Review and decide:
` + portalLink + `

Support case:      INC-1001 <` + caseURL + `>
Tenant:            contoso
Requested by:      Eve Engineer (eng-7)
Resource type:     postgres
Resources:         db-1, db-2
Access level:      ReadOnly
Access asked:      8 hours
Filed:             Mon 2026-05-04 09:30 UTC
Decide before:     Fri 2026-05-08 09:30 UTC
Status:            Pending
Request:           ` + requestID + `

Justification:
  Slow queries on the orders table since 08:00.

-- 
You receive this mail as an approver of Lockbox requests for tenant contoso.
`
	assert.Equal(t, want, text, "the created mail's text body")
}

// A receipt lists every resource of the grant with its checks and first
// and last use, or "not used", and the credentials issued, before the
// request's values (whose resources it does not repeat).
func TestRenderReceiptTextLayout(t *testing.T) {
	const (
		vm1 = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/vm-orders-db-primary-01"
		vm2 = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/vm-orders-db-replica-02"
		vm3 = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/vm-orders-api-03"
	)
	r := withStatus(approved(), lockbox.StatusCompleted)
	r.ResourceType, r.ResourceIDs, r.AccessLevel, r.Justification = "Microsoft.Compute/virtualMachines", []string{vm1, vm2, vm3}, "Read", ""
	at := func(m int) time.Time { return decided.Add(time.Duration(m) * time.Minute) }
	first, last := at(12), at(187)
	r.Usage = &lockbox.Usage{Checks: 41, FirstUseDateTime: &first, LastUseDateTime: &last, Resources: []lockbox.ResourceUsage{
		{ResourceID: vm1, Checks: 40, FirstUseDateTime: at(12), LastUseDateTime: at(187)},
		{ResourceID: vm3, Checks: 1, FirstUseDateTime: at(30), LastUseDateTime: at(30)},
	}}
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteReceipt, Request: r, Time: grantEnd, Actor: system}
	subject, text, html, err := mail.Render(n, portalURL, "Alice Approver <alice@contoso.example>")
	require.NoError(t, err)
	assert.Equal(t, "[contoso] INC-1001: access receipt", subject)
	want := `Hello Alice Approver,

The grant of Eve Engineer (eng-7) for Read access to 3 Microsoft.Compute/virtualMachines resources (support case INC-1001) ended at Mon 2026-05-04 18:30 UTC, as its hours ran out. It was used from Mon 2026-05-04 10:42 UTC to Mon 2026-05-04 13:37 UTC: 41 access checks on 2 of its 3 resources.

View the request:
` + portalLink + `

Access used:
  ` + vm1 + `
    40 checks, first Mon 2026-05-04 10:42 UTC, last Mon 2026-05-04 13:37 UTC
  ` + vm2 + `
    not used
  ` + vm3 + `
    1 check, at Mon 2026-05-04 11:00 UTC
  Credentials issued: none

Support case:      INC-1001 <` + caseURL + `>
Tenant:            contoso
Requested by:      Eve Engineer (eng-7)
Resource type:     Microsoft.Compute/virtualMachines
Access level:      Read
Access asked:      8 hours
Filed:             Mon 2026-05-04 09:30 UTC
Access granted:    Mon 2026-05-04 10:30 UTC
Approved by:       alice
Access ended:      Mon 2026-05-04 18:30 UTC
Status:            Completed
Request:           ` + requestID + `

-- 
You receive this mail as an approver of Lockbox requests for tenant contoso.
`
	assert.Equal(t, want, text, "the receipt's text body")
	assert.Equal(t, 1, strings.Count(text, vm1), "each resource once: under Access used, not again among the values")
	for _, id := range []string{vm1, vm2, vm3} {
		i := strings.LastIndexByte(id, '/')
		assert.Contains(t, html, ">"+strings.ReplaceAll(id[:i], "/", "<wbr>/")[len("<wbr>"):]+"<wbr><strong>"+id[i:]+"</strong>\n</div>",
			"HTML: the resource, a line may break before each /, its name in bold")
	}
	assert.Contains(t, html, ">40 checks, first Mon 2026-05-04 10:42 UTC, last Mon 2026-05-04 13:37 UTC</div>")
	assert.Contains(t, html, `color:#6b7280;">not used</div>`, "HTML: an unused resource in grey")
	assertSelfContained(t, html)
}

// A receipt goes to the approvers and the requester, each worded for its
// reader; the requester's is told by their address.
func TestRenderReceiptToEachReader(t *testing.T) {
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteReceipt, Request: used(closedBy(approved(), lockbox.StatusRevoked, "admin-1", "done")),
		Time: decided.Add(time.Hour), Actor: lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "admin-1"}, Reason: "done"}
	cases := []struct {
		recipient, greeting, lead, footer string
	}{
		{"Alice Approver <alice@contoso.example>", "Hello Alice Approver,", "The grant of Eve Engineer (eng-7) for ReadOnly access",
			"as an approver of Lockbox requests for tenant contoso"},
		{"oncall@contoso.example", "Hello oncall@contoso.example,", "The grant of Eve Engineer (eng-7)", "as an approver"},
		{"EVE@provider.example", "Hello Eve Engineer,", "Your grant for ReadOnly access", "you are the engineer named on this Lockbox request"},
	}
	for _, c := range cases {
		_, text, html, err := mail.Render(n, portalURL, c.recipient)
		require.NoError(t, err)
		for _, want := range []string{c.greeting, c.lead, c.footer} {
			assert.Contains(t, text, want, "to %s", c.recipient)
			assert.Contains(t, html, escapeHTML(want), "to %s (HTML)", c.recipient)
		}
	}
}

// A receipt's resources are user text: escaped in the HTML body like every
// other value.
func TestRenderReceiptEscapesResources(t *testing.T) {
	r := used(closedBy(approved(), lockbox.StatusRevoked, "admin-1", "done"))
	hostile := `db-1"><img src=x onerror=alert(1)>`
	r.ResourceIDs[0], r.Usage.Resources[0].ResourceID = hostile, hostile
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteReceipt, Request: r, Time: decided, Actor: alice}
	_, text, html, err := mail.Render(n, portalURL, "")
	require.NoError(t, err)
	assert.Contains(t, html, `db-1&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`)
	assertNoMarkup(t, html)
	assert.Contains(t, text, hostile+"\n    14 checks", "the text body is plain text")
}

// Checks within one minute are said at once, not as a first and a last use
// that read the same.
func TestRenderReceiptChecksInOneMinute(t *testing.T) {
	r := used(withStatus(approved(), lockbox.StatusCompleted))
	last := r.Usage.Resources[0].FirstUseDateTime.Add(20 * time.Second)
	r.Usage.Resources[0].LastUseDateTime, r.Usage.LastUseDateTime = last, &last
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteReceipt, Request: r, Time: grantEnd, Actor: system}
	_, text, _, err := mail.Render(n, portalURL, "")
	require.NoError(t, err)
	assert.Contains(t, text, "db-1\n    14 checks, at Mon 2026-05-04 10:40 UTC\n")
	assert.Contains(t, text, "It was used at Mon 2026-05-04 10:40 UTC: 14 access checks")
}

// An Azure resource id: the lead names the resource by its name, the
// Resources row shows the whole id, and the HTML body lets it break before
// each "/" and shows the name in bold.
func TestRenderAzureResourceID(t *testing.T) {
	const id = "/subscriptions/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/resourceGroups/contoso-production-westeurope-rg/providers/Microsoft.Compute/virtualMachines/contoso-prod-sql-vm-westeurope-001"
	r := pending()
	r.ResourceType, r.ResourceIDs = "Microsoft.Compute/virtualMachines", []string{id}
	_, text, html, err := mail.Render(lockbox.Notification{ID: "n1", Type: lockbox.NoteCreated, Request: r, Time: filed, Actor: engineer}, portalURL, "")
	require.NoError(t, err)
	assert.Contains(t, text, "asks for ReadOnly access to Microsoft.Compute/virtualMachines resource contoso-prod-sql-vm-westeurope-001 for support case INC-1001")
	assert.Contains(t, text, "Resources:         "+id)
	assert.Contains(t, html, "/contoso-production-westeurope-rg<wbr>/providers<wbr>/Microsoft.Compute<wbr>/virtualMachines<wbr><strong>/contoso-prod-sql-vm-westeurope-001</strong>")
	assert.Contains(t, html, "table-layout:fixed", "the card keeps the width it is given")
}

// The approver's mail of a request the provider checked says what it
// checked ("Checked by the provider: …"), in both bodies; one without
// checks (no provider policy) says nothing of them.
func TestRenderProviderChecks(t *testing.T) {
	r := pending()
	r.ProviderChecks = &lockbox.ProviderChecks{MFA: true, InternalApprovalsRequired: 1, PolicyRule: "vm-write",
		InternalApprovals: []lockbox.InternalApproval{{By: "lead-1@provider.example", DateTime: filed.Add(-time.Hour)}}}
	n := lockbox.Notification{ID: "n", Type: lockbox.NoteCreated, Request: r, Time: filed, Actor: engineer}
	_, text, html, err := mail.Render(n, portalURL, "Alice Approver")
	require.NoError(t, err)
	assert.Contains(t, text, `
Checked by the provider:
  - Multi-factor authentication: yes
  - Isolated identity: not shown by the engineer's sign-in
  - Internal approval: lead-1@provider.example (Mon 2026-05-04 08:30 UTC)
  - Policy rule: vm-write
`)
	assert.Contains(t, html, "Checked by the provider:")
	assert.Contains(t, html, "<li style=\"margin:2px 0;word-break:break-word;\">Internal approval: lead-1@provider.example (Mon 2026-05-04 08:30 UTC)</li>")

	_, text, html, err = mail.Render(lockbox.Notification{ID: "n", Type: lockbox.NoteCreated, Request: pending(), Time: filed, Actor: engineer},
		portalURL, "")
	require.NoError(t, err)
	assert.NotContains(t, text, "Checked by the provider")
	assert.NotContains(t, html, "Checked by the provider")
}
