package webhook_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/webhook"
)

const portal = "https://lockbox.example.com/portal/"

var (
	filed = time.Date(2026, 3, 2, 9, 30, 0, 123_000_000, time.UTC)
	// hostile is user text that would format, link or mention if it were
	// not escaped, in Slack's mrkdwn and in the card's Markdown.
	hostile = `<!channel> <https://evil.example|click here> & *bold* _it_ ~s~ ` + "`code`" + ` [phish](https://evil.example) <b>html</b> \ &amp;`
)

// request is a request as the API returns it.
func request() lockbox.Request {
	return lockbox.Request{
		RequestID:          "5f0c2a9e-8d1b-4c3e-9a7f-2b6d1e4c8a90",
		TenantID:           "contoso",
		SubscriptionID:     "sub-1",
		ResourceType:       "Microsoft.Storage/storageAccounts",
		ResourceIDs:        []string{"/subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.Storage/storageAccounts/logs01"},
		AccessLevel:        "ReadOnly",
		Justification:      "Customer reports missing blobs since 08:00 UTC; need to inspect the account's diagnostics.",
		SupportRequest:     "CASE-4711",
		SupportCaseURL:     "https://support.example.com/cases/4711?tab=details&lang=en",
		WorkItemSource:     "jira",
		Requester:          lockbox.Requester{ID: "alice@support.example.com", DisplayName: "Alice Engineer", Email: "alice@support.example.com"},
		Status:             lockbox.StatusPending,
		CreatedDateTime:    filed,
		ExpirationDateTime: filed.Add(96 * time.Hour),
		Duration:           8,
		RequiredApprovals:  1,
		Approvals:          []lockbox.Approval{},
	}
}

func created() lockbox.Notification {
	return lockbox.Notification{ID: "n-1", Type: lockbox.NoteCreated, Request: request(), Time: filed,
		Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "alice@support.example.com"}}
}

// noteOf returns a notification of type t, with the request as it would
// stand.
func noteOf(t lockbox.NotificationType) lockbox.Notification {
	n := created()
	n.Type = t
	until := filed.Add(9 * time.Hour)
	switch t {
	case lockbox.NoteApproved, lockbox.NoteCompleted, lockbox.NoteRevoked, lockbox.NoteReceipt:
		n.Request.Status = map[lockbox.NotificationType]lockbox.Status{lockbox.NoteApproved: lockbox.StatusApproved,
			lockbox.NoteCompleted: lockbox.StatusCompleted, lockbox.NoteRevoked: lockbox.StatusRevoked, lockbox.NoteReceipt: lockbox.StatusRevoked}[t]
		n.Request.Decision = &lockbox.Decision{By: "bob@contoso.com", Reason: "ok", DateTime: filed.Add(time.Hour)}
		n.Request.AccessExpirationDateTime = &until
		n.Actor = lockbox.Actor{Kind: lockbox.ActorApprover, ID: "bob@contoso.com"}
		n.Reason = "Looks right for the case"
		if t == lockbox.NoteReceipt {
			n.Request.Usage = usage(n.Request.ResourceIDs[0], 14, filed.Add(2*time.Hour), filed.Add(4*time.Hour+20*time.Minute))
		}
	case lockbox.NoteDenied:
		n.Request.Status = lockbox.StatusDenied
		n.Actor = lockbox.Actor{Kind: lockbox.ActorSystem, ID: "rule:weekend-deny"}
		n.Reason = "rule weekend-deny"
	case lockbox.NoteCanceled:
		n.Request.Status = lockbox.StatusCanceled
		n.Reason = "filed by mistake"
	case lockbox.NoteExpired:
		n.Request.Status = lockbox.StatusExpired
		n.Actor = lockbox.Actor{Kind: lockbox.ActorSystem, ID: lockbox.SystemActor}
	}
	return n
}

