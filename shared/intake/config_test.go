package intake

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

func TestLoadExample(t *testing.T) {
	c := exampleConfig(t)
	assert.Equal(t, []string{"jira", "github", "zendesk", "servicenow", "servicenow-hmac"}, c.Names())

	jira, err := c.Source("jira")
	require.NoError(t, err)
	assert.Equal(t, KindJira, jira.Kind)
	assert.Len(t, jira.secrets, 2)
	require.Len(t, jira.Actions, 2)
	assert.Equal(t, "file", jira.Actions[0].Name)
	assert.Equal(t, DoCreate, jira.Actions[0].Do)
	assert.Equal(t, DoClose, jira.Actions[1].Do)

	sn, err := c.Source("servicenow")
	require.NoError(t, err)
	assert.Equal(t, &ServiceNow{Auth: AuthBasic, Username: "lockbox-intake", DeliveryHeader: "X-SN-Delivery"}, sn.ServiceNow)
	hm, err := c.Source("servicenow-hmac")
	require.NoError(t, err)
	assert.Equal(t, "X-SN-Signature", hm.ServiceNow.Header)
}

func TestUnknownSourceIsNotFound(t *testing.T) {
	c := exampleConfig(t)
	_, err := c.Source("confluence")
	requireKind(t, lockbox.KindNotFound, err)
	assert.Contains(t, err.Error(), `"confluence"`)
	// A name that cannot be a source is not echoed back.
	_, err = c.Source("<script>")
	requireKind(t, lockbox.KindNotFound, err)
	assert.NotContains(t, err.Error(), "script")
}

// TestLoadReportsEveryProblem: one document with many problems reports
// each of them, named by its place, and nothing else.
func TestLoadReportsEveryProblem(t *testing.T) {
	doc := `
sources:
  Bad_Name:
    kind: jira
    secrets: ["0123456789abcdef"]
    tenant: { value: "contoso" }
    actions:
      - do: close
        ticket: { path: "issue.key" }
  jira-prod:
    kind: jura
    secrets: ["short", "0123456789abcdef", "0123456789abcdef"]
    tenant: { value: "not a tenant" }
    extra: 1
    actions:
      - when: { path: "webhookEvent", equals: "x", in: ["y"] }
        do: create
        map:
          resourceType: { path: "a.@reverse" }
          resourceIds: { path: "ids", value: "x" }
          justification: { template: "{{summary" }
          supportRequest: { path: "issue|key" }
          supportCaseUrl: { template: "{{issue.url}}" }
          requester: { id: { path: "" }, nickname: { value: x } }
          accessLevel: { value: "Read access" }
          duration: { value: "eight" }
      - do: close
      - do: close
        map: {}
        ticket: { path: "issue.key" }
      - do: delete
  sn:
    kind: servicenow
    secrets: ["0123456789abcdef"]
    tenant: { value: contoso }
    actions: []
`
	want := []string{
		"sources.Bad_Name: a source's name must be 1..64 characters of [a-z0-9-]",
		`sources.jira-prod: unknown key "extra" (allowed: kind, secrets, tenant, actions, servicenow)`,
		`sources.jira-prod.kind: "jura" is not one of jira, github, zendesk, servicenow`,
		"sources.jira-prod.secrets[0]: a secret must be 16..1024 bytes",
		"sources.jira-prod.secrets[2]: the same secret is given twice",
		"sources.jira-prod.tenant: tenantId must be 1..64 characters of [A-Za-z0-9._-]",
		"sources.jira-prod.actions[0].when: a condition with a path takes exactly one of equals, in, exists",
		`sources.jira-prod.actions[0].map.requester: unknown key "nickname" (allowed: id, displayName, email)`,
		`sources.jira-prod.actions[0].map.resourceType: path "a.@reverse": character '@' is not allowed: modifiers are refused`,
		"sources.jira-prod.actions[0].map.resourceIds: give exactly one of path, value, template",
		"sources.jira-prod.actions[0].map.accessLevel: accessLevel must be 1..128 characters of [A-Za-z0-9._-]",
		"sources.jira-prod.actions[0].map.justification: template has '{{' without '}}'",
		`sources.jira-prod.actions[0].map.supportRequest: path "issue|key": character '|' is not allowed: pipes are refused`,
		"sources.jira-prod.actions[0].map.supportCaseUrl: a supportCaseUrl template must start with http:// or https://, a host and '/', '?' or '#' before its first placeholder",
		"sources.jira-prod.actions[0].map.requester.id: path is empty",
		"sources.jira-prod.actions[0].map.duration: not a whole number of hours",
		"sources.jira-prod.actions[1].ticket: required",
		"sources.jira-prod.actions[2].map: only a create takes this",
		`sources.jira-prod.actions[2].name: another action is called "close": name each action of a source differently`,
		`sources.jira-prod.actions[3].do: "delete" is not create or close`,
		"sources.sn.servicenow: required for kind servicenow: auth basic (with username) or hmac",
		"sources.sn.actions: must hold 1..32 entries",
	}
	got := loadErr(t, doc)
	assert.ElementsMatch(t, want, got)
}

