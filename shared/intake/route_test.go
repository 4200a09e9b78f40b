package intake

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

const (
	sub        = "/subscriptions/5f1c3a2e-8d4b-4c6e-9a7f-2b1d0e3c4f5a/resourceGroups/"
	jiraReason = "VM web-01 fails to boot after the kernel update\n\nCustomer case 120034: the VM stops at the initramfs prompt since last night's update.\nI need to read the boot diagnostics and the OS disk of both web VMs."
)

func TestRouteFixtures(t *testing.T) {
	serviceNowCreate := Outcome{Do: DoCreate, Action: "file", TenantID: "contoso", Ticket: "INC0010042", Input: lockbox.CreateInput{
		TenantID:       "contoso",
		ResourceType:   "Microsoft.Storage/storageAccounts",
		ResourceIDs:    []string{sub + "media/providers/Microsoft.Storage/storageAccounts/contosomedia", sub + "media/providers/Microsoft.Storage/storageAccounts/contosomediabackup"},
		AccessLevel:    "Read",
		Justification:  "Storage account rejects uploads with 403\n\nSince 2026-05-04 09:00 UTC uploads to the media account fail with 403 AuthorizationFailure.\nNeed to read the account's network rules and diagnostic settings.",
		SupportRequest: "INC0010042",
		SupportCaseURL: "https://contososupport.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3D9d385017c611228701d22104cc95c371",
		WorkItemSource: "ServiceNow",
		Requester:      lockbox.Requester{ID: "priya.natarajan", DisplayName: "Priya Natarajan", Email: "priya.natarajan@support.example"},
		Duration:       intp(8),
	}}
	serviceNowClose := Outcome{Do: DoClose, Action: "resolve", TenantID: "contoso", Ticket: "INC0010042", Reason: "ServiceNow incident INC0010042 was resolved: Solved (Permanently)"}
	for _, tc := range []struct {
		source, fixture string
		want            Outcome
	}{
		{"jira", "jira-created", Outcome{Do: DoCreate, Action: "file", TenantID: "contoso", Ticket: "ACC-42", Input: lockbox.CreateInput{
			TenantID:       "contoso",
			ResourceType:   "Microsoft.Compute/virtualMachines",
			ResourceIDs:    []string{sub + "web/providers/Microsoft.Compute/virtualMachines/web-01", sub + "web/providers/Microsoft.Compute/virtualMachines/web-02"},
			AccessLevel:    "Read",
			Justification:  jiraReason,
			SupportRequest: "ACC-42",
			SupportCaseURL: "https://contoso-support.atlassian.net/browse/ACC-42",
			WorkItemSource: "Jira",
			Requester:      lockbox.Requester{ID: "alex.rivera@support.example", DisplayName: "Alex Rivera", Email: "alex.rivera@support.example"},
			Duration:       intp(8),
		}}},
		{"jira", "jira-updated", Outcome{}},
		{"jira", "jira-resolved", Outcome{Do: DoClose, Action: "resolve", TenantID: "contoso", Ticket: "ACC-42", Reason: "Jira issue ACC-42 was resolved (Done)"}},
		{"github", "github-created", Outcome{Do: DoCreate, Action: "file", TenantID: "contoso", Ticket: "contoso/payments-api#42", Input: lockbox.CreateInput{
			TenantID:       "contoso",
			ResourceType:   "GitHub.Repository",
			ResourceIDs:    []string{"contoso/payments-api"},
			AccessLevel:    "Read",
			Justification:  "Read access to investigate failing deploys (case 120034)\n\nThe customer reports that deploys of `payments-api` fail since the 2026-05-03 release.\r\nI need to read the repository's workflow files and recent commits to find the cause.",
			SupportRequest: "contoso/payments-api#42",
			SupportCaseURL: "https://github.com/contoso/payments-api/issues/42",
			WorkItemSource: "GitHub",
			Requester:      lockbox.Requester{ID: "alex-rivera"},
		}}},
		{"github", "github-updated", Outcome{}},
		{"github", "github-resolved", Outcome{Do: DoClose, Action: "resolve", TenantID: "contoso", Ticket: "contoso/payments-api#42", Reason: "GitHub issue contoso/payments-api#42 was closed"}},
		{"zendesk", "zendesk-created", Outcome{Do: DoCreate, Action: "file", TenantID: "contoso", Ticket: "35436", Input: lockbox.CreateInput{
			TenantID:       "contoso",
			ResourceType:   "Microsoft.Sql/servers/databases",
			ResourceIDs:    []string{sub + "data/providers/Microsoft.Sql/servers/contoso-sql/databases/orders"},
			AccessLevel:    "Read",
			Justification:  "Orders database timeouts since Monday\n\nQueries on the orders database time out after 30 s since Monday morning. Customer approved a read-only look at the query store.",
			SupportRequest: "35436",
			SupportCaseURL: "https://contoso-support.zendesk.com/agent/tickets/35436",
			WorkItemSource: "Zendesk",
			Requester:      lockbox.Requester{ID: "sam.okafor@support.example", DisplayName: "Sam Okafor", Email: "sam.okafor@support.example"},
			Duration:       intp(4),
		}}},
		{"zendesk", "zendesk-resolved", Outcome{Do: DoClose, Action: "resolve", TenantID: "contoso", Ticket: "35436", Reason: "Zendesk ticket 35436 was closed"}},
		{"servicenow", "servicenow-created", serviceNowCreate},
		{"servicenow", "servicenow-resolved", serviceNowClose},
		{"servicenow-hmac", "servicenow-created", serviceNowCreate},
		{"servicenow-hmac", "servicenow-resolved", serviceNowClose},
	} {
		t.Run(tc.source+"/"+tc.fixture, func(t *testing.T) {
			s := exampleSource(t, tc.source)
			body := fixture(t, tc.fixture)
			// As the flow does: verify the delivery, then route it.
			_, err := s.Verify(s.Sign(body, fixtureNow), body, fixtureNow)
			require.NoError(t, err)
			got, err := s.Route(body)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			if got.Do == DoCreate {
				require.NoError(t, got.Input.Validate())
			}
		})
	}
}