// usage is the usage of a grant whose resource was checked checks times
// from first to last, with two SSH certificates issued.
func usage(resource string, checks int, first, last time.Time) *lockbox.Usage {
	return &lockbox.Usage{Checks: checks, Credentials: 2, FirstUseDateTime: &first, LastUseDateTime: &last,
		Resources: []lockbox.ResourceUsage{{ResourceID: resource, Checks: checks, FirstUseDateTime: first, LastUseDateTime: last}}}
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), "got invalid JSON %s", body)
	return m
}

func TestWants(t *testing.T) {
	all := lockbox.Webhook{ID: "all", Format: lockbox.FormatStandard}
	some := lockbox.Webhook{ID: "some", Format: lockbox.FormatSlack, Events: []string{"created", "escalated"}}
	for _, typ := range lockbox.NotificationTypes {
		nt := lockbox.NotificationType(typ)
		assert.True(t, webhook.Wants(all, nt), "%s, no events: got false, want true", typ)
		want := typ == "created" || typ == "escalated"
		assert.Equal(t, want, webhook.Wants(some, nt), "%s, events %v: got %v, want %v", typ, some.Events, !want, want)
	}
	for _, nt := range []lockbox.NotificationType{lockbox.NoteApproval, lockbox.NoteEnding, "", "bogus"} {
		assert.False(t, webhook.Wants(all, nt), "mail-only %q, no events: got true, want false", nt)
		listed := lockbox.Webhook{Events: []string{string(nt)}}
		assert.False(t, webhook.Wants(listed, nt), "mail-only %q listed: got true, want false", nt)
	}
}

// TestPayloadStandard: {"type", "timestamp", "data"}, data as the API
// returns the request (not HTML-escaped), for every type.
func TestPayloadStandard(t *testing.T) {
	for _, typ := range lockbox.NotificationTypes {
		n := noteOf(lockbox.NotificationType(typ))
		if n.TenantWide() {
			continue // TestPayloadTenant
		}
		n.Request.Justification = hostile
		body, err := webhook.Payload(lockbox.FormatStandard, n, portal)
		require.NoError(t, err, typ)

		m := decode(t, body)
		assert.Len(t, m, 3, "%s: got keys %v, want type, timestamp, data", typ, m)
		want := map[string]string{"emergency": "lockbox.emergency.granted", "emergencyDisputed": "lockbox.emergency.disputed",
			"emergencyUnreviewed": "lockbox.emergency.unreviewed"}[typ]
		if want == "" {
			want = "lockbox.request." + typ
		}
		assert.Equal(t, want, m["type"], "%s: got type %v, want %s", typ, m["type"], want)
		ts, err := time.Parse(time.RFC3339, fmt.Sprint(m["timestamp"]))
		require.NoError(t, err, "%s: got timestamp %v, want RFC 3339", typ, m["timestamp"])
		assert.True(t, ts.Equal(n.Time), "%s: got timestamp %s, want %s", typ, ts, n.Time)

		api, err := json.Marshal(n.Request)
		require.NoError(t, err)
		var wantData, gotData any
		require.NoError(t, json.Unmarshal(api, &wantData))
		require.NoError(t, json.Unmarshal(mustRaw(t, body, "data"), &gotData))
		assert.Equal(t, wantData, gotData, "%s: got data %v, want the request as the API returns it", typ, gotData)
		assert.Contains(t, string(body), `"justification":"<!channel>`, "%s: got %s, want JSON without HTML escaping, as the API", typ, body)
		assert.NotContains(t, string(body), "FiledBy", "%s: got internal fields, want the API's", typ)
	}
}

func mustRaw(t *testing.T, body []byte, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	return m[key]
}

func TestPayloadRefusesMailOnlyTypesAndUnknownFormats(t *testing.T) {
	for _, typ := range []lockbox.NotificationType{lockbox.NoteApproval, lockbox.NoteEnding, "bogus"} {
		for _, f := range []string{lockbox.FormatStandard, lockbox.FormatSlack, lockbox.FormatTeams} {
			n := created()
			n.Type = typ
			_, err := webhook.Payload(f, n, portal)
			assert.Error(t, err, "%s in %s: got a payload, want a refusal", typ, f)
		}
	}
	for _, f := range []string{"", "Slack", "discord"} {
		_, err := webhook.Payload(f, created(), portal)
		assert.Error(t, err, "format %q: got a payload, want a refusal", f)
	}
}

