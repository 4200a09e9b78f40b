package function

import (
	"net/http"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
)

func setup(t *testing.T) (*apitest.Env, func(handler.Request) handler.Response) {
	return apitest.Setup(t, &svc, Handle)
}

// put is a PUT of body with If-Match etag ("" for none) and a bearer token.
func put(e *apitest.Env, token, etag, body string) handler.Request {
	req := e.Post(token, body)
	req.Method = http.MethodPut
	if etag != "" {
		req.Header.Set("If-Match", etag)
	}
	return req
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// A document as an admin writes it.
const doc = `{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","alternateEmail":"oncall@contoso.example"}],` +
	`"escalation":{"after":"24h","contacts":[{"id":"sec","email":"security@contoso.example"}]},"reminders":["24h","2h"],` +
	`"requiredApprovals":2,"maxDuration":4,` +
	`"rules":[{"name":"weekend-deny","effect":"autoDeny","match":{"schedule":{"timezone":"Europe/Berlin","days":["Sat","Sun"],"from":"00:00","to":"24:00","outside":false}}}],` +
	`"webhooks":[{"id":"soc","url":"https://93.184.215.14/hooks/lockbox","format":"standard","events":["created","approved","receipt"],"secret":"` + secret + `"}]}`

func TestSettings(t *testing.T) {
	e, call := setup(t)
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	before := e.File("contoso", "eng-7") // filed under the defaults

	// A tenant that never saved settings has the defaults, version 0.
	resp := call(e.Get(ada, ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.Equal(t, `"0"`, resp.Header.Get("ETag"))
	got := apitest.Decode[lockbox.Settings](t, resp)
	assert.Equal(t, lockbox.DefaultSettings(true), got)

	// The admin saves a document.
	resp = call(put(e, ada, `"0"`, doc))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.Equal(t, `"1"`, resp.Header.Get("ETag"))
	got = apitest.Decode[lockbox.Settings](t, resp)
	assert.Equal(t, 2, got.RequiredApprovals)
	assert.Equal(t, "ada", got.UpdatedBy)
	assert.Equal(t, "ada", got.Rules[0].UpdatedBy)
	assert.Empty(t, got.Webhooks[0].Secret, "secrets are write-only")
	assert.Equal(t, []string{"created", "approved", "receipt"}, got.Webhooks[0].Events, "a webhook may subscribe to access receipts")
	assert.NotContains(t, string(resp.Body), secret)

	// Approvers and readers may read them; the secret is never shown.
	for _, tok := range []string{e.Token("alice", "contoso", lockbox.RoleApprover), e.Token("rita", "contoso", lockbox.RoleReader)} {
		resp = call(e.Get(tok, ""))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NotContains(t, string(resp.Body), secret)
	}

	// The change is audited, naming what changed and never the secret.
	msgs, err := e.Redis.XRange(t.Context(), "lb:{contoso}:events", "-", "+").Result()
	require.NoError(t, err)
	last := msgs[len(msgs)-1].Values["v2"].(string)
	assert.Contains(t, last, lockbox.OpUpdateSettings)
	assert.Contains(t, last, "requiredApprovals 1 → 2")
	assert.Contains(t, last, "rules: added weekend-deny")
	assert.Contains(t, last, "webhooks: added soc")
	assert.NotContains(t, last, secret)

	// A PUT that leaves the secret out keeps it; a stale ETag is 412.
	noSecret := strings.Replace(doc, `,"secret":"`+secret+`"`, "", 1)
	resp = call(put(e, ada, `"1"`, strings.Replace(noSecret, `"requiredApprovals":2`, `"requiredApprovals":3`, 1)))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	stored, err := e.Store.Settings(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, secret, stored.Webhooks[0].Secret)
	assert.Equal(t, 3, stored.RequiredApprovals)
	resp = call(put(e, ada, `"1"`, doc))
	assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)
	resp = call(put(e, ada, "", doc))
	assert.Equal(t, http.StatusPreconditionRequired, resp.StatusCode)

	// A request filed before the change keeps what it was filed under; one
	// filed after needs three approvers.
	old, err := e.Store.Get(t.Context(), "contoso", before.RequestID)
	require.NoError(t, err)
	assert.Equal(t, 1, old.RequiredApprovals)
	after := e.File("contoso", "eng-7")
	assert.Equal(t, 3, after.RequiredApprovals)

	// An operator reads the tenant it names, and never changes it.
	resp = call(e.Get(e.Token("olga", "provider", lockbox.RoleOperator), "tenantId=contoso"))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp = call(put(e, e.Token("olga", "provider", lockbox.RoleOperator), `"2"`, doc))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "an operator never changes a tenant's settings")
}

// Nothing the provider controls switches a customer's Lockbox off or adds
// an auto-approval: an operator's PUT (naming the tenant, with the right
// version) was accepted, recorded as "admin", and the next request was
// approved by the system with no customer decision.
func TestOperatorCannotSwitchLockboxOff(t *testing.T) {
	e, call := setup(t)
	olga := e.Token("olga", "provider", lockbox.RoleOperator)
	off := `{"enabled":false,"approvers":[],"escalation":null,"reminders":["24h","2h"],"requiredApprovals":1,"maxDuration":null,` +
		`"rules":[{"name":"all","effect":"autoApprove","match":{}}],"webhooks":[]}`
	for _, who := range []struct{ name, token, query string }{
		{"an operator naming the tenant", olga, "tenantId=contoso"},
		{"an operator who is also the tenant's admin", e.Token("olga", "contoso", lockbox.RoleOperator, lockbox.RoleAdmin), ""},
		{"a requester who is also the tenant's admin", e.Token("eng-7", "contoso", lockbox.RoleRequester, lockbox.RoleAdmin), ""},
	} {
		req := put(e, who.token, `"0"`, off)
		req.QueryString = who.query
		before := e.Snapshot()
		resp := call(req)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", who.name, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "%s changed state", who.name)
	}
	r := e.File("contoso", "eng-7")
	assert.Equal(t, lockbox.StatusPending, r.Status, "the next request waits for the customer")
}

// Webhook URLs are credentials (a Slack or Teams URL lets its holder post to
// the channel): the tenant's admins see them whole, its readers and
// approvers and the provider only scheme and host.
func TestWebhookURLsShownWholeToAdminsOnly(t *testing.T) {
	e, call := setup(t)
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	hook := "https://93.184.215.14/services/T0001/B0001/" + strings.Repeat("s", 24)
	body := `{"enabled":true,"approvers":[],"escalation":null,"reminders":[],"requiredApprovals":1,"maxDuration":null,"rules":[],` +
		`"webhooks":[{"id":"chat","url":"` + hook + `","format":"slack","secret":"whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNA=="}]}`
	resp := call(put(e, ada, `"0"`, body))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.Contains(t, string(resp.Body), hook, "the admin's PUT answers the whole URL")
	resp = call(e.Get(ada, ""))
	assert.Contains(t, string(resp.Body), hook, "the admin reads it whole")
	for _, tok := range []string{e.Token("rita", "contoso", lockbox.RoleReader), e.Token("alice", "contoso", lockbox.RoleApprover)} {
		resp = call(e.Get(tok, ""))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
		assert.NotContains(t, string(resp.Body), "T0001", "a reader or approver sees only scheme and host")
		assert.Contains(t, string(resp.Body), `"https://93.184.215.14/…"`)
	}
	resp = call(e.Get(e.Token("olga", "provider", lockbox.RoleOperator), "tenantId=contoso"))
	assert.NotContains(t, string(resp.Body), "T0001", "an operator sees only scheme and host")
	resp = call(e.SignedGet("tenantId=contoso"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.NotContains(t, string(resp.Body), "T0001", "a signed service sees only scheme and host")
}

// Any entity tag that is not the current one fails the precondition (RFC
// 9110 §13.1.1), whatever it looks like; a list with the current one in it
// passes.
func TestIfMatch(t *testing.T) {
	e, call := setup(t)
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	for _, tag := range []string{`"stale-etag"`, `"1"`, `W/"0"`, `"-1"`, `"00x"`, `"1", "2"`} {
		before := e.Snapshot()
		resp := call(put(e, ada, tag, doc))
		assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, "If-Match: %s: %s", tag, resp.Body)
		assert.Equal(t, before, e.Snapshot(), "If-Match: %s changed state", tag)
	}
	for _, tag := range []string{`stale`, `"unterminated`, `"a b"`} {
		resp := call(put(e, ada, tag, doc))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "If-Match: %s is not an entity tag: %s", tag, resp.Body)
	}
	resp := call(put(e, ada, `"7", "0"`, doc))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a list holding the current tag: %s", resp.Body)
	assert.Equal(t, `"1"`, resp.Header.Get("ETag"))
}

// Hostile documents are refused with a message naming the field, and nothing
// is stored.
func TestSettingsRefusals(t *testing.T) {
	e, call := setup(t)
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	with := func(old, new string) string {
		require.Contains(t, doc, old)
		return strings.Replace(doc, old, new, 1)
	}
	cases := []struct {
		name, body, field string
		req               *handler.Request
		want              int
	}{
		{name: "unknown field", body: with(`"enabled":true`, `"enabled":true,"superuser":true`), field: "superuser", want: 400},
		{name: "unknown nested field", body: with(`"effect":"autoDeny"`, `"effect":"autoDeny","priority":1`), field: "priority", want: 400},
		{name: "wrong type", body: with(`"requiredApprovals":2`, `"requiredApprovals":"2"`), field: "requiredApprovals", want: 400},
		{name: "six approvers required", body: with(`"requiredApprovals":2`, `"requiredApprovals":6`), field: "requiredApprovals", want: 400},
		{name: "maxDuration over 720", body: with(`"maxDuration":4`, `"maxDuration":721`), field: "maxDuration", want: 400},
		{name: "bad time zone", body: with(`Europe/Berlin`, `Mars/Olympus`), field: "rules[0].match.schedule.timezone", want: 400},
		{name: "the Local time zone", body: with(`Europe/Berlin`, `Local`), field: "rules[0].match.schedule.timezone", want: 400},
		{name: "bad day", body: with(`"Sat","Sun"`, `"Sat","Sunday"`), field: "rules[0].match.schedule.days[1]", want: 400},
		{name: "bad effect", body: with(`"effect":"autoDeny"`, `"effect":"allow"`), field: "rules[0].effect", want: 400},
		{name: "bad email", body: with(`alice@contoso.example"`, `alice at contoso"`), field: "approvers[0].email", want: 400},
		{name: "bad reminder", body: with(`"reminders":["24h","2h"]`, `"reminders":["tomorrow"]`), field: "reminders[0]", want: 400},
		{name: "plain http webhook", body: with(`https://93.184.215.14`, `http://93.184.215.14`), field: "webhooks[0].url", want: 400},
		{name: "webhook to a private address", body: with(`https://93.184.215.14`, `https://10.0.0.5`), field: "webhooks[0].url", want: 400},
		{name: "webhook to the metadata service", body: with(`https://93.184.215.14`, `https://169.254.169.254`), field: "webhooks[0].url", want: 400},
		{name: "webhook to loopback by name", body: with(`https://93.184.215.14`, `https://localhost:8443`), field: "webhooks[0].url", want: 400},
		{name: "webhook with credentials", body: with(`https://93.184.215.14`, `https://user:pw@93.184.215.14`), field: "webhooks[0].url", want: 400},
		{name: "new webhook without a secret", body: with(`,"secret":"`+secret+`"`, ``), field: "webhooks[0].secret", want: 400},
		{name: "weak webhook secret", body: with(secret, "whsec_c2hvcnQ="), field: "webhooks[0].secret", want: 400},
		{name: "bad event type", body: with(`"created","approved"`, `"created","deleted"`), field: "webhooks[0].events[1]", want: 400},
		{name: "misspelled receipt", body: with(`"receipt"]`, `"receipts"]`), field: "webhooks[0].events[2] must be one of created, approved, denied, expired, completed, revoked, canceled, reminder, escalated, receipt", want: 400},
		{name: "two rules of one name", body: with(`"rules":[`, `"rules":[{"name":"weekend-deny","effect":"autoApprove","match":{}},`), field: "rules[1].name", want: 400},
		{name: "oversized", body: with(`"enabled":true`, `"enabled":true,"x":"`+strings.Repeat("x", 70<<10)+`"`), want: 413},
		{name: "not an object", body: `[]`, want: 400},
		{name: "a reader writes", req: new(put(e, e.Token("rita", "contoso", lockbox.RoleReader), `"0"`, doc)), want: 403},
		{name: "an approver writes", req: new(put(e, e.Token("alice", "contoso", lockbox.RoleApprover), `"0"`, doc)), want: 403},
		{name: "another tenant's admin names this tenant", req: func() *handler.Request {
			r := put(e, e.Token("ada", "fabrikam", lockbox.RoleAdmin), `"0"`, doc)
			r.QueryString = "tenantId=contoso"
			return &r
		}(), want: 403},
		{name: "a signed service writes", req: func() *handler.Request {
			r := e.Signed(doc)
			r.Method = http.MethodPut
			r.Header.Set("If-Match", `"0"`)
			return &r
		}(), want: 403},
		{name: "If-Match *", req: new(put(e, ada, `*`, doc)), want: 428},
		{name: "DELETE", req: new(handler.Request{Method: http.MethodDelete, Header: http.Header{"Authorization": {"Bearer " + ada}}}), want: 405},
	}
	for _, c := range cases {
		req := put(e, ada, `"0"`, c.body)
		if c.req != nil {
			req = *c.req
		}
		before := e.Snapshot()
		resp := call(req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
		if c.field != "" {
			assert.Contains(t, apitest.ErrorOf(t, resp).Message, c.field, c.name)
		}
		assert.Equal(t, before, e.Snapshot(), "%s changed state", c.name)
	}
	n, err := e.Redis.Exists(t.Context(), "lb:{contoso}:settings").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// Two admins change the settings at once from the same version: one wins,
// the other gets 412, and only one change is recorded.
func TestSettingsConcurrentChanges(t *testing.T) {
	e, call := setup(t)
	ada, bea := e.Token("ada", "contoso", lockbox.RoleAdmin), e.Token("bea", "contoso", lockbox.RoleAdmin)
	done := make(chan int, 2)
	for _, tok := range []string{ada, bea} {
		go func() { done <- call(put(e, tok, `"0"`, doc)).StatusCode }()
	}
	got := []int{<-done, <-done}
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, got)
	n, err := e.Redis.XLen(t.Context(), "lb:{contoso}:events").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}