// jiraWith returns the jira-created fixture with edits applied, each
// replacing old by new once.
func jiraWith(t *testing.T, edits ...string) []byte {
	t.Helper()
	s := string(fixture(t, "jira-created"))
	for i := 0; i+1 < len(edits); i += 2 {
		require.Contains(t, s, edits[i])
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return []byte(s)
}

// TestRouteNamesEachBadField: a selected delivery that maps to an invalid
// request is one 422 naming every bad field, in the domain's words where
// the domain refuses a value.
func TestRouteNamesEachBadField(t *testing.T) {
	body := jiraWith(t,
		`"value": "contoso"`, `"value": "contoso corp"`, // tenant: not a tenant id
		`"value": "Microsoft.Compute/virtualMachines"`, `"value": ["a", "b"]`, // resourceType: mistyped
		`"summary": "VM web-01 fails to boot after the kernel update",`, ``, // justification: placeholder missing
		`"key": "ACC-42"`, `"key": null`, // supportRequest: null is missing; supportCaseUrl then too (optional: left out)
		`"emailAddress": "alex.rivera@support.example",
        "active"`, `"emailAddress": "alex rivera",
        "active"`, // requester.id and requester.email: invalid
		`"customfield_10053": 8.0`, `"customfield_10053": 8.5`, // duration: not whole
	)
	_, err := exampleSource(t, "jira").Route(body)
	requireKind(t, lockbox.KindUnprocessable, err)
	var le *lockbox.Error
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "UnprocessableEntity", le.Code)
	assert.Equal(t, `the delivery selected by action "file" maps to an invalid create: `+strings.Join([]string{
		"tenantId must be 1..64 characters of [A-Za-z0-9._-]",
		"resourceType: path issue.fields.customfield_10051.value is an array, not text",
		"justification: placeholder {{issue.fields.summary}} is missing",
		"supportRequest: path issue.key is missing",
		"requester.id must be 1..128 visible characters without spaces or invisible characters",
		"requester.email must be an email address",
		"duration: path issue.fields.customfield_10053 is not a whole number of hours",
	}, "; "), le.Message)
}