// The Slack message's shape, decoded strictly.
type slackMsg struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"fields"`
		Elements []struct {
			Type string `json:"type"`
			Text struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			URL      string `json:"url"`
			ActionID string `json:"action_id"`
		} `json:"elements"`
	} `json:"blocks"`
}

func slackOf(t *testing.T, n lockbox.Notification, portalURL string) (slackMsg, string) {
	t.Helper()
	body, err := webhook.Payload(lockbox.FormatSlack, n, portalURL)
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	var m slackMsg
	require.NoError(t, dec.Decode(&m), "got %s, want a Slack message", body)
	return m, string(body)
}

// slackTexts are every text of m, with the limit Slack sets on it.
func slackTexts(m slackMsg) map[string]int {
	out := map[string]int{m.Text: 40000}
	for _, b := range m.Blocks {
		if b.Text != nil {
			limit := 3000
			if b.Type == "header" {
				limit = 150
			}
			out[b.Text.Text] = limit
		}
		for _, f := range b.Fields {
			out[f.Text] = 2000
		}
	}
	return out
}

func TestPayloadSlack(t *testing.T) {
	m, _ := slackOf(t, created(), portal)

	assert.Contains(t, m.Text, "New access request", "got text %q, want the one-liner", m.Text)
	assert.Contains(t, m.Text, "contoso", "got text %q, want the tenant", m.Text)
	assert.Contains(t, m.Text, "CASE-4711", "got text %q, want the support case", m.Text)

	var types []string
	for _, b := range m.Blocks {
		types = append(types, b.Type)
	}
	want := []string{"header", "section", "section", "section", "actions"}
	assert.Equal(t, want, types, "got blocks %v, want %v", types, want)
	assert.Equal(t, "plain_text", m.Blocks[0].Text.Type, "got header %+v, want plain_text", m.Blocks[0].Text)
	assert.Equal(t, "New access request", m.Blocks[0].Text.Text, "got header %q", m.Blocks[0].Text.Text)

	fields := m.Blocks[1].Fields
	assert.LessOrEqual(t, len(fields), 10, "got %d fields, want at most 10", len(fields))
	var all []string
	for _, f := range fields {
		assert.Equal(t, "mrkdwn", f.Type, "got field type %q, want mrkdwn", f.Type)
		all = append(all, f.Text)
	}
	joined := strings.Join(all, "\n")
	for _, w := range []string{
		"*Tenant*\ncontoso",
		"*Support case*\n<https://support.example.com/cases/4711?tab=details&amp;lang=en|CASE-4711>",
		"*Requester*\nAlice Engineer (alice@support.example.com)",
		"*Access level*\nReadOnly",
		"*Status*\nPending",
		"*Duration*\n8 h",
		"*Approval window closes*\n2026-03-06 09:30 UTC",
	} {
		assert.Contains(t, joined, w, "got fields %q, want %q", joined, w)
	}
	assert.Contains(t, m.Blocks[2].Text.Text, "*Resources* (Microsoft.Storage/storageAccounts)\n• /subscriptions/sub-1/", "got %q", m.Blocks[2].Text.Text)
	assert.Contains(t, m.Blocks[3].Text.Text, "*Justification*\nCustomer reports missing blobs", "got %q", m.Blocks[3].Text.Text)

	actions := m.Blocks[4].Elements
	require.Len(t, actions, 1, "got %d elements, want one button", len(actions))
	wantURL := "https://lockbox.example.com/portal/requests/5f0c2a9e-8d1b-4c3e-9a7f-2b6d1e4c8a90"
	assert.Equal(t, "button", actions[0].Type, "got %q, want button", actions[0].Type)
	assert.Equal(t, wantURL, actions[0].URL, "got button url %q, want %q", actions[0].URL, wantURL)
	assert.Equal(t, "plain_text", actions[0].Text.Type, "got button text %+v", actions[0].Text)
	assert.NotEmpty(t, actions[0].ActionID, "got no action_id, want one")

	for text, limit := range slackTexts(m) {
		assert.LessOrEqual(t, utf8.RuneCountInString(text), limit, "got %d characters in %q, want at most %d", utf8.RuneCountInString(text), text, limit)
	}
	_, noPortal := slackOf(t, created(), "")
	assert.NotContains(t, noPortal, `"actions"`, "got %s, want no button without a portal URL", noPortal)
	assert.NotContains(t, noPortal, `"button"`, "got %s, want no button without a portal URL", noPortal)
}

// TestPayloadSlackByType: each type's headline and who acted.
func TestPayloadSlackByType(t *testing.T) {
	for typ, want := range map[lockbox.NotificationType][]string{
		lockbox.NoteCreated:   {"New access request"},
		lockbox.NoteApproved:  {"Access request approved", "*Approved by*\nbob@contoso.com", "*Access until*\n2026-03-02 18:30 UTC", "*Reason*\nLooks right"},
		lockbox.NoteDenied:    {"Access request denied automatically", "*Decided by*\nrule:weekend-deny", "*Reason*\nrule weekend-deny"},
		lockbox.NoteExpired:   {"Access request expired"},
		lockbox.NoteCompleted: {"Access ended", "*Access ended*\n2026-03-02 18:30 UTC"},
		lockbox.NoteRevoked:   {"Access revoked", "*Revoked by*\nbob@contoso.com"},
		lockbox.NoteCanceled:  {"Access request canceled", "*Canceled by*\nalice@support.example.com", "*Reason*\nfiled by mistake"},
		lockbox.NoteReminder:  {"Reminder: access request awaiting approval", "*Approval window closes*"},
		lockbox.NoteEscalated: {"Escalation: access request not decided", "*Approval window closes*"},
		lockbox.NoteReceipt: {"Access receipt", "*Revoked by*\nbob@contoso.com", "*Access ended*\n2026-03-02 18:30 UTC",
			"*Access used* (Microsoft.Storage/storageAccounts)\n• /subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.Storage/storageAccounts/logs01: 14 checks, first 2026-03-02 11:30 UTC, last 2026-03-02 13:50 UTC",
			"*Credentials issued*\n2 SSH certificates"},
	} {
		_, body := slackOf(t, noteOf(typ), portal)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &m))
		flat := flatten(m)
		for _, w := range want {
			assert.Contains(t, flat, w, "%s: got %s, want %q", typ, flat, w)
		}
	}
}

// flatten joins every string in v.
func flatten(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v)
			b.WriteByte('\n')
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(v[k])
			}
		}
	}
	walk(v)
	return b.String()
}

// entity is an escape mrkdwn reads.
var entity = regexp.MustCompile(`&(amp|lt|gt);`)

func TestPayloadSlackEscapesHostileText(t *testing.T) {
	n := noteOf(lockbox.NoteApproved)
	n.Request.Justification = hostile
	n.Request.SupportRequest = "CASE <!here>"
	n.Request.SupportCaseURL = "https://support.example.com/a|b?x=<y>&z=1"
	n.Request.Requester.DisplayName = "<@U123> & co"
	n.Request.ResourceIDs = []string{"/r/<!everyone>"}
	n.Reason = "<https://evil.example|approve all>"
	m, body := slackOf(t, n, portal)

	for _, raw := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U123>", "<https://evil.example|"} {
		assert.NotContains(t, body, raw, "got %q in %s, want it escaped", raw, body)
	}
	assert.Contains(t, body, `&lt;!channel&gt; &lt;https://evil.example|click here&gt; &amp; *bold*`, "got %s, want the justification escaped", body)
	assert.Contains(t, body, `&amp;amp;`, "got %s, want a literal &amp; escaped again", body)
	assert.Contains(t, body, "<https://support.example.com/a%7Cb?x=&lt;y&gt;&amp;z=1|CASE &lt;!here&gt;>",
		"got %s, want the case link's URL and text escaped", body)

	for text := range slackTexts(m) {
		// Outside the one link Lockbox writes, every < and > is an entity.
		rest := strings.Replace(text, "<https://support.example.com/a%7Cb?x=&lt;y&gt;&amp;z=1|CASE &lt;!here&gt;>", "", 1)
		assert.NotContains(t, rest, "<", "got %q, want no raw <", text)
		assert.NotContains(t, rest, ">", "got %q, want no raw >", text)
		for i := strings.Index(rest, "&"); i >= 0; i = next(rest, i) {
			assert.True(t, entity.MatchString(rest[i:min(len(rest), i+5)]), "got a bare & at %d in %q, want &amp;", i, rest)
		}
	}
}