func TestLoadRefuses(t *testing.T) {
	const head = "sources:\n  s:\n    kind: jira\n    secrets: [\"0123456789abcdef\"]\n    tenant: { value: contoso }\n"
	const create = "    actions:\n      - do: create\n        map:\n          resourceType: { value: vm }\n          resourceIds: { path: ids }\n          justification: { path: why }\n          supportRequest: { path: key }\n          requester: { id: { path: who } }\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", "", "the intake configuration is empty"},
		{"comments only", "# nothing\n", "the intake configuration is empty"},
		{"two documents", head + create + "---\nsources: {}\n", "must be one YAML document"},
		{"not yaml", "sources: [", "parse the intake configuration"},
		{"no sources", "{}\n", "sources: at least one source is required"},
		{"unknown top key", "sources: {}\nversion: 1\n", `(document): unknown key "version"`},
		{"alias", "sources:\n  a: &x\n    kind: jira\n  b: *x\n", "sources.b: aliases are not supported"},
		{"merge key", head + "    <<: { kind: github }\n" + create, `unknown key "<<"`},
		{"kind missing", "sources:\n  s:\n    secrets: [\"0123456789abcdef\"]\n    tenant: { value: contoso }\n" + create, "sources.s.kind: required"},
		{"secrets missing", "sources:\n  s:\n    kind: jira\n    tenant: { value: contoso }\n" + create, "sources.s.secrets: required: at least one secret"},
		{"secret too short", strings.Replace(head, "0123456789abcdef", "0123456789abcde", 1) + create, "sources.s.secrets[0]: a secret must be 16..1024 bytes"},
		{"too many secrets", strings.Replace(head, `["0123456789abcdef"]`, `[a0123456789abcdef, b0123456789abcdef, c0123456789abcdef, d0123456789abcdef, e0123456789abcdef, f0123456789abcdef, g0123456789abcdef, h0123456789abcdef, i0123456789abcdef]`, 1) + create, "sources.s.secrets: must hold 1..8 entries"},
		{"tenant missing", "sources:\n  s:\n    kind: jira\n    secrets: [\"0123456789abcdef\"]\n" + create, "sources.s.tenant: required"},
		{"servicenow on jira", head + "    servicenow: { auth: basic, username: u }\n" + create, "sources.s.servicenow: only a servicenow source takes this"},
		{"basic without username", strings.Replace(head, "kind: jira", "kind: servicenow\n    servicenow: { auth: basic }", 1) + create, "sources.s.servicenow.username: required for auth basic"},
		{"basic with colon", strings.Replace(head, "kind: jira", "kind: servicenow\n    servicenow: { auth: basic, username: \"a:b\" }", 1) + create, "sources.s.servicenow.username: required for auth basic"},
		{"basic with header", strings.Replace(head, "kind: jira", "kind: servicenow\n    servicenow: { auth: basic, username: u, header: X-Sig }", 1) + create, "sources.s.servicenow.header: only auth hmac takes a header"},
		{"hmac with username", strings.Replace(head, "kind: jira", "kind: servicenow\n    servicenow: { auth: hmac, username: u }", 1) + create, "sources.s.servicenow.username: only auth basic takes a username"},
		{"hmac header Authorization", strings.Replace(head, "kind: jira", "kind: servicenow\n    servicenow: { auth: hmac, header: authorization }", 1) + create, "sources.s.servicenow.header: a header name must be"},
		{"bad auth", strings.Replace(head, "kind: jira", "kind: servicenow\n    servicenow: { auth: oauth }", 1) + create, `sources.s.servicenow.auth: "oauth" is not basic or hmac`},
		{"actions missing", head, "sources.s.actions: required: at least one action"},
		{"do missing", head + "    actions:\n      - when: { path: a, exists: true }\n", "sources.s.actions[0].do: required"},
		{"create without map", head + "    actions:\n      - do: create\n", "sources.s.actions[0].map: required"},
		{"create with ticket", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        ticket: { path: key }\n", 1), "sources.s.actions[0].ticket: only a close takes this"},
		{"create missing required fields", head + "    actions:\n      - do: create\n        map: { accessLevel: { value: Read } }\n", "sources.s.actions[0].map.resourceType: required"},
		{"requester.id required", head + strings.Replace(create, "          requester: { id: { path: who } }\n", "          requester: { displayName: { path: who } }\n", 1), "sources.s.actions[0].map.requester.id: required"},
		{"close with bad constant ticket", head + "    actions:\n      - do: close\n        ticket: { value: \"a\\tb\" }\n", "sources.s.actions[0].ticket: a ticket must be 1..128 printable characters"},
		{"bad action name", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        name: File\n", 1), "sources.s.actions[0].name: an action's name must be"},
		{"split outside resourceIds", head + strings.Replace(create, "{ path: why }", "{ path: why, split: \",\" }", 1), `sources.s.actions[0].map.justification: unknown key "split"`},
		{"split with a value", head + strings.Replace(create, "{ path: ids }", "{ value: x, split: \",\" }", 1), "sources.s.actions[0].map.resourceIds.split: split takes a separator of 1..8 bytes, with a path"},
		{"value is a mapping", head + strings.Replace(create, "{ value: vm }", "{ value: { a: b } }", 1), "sources.s.actions[0].map.resourceType.value: must be a value, not a mapping"},
		{"value shorthand", head + strings.Replace(create, "{ value: vm }", "vm", 1), "sources.s.actions[0].map.resourceType: must be a mapping, not a value"},
		{"key twice", head + strings.Replace(create, "{ path: ids }", "{ path: ids, path: more }", 1), "key \"path\" is given twice"},
		{"condition both leaf and all", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        when: { path: a, exists: true, all: [ { path: b, exists: true } ] }\n", 1), "sources.s.actions[0].when.all: a condition with a path takes equals, in or exists, not all"},
		{"condition equals without path", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        when: { equals: x }\n", 1), "sources.s.actions[0].when.equals: equals needs a path"},
		{"condition exists not boolean", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        when: { path: a, exists: yes }\n", 1), "sources.s.actions[0].when.exists: must be true or false"},
		{"condition empty any", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        when: { any: [] }\n", 1), "sources.s.actions[0].when.any: must hold 1..32 entries"},
		{"condition too deep", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        when: "+strings.Repeat("{ not: ", 9)+"{ path: a, exists: true }"+strings.Repeat(" }", 9)+"\n", 1), "conditions nest at most 8 deep"},
		{"in empty", head + strings.Replace(create, "      - do: create\n", "      - do: create\n        when: { path: a, in: [] }\n", 1), "sources.s.actions[0].when.in: must hold 1..64 entries"},
		{"duration zero", head + strings.Replace(create, "          requester:", "          duration: { value: 0 }\n          requester:", 1), "sources.s.actions[0].map.duration: duration must be a whole number of hours from 1 to 720"},
		{"bad case url constant", head + strings.Replace(create, "          requester:", "          supportCaseUrl: { value: \"javascript:alert(1)\" }\n          requester:", 1), "sources.s.actions[0].map.supportCaseUrl: supportCaseUrl must be an absolute http or https URL"},
		{"case url template host open", head + strings.Replace(create, "          requester:", "          supportCaseUrl: { template: \"https://{{host}}/x\" }\n          requester:", 1), "a supportCaseUrl template must start with"},
		{"case url template host extendable", head + strings.Replace(create, "          requester:", "          supportCaseUrl: { template: \"https://jira.example{{key}}\" }\n          requester:", 1), "a supportCaseUrl template must start with"},
		{"template stray close", head + strings.Replace(create, "{ path: why }", "{ template: \"a }} b\" }", 1), "template has '}}' without '{{'"},
		{"template bad placeholder", head + strings.Replace(create, "{ path: why }", "{ template: \"{{a.*}}\" }", 1), "placeholder 1: path \"a.*\": character '*' is not allowed: wildcards are refused"},
		{"template empty placeholder", head + strings.Replace(create, "{ path: why }", "{ template: \"x {{ }} y\" }", 1), "placeholder 1: path is empty"},
		{"sources not a mapping", "sources: [a]\n", "sources: must be a mapping, not a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadAcceptsMinimalSources(t *testing.T) {
	doc := `
sources:
  sn:
    kind: servicenow
    servicenow: { auth: hmac }
    secrets: ["0123456789abcdef"]
    tenant: { value: contoso }
    actions:
      - do: close
        ticket: { path: number }
`
	c, err := Load([]byte(doc))
	require.NoError(t, err)
	s, err := c.Source("sn")
	require.NoError(t, err)
	assert.Equal(t, DefaultServiceNowHeader, s.ServiceNow.Header)
	assert.Nil(t, s.Actions[0].When, "an action without when acts on every delivery")
}

func TestSecretsNeverPrint(t *testing.T) {
	s := exampleSource(t, "jira")
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out := fmt.Sprintf(format, *s) + fmt.Sprintf(format, s) + fmt.Sprintf(format, []Source{*s})
		assert.NotContains(t, out, "jira-fixture-secret", format)
		assert.NotContains(t, out, fmt.Sprintf("%x", "jira-fixture-secret"), format)
	}
	_, err := Load([]byte("sources:\n  s:\n    kind: jira\n    secrets: [\"short-secret\"]\n"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "short-secret")
}