func TestRouteMissingRequiredPaths(t *testing.T) {
	_, err := exampleSource(t, "zendesk").Route([]byte(`{"event": "lockbox.requested"}`))
	requireKind(t, lockbox.KindUnprocessable, err)
	for _, f := range []string{
		"tenantId: path ticket.organization is missing",
		"resourceType: path ticket.resource_type is missing",
		"resourceIds: path ticket.resource_ids is missing",
		"justification: placeholder {{ticket.title}} is missing",
		"supportRequest: path ticket.id is missing",
		"requester.id: path agent.email is missing",
	} {
		assert.Contains(t, err.Error(), f)
	}
	// Optional fields whose paths are missing are left out, not reported.
	for _, f := range []string{"supportCaseUrl", "requester.displayName", "requester.email", "duration"} {
		assert.NotContains(t, err.Error(), f)
	}

	_, err = exampleSource(t, "zendesk").Route([]byte(`{"event": "lockbox.ticket_solved", "ticket": {"id": {"n": 1}}}`))
	requireKind(t, lockbox.KindUnprocessable, err)
	assert.Equal(t, `the delivery selected by action "resolve" maps to an invalid close: tenantId: path ticket.organization is missing; ticket: path ticket.id is an object, not text`, err.(*lockbox.Error).Message)
}

func TestRouteOptionalFieldsAndPlaceholders(t *testing.T) {
	body := jiraWith(t,
		`"description": "Customer case 120034: the VM stops at the initramfs prompt since last night's update.\nI need to read the boot diagnostics and the OS disk of both web VMs.",`, `"description": null,`,
		`"displayName": "Alex Rivera",
        "emailAddress": "alex.rivera@support.example",
        "active"`, `"emailAddress": "alex.rivera@support.example",
        "active"`,
		`"customfield_10053": 8.0,`, ``,
	)
	o, err := exampleSource(t, "jira").Route(body)
	require.NoError(t, err)
	assert.Equal(t, "VM web-01 fails to boot after the kernel update\n\n", o.Input.Justification, "{{path?}} stands for nothing")
	assert.Empty(t, o.Input.Requester.DisplayName)
	assert.Nil(t, o.Input.Duration)
}

func TestRouteDurations(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want *int
		err  string
	}{
		{`8`, intp(8), ""},
		{`8.0`, intp(8), ""},
		{`"8"`, intp(8), ""},
		{`" 12 "`, intp(12), ""},
		{`720`, intp(720), ""},
		{`null`, nil, ""},
		{`8.5`, nil, "duration: path issue.fields.customfield_10053 is not a whole number of hours"},
		{`"8h"`, nil, "duration: path issue.fields.customfield_10053: not a whole number of hours"},
		{`"-1"`, nil, "not a whole number of hours"},
		{`true`, nil, "duration: path issue.fields.customfield_10053 is a boolean, not a number"},
		{`0`, nil, "duration must be a whole number of hours from 1 to 720"},
		{`721`, nil, "duration must be a whole number of hours from 1 to 720"},
		{`1e300`, nil, "not a whole number of hours"},
		{`"99999999999999999999"`, nil, "not a whole number of hours"},
	} {
		o, err := exampleSource(t, "jira").Route(jiraWith(t, `"customfield_10053": 8.0`, `"customfield_10053": `+tc.raw))
		if tc.err != "" {
			requireKind(t, lockbox.KindUnprocessable, err)
			assert.Contains(t, err.Error(), tc.err, tc.raw)
			continue
		}
		require.NoError(t, err, tc.raw)
		assert.Equal(t, tc.want, o.Input.Duration, tc.raw)
	}
}