func next(s string, i int) int {
	j := strings.Index(s[i+1:], "&")
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// TestPayloadSlackLimits: the longest inputs the API takes stay inside
// Slack's limits, cut with an ellipsis and never inside an entity.
func TestPayloadSlackLimits(t *testing.T) {
	n := created()
	n.Request.Justification = strings.Repeat("&", lockbox.MaxJustification)
	n.Request.ResourceIDs = nil
	for i := range 50 {
		n.Request.ResourceIDs = append(n.Request.ResourceIDs, fmt.Sprintf("/r/%02d/", i)+strings.Repeat("<", 1020))
	}
	n.Request.Requester.DisplayName = strings.Repeat("é", 256)
	n.Request.SupportCaseURL = "https://support.example.com/" + strings.Repeat("a", 2000)
	m, _ := slackOf(t, n, portal)

	for text, limit := range slackTexts(m) {
		assert.LessOrEqual(t, utf8.RuneCountInString(text), limit, "got %d characters, want at most %d", utf8.RuneCountInString(text), limit)
	}
	just := m.Blocks[3].Text.Text
	assert.True(t, strings.HasSuffix(just, "&amp;…"), "got justification ending %q, want whole entities and an ellipsis", just[max(0, len(just)-20):])
	res := m.Blocks[2].Text.Text
	assert.Regexp(t, `\n… and \d+ more$`, res, "got resources ending %q, want a count of the rest", res[max(0, len(res)-40):])
	assert.Contains(t, res, "• /r/00/&lt;", "got %q, want the first resource", res[:80])

	var caseField string
	for _, f := range m.Blocks[1].Fields {
		if strings.HasPrefix(f.Text, "*Support case*") {
			caseField = f.Text
		}
	}
	assert.Equal(t, "*Support case*\nCASE-4711", caseField, "got %q, want the case without a link too long for a field", caseField)
}

// The Teams message's shape, decoded strictly.
type teamsMsg struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string `json:"contentType"`
		Content     struct {
			Schema  string `json:"$schema"`
			Type    string `json:"type"`
			Version string `json:"version"`
			Body    []struct {
				Type      string `json:"type"`
				Text      string `json:"text"`
				Size      string `json:"size"`
				Weight    string `json:"weight"`
				Wrap      bool   `json:"wrap"`
				Spacing   string `json:"spacing"`
				Separator bool   `json:"separator"`
				Facts     []struct {
					Title string `json:"title"`
					Value string `json:"value"`
				} `json:"facts"`
			} `json:"body"`
			Actions []struct {
				Type  string `json:"type"`
				Title string `json:"title"`
				URL   string `json:"url"`
			} `json:"actions"`
		} `json:"content"`
	} `json:"attachments"`
}

func teamsOf(t *testing.T, n lockbox.Notification, portalURL string) (teamsMsg, string) {
	t.Helper()
	body, err := webhook.Payload(lockbox.FormatTeams, n, portalURL)
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	var m teamsMsg
	require.NoError(t, dec.Decode(&m), "got %s, want a Teams message", body)
	return m, string(body)
}

func TestPayloadTeams(t *testing.T) {
	m, _ := teamsOf(t, created(), portal)

	assert.Equal(t, "message", m.Type, "got type %q, want message", m.Type)
	require.Len(t, m.Attachments, 1, "got %d attachments, want 1", len(m.Attachments))
	a := m.Attachments[0]
	assert.Equal(t, "application/vnd.microsoft.card.adaptive", a.ContentType, "got contentType %q", a.ContentType)
	c := a.Content
	assert.Equal(t, "http://adaptivecards.io/schemas/adaptive-card.json", c.Schema, "got $schema %q", c.Schema)
	assert.Equal(t, "AdaptiveCard", c.Type, "got type %q, want AdaptiveCard", c.Type)
	assert.Equal(t, "1.2", c.Version, "got version %q, want 1.2", c.Version)

	require.GreaterOrEqual(t, len(c.Body), 2, "got %d elements, want a title and facts", len(c.Body))
	assert.Equal(t, "TextBlock", c.Body[0].Type, "got %q, want a TextBlock title", c.Body[0].Type)
	assert.Equal(t, "New access request", c.Body[0].Text, "got title %q", c.Body[0].Text)
	assert.Equal(t, "FactSet", c.Body[1].Type, "got %q, want a FactSet", c.Body[1].Type)
	facts := map[string]string{}
	for _, f := range c.Body[1].Facts {
		facts[f.Title] = f.Value
	}
	for title, value := range map[string]string{
		"Tenant":                 "contoso",
		"Support case":           "[CASE-4711](https://support.example.com/cases/4711?tab=details&lang=en)",
		"Requester":              "Alice Engineer (alice@support.example.com)",
		"Access level":           "ReadOnly",
		"Status":                 "Pending",
		"Duration":               "8 h",
		"Approval window closes": "2026-03-06 09:30 UTC",
	} {
		assert.Equal(t, value, facts[title], "fact %s: got %q, want %q", title, facts[title], value)
	}
	var texts []string
	for _, e := range c.Body[2:] {
		assert.Equal(t, "TextBlock", e.Type, "got %q, want TextBlocks after the facts", e.Type)
		texts = append(texts, e.Text)
	}
	want := []string{"Resources (Microsoft.Storage/storageAccounts)",
		`- /subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.Storage/storageAccounts/logs01`,
		"Justification", request().Justification}
	assert.Equal(t, want, texts, "got %q, want %q", texts, want)

	require.Len(t, c.Actions, 1, "got %d actions, want 1", len(c.Actions))
	wantURL := "https://lockbox.example.com/portal/requests/5f0c2a9e-8d1b-4c3e-9a7f-2b6d1e4c8a90"
	assert.Equal(t, "Action.OpenUrl", c.Actions[0].Type, "got %q, want Action.OpenUrl", c.Actions[0].Type)
	assert.Equal(t, "Open in Lockbox", c.Actions[0].Title, "got %q", c.Actions[0].Title)
	assert.Equal(t, wantURL, c.Actions[0].URL, "got url %q, want %q", c.Actions[0].URL, wantURL)

	_, noPortal := teamsOf(t, created(), "")
	assert.NotContains(t, noPortal, `"actions"`, "got %s, want no action without a portal URL", noPortal)
}