func TestRouteResourceIDs(t *testing.T) {
	// An array of strings and numbers.
	s := exampleSource(t, "jira")
	s.Actions[0].Map.ResourceIDs = &Value{Path: "ids", path: "ids"}
	body := jiraWith(t, `"timestamp"`, `"ids": ["a", 42], "timestamp"`)
	o, err := s.Route(body)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "42"}, o.Input.ResourceIDs)

	// Too many, blank, or of another type.
	for _, tc := range []struct{ ids, want string }{
		{`[` + strings.Repeat(`"x",`, 60) + `"x"]`, "resourceIds must hold 1..50 resource ids"},
		{`[]`, "resourceIds must hold 1..50 resource ids"},
		{`["a", {"b": 1}]`, "resourceIds: path ids holds an object, not text"},
		{`["a", ""]`, "each resourceIds entry must be 1..1024 printable characters"},
		{`{"a": 1}`, "resourceIds: path ids is an object, not text"},
	} {
		_, err := s.Route(jiraWith(t, `"timestamp"`, `"ids": `+tc.ids+`, "timestamp"`))
		requireKind(t, lockbox.KindUnprocessable, err)
		assert.Contains(t, err.Error(), tc.want, tc.ids)
	}

	// Split: blank entries dropped.
	o, err = exampleSource(t, "jira").Route(jiraWith(t, `"customfield_10052": "`, `"customfield_10052": "\n\n  a  \n`))
	require.NoError(t, err)
	assert.Equal(t, "a", o.Input.ResourceIDs[0])
	assert.Len(t, o.Input.ResourceIDs, 3)
}

// TestRouteNoMatch: a delivery no condition selects asks for nothing (the
// function answers 202), whatever else is wrong with it.
func TestRouteNoMatch(t *testing.T) {
	for _, body := range []string{
		`{}`, `[]`, `"x"`, `42`, `null`,
		`{"webhookEvent": "jira:issue_deleted", "issue": {"key": "ACC-1"}}`,
		`{"webhookEvent": "jira:issue_created", "issue": {"fields": {"issuetype": {"name": "Bug"}}}}`,
		`{"webhookEvent": "jira:issue_updated", "issue": {"fields": {"status": {"statusCategory": {"key": "done"}}}}}`, // no status change
	} {
		o, err := exampleSource(t, "jira").Route([]byte(body))
		require.NoError(t, err, body)
		assert.Equal(t, Outcome{}, o, body)
	}
}