func TestPayloadTeamsEscapesHostileText(t *testing.T) {
	n := noteOf(lockbox.NoteRevoked)
	n.Request.Justification = hostile + "\nsecond line"
	n.Request.SupportRequest = "[CASE](https://evil.example)"
	n.Request.SupportCaseURL = "https://support.example.com/x)(y"
	n.Request.Requester.DisplayName = "**Boss**"
	n.Reason = "_urgent_ [here](https://evil.example)"
	m, body := teamsOf(t, n, portal)

	assert.NotContains(t, body, "[phish](", "got %s, want the link escaped", body)
	assert.NotContains(t, body, "[here](", "got %s, want the link escaped", body)
	var facts, texts []string
	for _, e := range m.Attachments[0].Content.Body {
		texts = append(texts, e.Text)
		for _, f := range e.Facts {
			facts = append(facts, f.Title+": "+f.Value)
		}
	}
	assert.Contains(t, facts, `Support case: [\[CASE\](https://evil.example)](https://support.example.com/x%29%28y)`, "got %q", facts)
	assert.Contains(t, facts, `Requester: \*\*Boss\*\* (alice@support.example.com)`, "got %q", facts)
	wantJust := `\<!channel\> \<https://evil.example|click here\> & \*bold\* \_it\_ \~s\~ \` + "`code\\`" +
		` \[phish\](https://evil.example) \<b\>html\</b\> \\ &amp;` + "\n\nsecond line"
	assert.Contains(t, texts, wantJust, "got %q, want %q", texts, wantJust)
	assert.Contains(t, texts, `\_urgent\_ \[here\](https://evil.example)`, "got %q", texts)
}

// TestPayloadTeamsSize: the longest inputs the API takes stay under the 28 KB
// Teams accepts.
func TestPayloadTeamsSize(t *testing.T) {
	n := noteOf(lockbox.NoteApproved)
	n.Request.Justification = strings.Repeat("\U0001F512", lockbox.MaxJustification)
	n.Reason = strings.Repeat("\"", lockbox.MaxReason)
	n.Request.ResourceIDs = nil
	for range 50 {
		n.Request.ResourceIDs = append(n.Request.ResourceIDs, strings.Repeat("\U0001F511", 1024))
	}
	n.Request.Requester.DisplayName = strings.Repeat("\U0001F464", 256)
	n.Request.SupportRequest = strings.Repeat("\U0001F4BC", 128)
	n.Request.SupportCaseURL = "https://support.example.com/" + strings.Repeat("a", 2000)
	_, body := teamsOf(t, n, portal)
	assert.Less(t, len(body), 28_000, "got %d bytes, want under Teams' 28 KB", len(body))
	assert.Contains(t, body, "… and ", "got no count of the resources left out")
	assert.Contains(t, body, "\U0001F512…", "got no cut justification")
}

// TestPayloadEveryTypeEveryFormat: valid JSON for each combination.
func TestPayloadEveryTypeEveryFormat(t *testing.T) {
	for _, typ := range lockbox.NotificationTypes {
		for _, f := range []string{lockbox.FormatStandard, lockbox.FormatSlack, lockbox.FormatTeams} {
			for _, p := range []string{portal, ""} {
				body, err := webhook.Payload(f, noteOf(lockbox.NotificationType(typ)), p)
				require.NoError(t, err, "%s in %s", typ, f)
				assert.True(t, json.Valid(body), "%s in %s: got invalid JSON %s", typ, f, body)
				assert.False(t, strings.HasSuffix(string(body), "\n"), "%s in %s: got a trailing newline", typ, f)
			}
		}
	}
}

// A receipt: the standard delivery's data is the request with its usage;
// the chat formats list each resource with its use, and say plainly when
// the grant was not used.
func TestPayloadReceipt(t *testing.T) {
	const vm1, vm2 = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/vm-orders-db-primary-01",
		"/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/vm-orders-db-replica-02"
	n := noteOf(lockbox.NoteReceipt)
	n.Request.ResourceType, n.Request.ResourceIDs = "Microsoft.Compute/virtualMachines", []string{vm1, vm2}
	n.Request.Usage = usage(vm1, 1, filed.Add(2*time.Hour), filed.Add(2*time.Hour))

	body, err := webhook.Payload(lockbox.FormatStandard, n, portal)
	require.NoError(t, err)
	var std struct {
		Type string `json:"type"`
		Data struct {
			Status lockbox.Status `json:"status"`
			Usage  lockbox.Usage  `json:"usage"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &std))
	assert.Equal(t, "lockbox.request.receipt", std.Type)
	assert.Equal(t, lockbox.StatusRevoked, std.Data.Status)
	assert.Equal(t, *n.Request.Usage, std.Data.Usage, "the usage as the API returns it")

	wantLines := "• " + vm1 + ": 1 check, at 2026-03-02 11:30 UTC\n• " + vm2 + ": not used"
	_, slack := slackOf(t, n, portal)
	assert.Contains(t, slack, `"text":"Access receipt"`, "the header")
	assert.Contains(t, slack, jsonString("*Access used* (Microsoft.Compute/virtualMachines)\n"+wantLines))
	assert.Contains(t, slack, jsonString("*Credentials issued*\n2 SSH certificates"))
	m, _ := teamsOf(t, n, portal)
	var texts []string
	for _, e := range m.Attachments[0].Content.Body {
		texts = append(texts, e.Text)
	}
	assert.Contains(t, texts, "Access receipt")
	assert.Contains(t, texts, "Access used (Microsoft.Compute/virtualMachines)")
	assert.Contains(t, texts, strings.ReplaceAll(wantLines, "• ", "- "))

	n.Request.Usage = usage(vm1, 5, filed.Add(2*time.Hour), filed.Add(2*time.Hour+30*time.Second))
	_, slack = slackOf(t, n, portal)
	assert.Contains(t, slack, jsonString("• "+vm1+": 5 checks, at 2026-03-02 11:30 UTC"), "checks within one minute")

	n.Request.Usage = nil
	body, err = webhook.Payload(lockbox.FormatStandard, n, portal)
	require.NoError(t, err)
	assert.Contains(t, string(body), `"usage":null`, "a grant never used")
	notUsed := "Not used: no check allowed access to any of its resources, and no credential was issued"
	_, slack = slackOf(t, n, portal)
	assert.Contains(t, slack, `"text":"Access receipt: grant not used"`)
	assert.Contains(t, slack, jsonString("*Access used*\n"+notUsed))
	assert.Contains(t, slack, jsonString("*Resources* (Microsoft.Compute/virtualMachines)\n• "+vm1), "the resources, as granted")
	_, teams := teamsOf(t, n, portal)
	assert.Contains(t, teams, `{"title":"Access used","value":"`+notUsed+`"}`)
	assert.Contains(t, teams, `"text":"Access receipt: grant not used"`)
}

// jsonString is s as it stands inside a JSON string (no HTML escaping).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(strings.Trim(string(b), `"`), `\u0026`, "&")
}

// TestPayloadTenant: a tenant's own notification (a lockdown, its lift) is
// "lockbox.tenant.<type>" with the tenant, who and why as data, and its
// Slack and Teams messages link to the tenant's settings page.
func TestPayloadTenant(t *testing.T) {
	for _, typ := range []lockbox.NotificationType{lockbox.NoteLockdown, lockbox.NoteLockdownLifted} {
		n := lockbox.Notification{ID: "1-0", Type: typ, Request: lockbox.Request{TenantID: "contoso"},
			Time: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), Actor: lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"},
			Reason: hostile + " (until 2026-03-04T09:30:00Z)"}
		body, err := webhook.Payload(lockbox.FormatStandard, n, portal)
		require.NoError(t, err)
		m := decode(t, body)
		assert.Equal(t, "lockbox.tenant."+string(typ), m["type"])
		assert.Equal(t, map[string]any{"tenantId": "contoso", "by": "ada", "reason": n.Reason}, m["data"])
		for _, format := range []string{lockbox.FormatSlack, lockbox.FormatTeams} {
			body, err := webhook.Payload(format, n, portal)
			require.NoError(t, err, format)
			assert.Contains(t, string(body), "/settings", "%s %s links to the settings page", typ, format)
			assert.NotContains(t, string(body), "/requests/", "%s %s", typ, format)
			assert.Contains(t, string(body), "ada")
		}
	}
}