func TestRouteRefusesHostileBodies(t *testing.T) {
	zendesk := exampleSource(t, "zendesk")
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"event": "lockbox.requested"`, "the body is not valid JSON"},
		{"empty", ``, "the body is not valid JSON"},
		{"two values", `{} {}`, "the body is not valid JSON"},
		{"deep", strings.Repeat("[", 65) + strings.Repeat("]", 65), "nests deeper than 64 levels"},
		{"very deep", strings.Repeat(`{"a":`, 100000), "nests deeper than 64 levels"},
		// A ticket title that closes its string in a body built by a
		// template cannot set a key the template already has.
		{"injected tenant", `{"event": "lockbox.requested", "ticket": {"organization": "contoso", "title": "x", "organization": "fabrikam"}}`, "a key twice"},
		{"escaped duplicate", `{"event": "lockbox.requested", "ev\u0065nt": "x"}`, "a key twice"},
		{"nested duplicate", `[{"a": [{"b": 1, "b": 2}]}]`, "a key twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := zendesk.Route([]byte(tc.body))
			requireKind(t, lockbox.KindInvalid, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// Brackets inside strings do not count as nesting.
	_, err := zendesk.Route([]byte(`{"event": "x", "t": "` + strings.Repeat(`[{\"`, 100) + `"}`))
	require.NoError(t, err)
}

// TestCaseURLTemplateKeepsItsHost: text substituted into a supportCaseUrl
// template is escaped, so a ticket id cannot move the link elsewhere.
func TestCaseURLTemplateKeepsItsHost(t *testing.T) {
	zendesk := exampleSource(t, "zendesk")
	body := strings.Replace(string(fixture(t, "zendesk-created")), `"id": "35436"`, `"id": "1/../../x@evil.example/?a=b&c#d e"`, 1)
	o, err := zendesk.Route([]byte(body))
	require.NoError(t, err)
	u, err := url.Parse(o.Input.SupportCaseURL)
	require.NoError(t, err)
	assert.Equal(t, "contoso-support.zendesk.com", u.Host)
	assert.Equal(t, "https://contoso-support.zendesk.com/agent/tickets/1%2F..%2F..%2Fx%40evil.example%2F%3Fa%3Db%26c%23d%20e", o.Input.SupportCaseURL)
	assert.Empty(t, u.RawQuery)
	assert.Empty(t, u.Fragment)
	// Elsewhere the same text is taken as it is.
	assert.Equal(t, "1/../../x@evil.example/?a=b&c#d e", o.Input.SupportRequest)
}

func TestRouteControlCharacters(t *testing.T) {
	body := strings.Replace(string(fixture(t, "zendesk-created")), `"title": "Orders database timeouts since Monday"`, `"title": "Orders\u0000 \u001b[31m"`, 1)
	_, err := exampleSource(t, "zendesk").Route([]byte(body))
	requireKind(t, lockbox.KindUnprocessable, err)
	assert.Contains(t, err.Error(), "justification must be 1..4096 characters without control characters")
}

func TestRouteFirstMatchingActionDecides(t *testing.T) {
	doc := `
sources:
  s:
    kind: github
    secrets: ["0123456789abcdef"]
    tenant: { value: contoso }
    actions:
      - name: first
        when: { path: "n", in: ["1", "2"] }
        do: close
        ticket: { value: "T-1" }
      - name: second
        when: { any: [ { path: "n", equals: "2" }, { not: { path: "m", exists: true } } ] }
        do: close
        ticket: { path: "t" }
`
	c, err := Load([]byte(doc))
	require.NoError(t, err)
	s, err := c.Source("s")
	require.NoError(t, err)
	for body, want := range map[string]string{
		`{"n": 2, "t": "x"}`:          "first",
		`{"n": "1"}`:                  "first",
		`{"n": 3, "t": "x"}`:          "second",
		`{"n": 3, "m": 1, "t": "x"}`:  "",
		`{"n": 3, "m": null, "t": 5}`: "second",
	} {
		o, err := s.Route([]byte(body))
		require.NoError(t, err, body)
		assert.Equal(t, want, o.Action, body)
	}
	o, err := s.Route([]byte(`{"n": 3, "t": 5}`))
	require.NoError(t, err)
	assert.Equal(t, Outcome{Do: DoClose, Action: "second", TenantID: "contoso", Ticket: "5", Reason: "GitHub ticket 5 was closed"}, o)
}

func TestKey(t *testing.T) {
	o := Outcome{Do: DoCreate, Action: "file", TenantID: "contoso", Ticket: "ACC-42"}
	vendor := Delivery{ID: "e42c2512-f3b9-4675-b1b4-0186e7bf2eae", SignatureHash: "ab"}
	assert.Equal(t, "intake:jira:delivery:e42c2512-f3b9-4675-b1b4-0186e7bf2eae", o.Key("jira", vendor))

	derived := Delivery{ID: "ab", Derived: true, SignatureHash: "ab"}
	k := o.Key("jira", derived)
	assert.Regexp(t, `^intake:jira:ticket:file:[0-9a-f]{32}$`, k)
	assert.Equal(t, k, o.Key("jira", Delivery{ID: "cd", Derived: true}), "the ticket and action, not the derived id")
	for _, other := range []Outcome{
		{Action: "file", TenantID: "contoso", Ticket: "ACC-43"},
		{Action: "resolve", TenantID: "contoso", Ticket: "ACC-42"},
		{Action: "file", TenantID: "fabrikam", Ticket: "ACC-42"},
	} {
		assert.NotEqual(t, k, other.Key("jira", derived))
	}
	assert.NotEqual(t, k, o.Key("jira-2", derived))

	// Any ticket makes a key fit for Idempotency-Key: 1..255 printable ASCII.
	long := Outcome{Action: strings.Repeat("a", 64), Ticket: strings.Repeat("é", 128)}
	for _, key := range []string{long.Key(strings.Repeat("s", 64), derived), o.Key(strings.Repeat("s", 64), Delivery{ID: strings.Repeat("~", 128)})} {
		assert.LessOrEqual(t, len(key), 255)
		assert.True(t, printableASCII(key), key)
	}
}
