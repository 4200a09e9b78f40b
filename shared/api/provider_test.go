package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// testPolicy is the provider's policy the tests file under.
const testPolicy = `
rules:
  - name: no-prod-admin
    match: {accessLevels: [Admin], tenants: [contoso]}
    deny: production is never administered through Lockbox
  - name: storage
    match: {resourceTypes: [Microsoft.Storage/*]}
    require: {isolatedIdentity: true, maxResources: 1}
  - name: vm-write
    match: {resourceTypes: [Microsoft.Compute/*], accessLevels: [Write]}
    require: {mfa: true, internalApprovals: 2, maxDuration: 4}
  - name: vm-read
    match: {resourceTypes: [Microsoft.Compute/virtualMachines]}
    require: {mfa: true}
`

func withPolicy(t *testing.T, e *apitest.Env) *lockbox.ProviderPolicy {
	t.Helper()
	p, errs := config.ParseProviderPolicy([]byte(testPolicy))
	require.Empty(t, errs)
	p.Identity = lockbox.DefaultIdentityChecks
	p.Identity.IsolatedIssuers = []string{"https://isolated.example"}
	e.Cases.Policy = p
	return p
}

func mfa(c *auth.Claims)      { c.AMR = []string{"pwd", "mfa"} }
func isolated(c *auth.Claims) { c.Isolated = true }

// filing is a create body of requester eng-1 in contoso, changed by edit.
func filing(edit func(in *lockbox.CreateInput)) string {
	in := apitest.CreateInput("contoso", "eng-1")
	if edit != nil {
		edit(&in)
	}
	return apitest.JSON(in)
}

// The policy's rules against filings: the first matching rule applies; a
// refusal writes nothing (the whole of Redis, values and TTLs, is the same
// after it).
func TestProviderPolicyAtFiling(t *testing.T) {
	storage := func(in *lockbox.CreateInput) {
		in.ResourceType = "Microsoft.Storage/storageAccounts"
		in.ResourceIDs = []string{"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-prod/providers/Microsoft.Storage/storageAccounts/prodlogs"}
	}
	cases := []struct {
		name   string
		claims func(c *auth.Claims)
		edit   func(in *lockbox.CreateInput)
		status int
		code   string
		says   string // in the error's message, or the rule that applied
	}{
		{"mfa required, token without amr", nil, nil, 403, "StepUpRequired", "requires mfa"},
		{"mfa required, amr pwd only", func(c *auth.Claims) { c.AMR = []string{"pwd"} }, nil, 403, "StepUpRequired", "mfa"},
		{"mfa required, amr mfa", mfa, nil, 201, "", "vm-read"},
		{"mfa required, amr hwk", func(c *auth.Claims) { c.AMR = []string{"hwk"} }, nil, 201, "", "vm-read"},
		{"isolated identity missing", mfa, storage, 403, "StepUpRequired", "isolatedIdentity"},
		{"isolated identity by claim", isolated, storage, 201, "", "storage"},
		{"isolated identity by issuer", func(c *auth.Claims) { c.Issuer = "https://isolated.example" }, storage, 201, "", "storage"},
		{"scope beyond the rule", isolated, func(in *lockbox.CreateInput) {
			storage(in)
			in.ResourceIDs = append(in.ResourceIDs, in.ResourceIDs[0]+"2")
		}, 422, "ProviderScopeExceeded", "resourceIds: "},
		{"duration beyond the rule", mfa, func(in *lockbox.CreateInput) { in.AccessLevel, in.Duration = "Write", ptr(5) }, 422,
			"ProviderScopeExceeded", "duration: "},
		{"deny", mfa, func(in *lockbox.CreateInput) { in.AccessLevel = "Admin" }, 403, "ProviderDenied",
			"production is never administered through Lockbox"},
		{"no rule matches", nil, func(in *lockbox.CreateInput) { in.ResourceType = "Microsoft.Sql/servers" }, 201, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := apitest.New(t)
			withPolicy(t, e)
			tok := e.TokenWith(c.claims, "eng-1", "contoso", lockbox.RoleRequester)
			before := e.Snapshot()
			resp := e.Serve(api.Create, e.Post(tok, filing(c.edit)))
			require.Equal(t, c.status, resp.StatusCode, "%s", resp.Body)
			if c.code != "" {
				got := apitest.ErrorOf(t, resp)
				assert.Equal(t, c.code, got.Code)
				assert.Contains(t, got.Message, c.says)
				assert.Equal(t, before, e.Snapshot(), "a refusal writes nothing")
				return
			}
			r := apitest.Decode[lockbox.Request](t, resp)
			require.NotNil(t, r.ProviderChecks)
			assert.Equal(t, c.says, r.ProviderChecks.PolicyRule)
			assert.Equal(t, lockbox.StatusPending, r.Status)
		})
	}
}

// Without the secret, a filing is answered as it always was: no
// providerChecks at all.
func TestNoProviderPolicyNoChecks(t *testing.T) {
	e := apitest.New(t)
	resp := e.Serve(api.Create, e.Post(e.Token("eng-1", "contoso", lockbox.RoleRequester), filing(nil)))
	require.Equal(t, 201, resp.StatusCode, "%s", resp.Body)
	assert.NotContains(t, string(resp.Body), "providerChecks")
}

// outbox counts the notifications recorded for the tenant.
func outbox(t *testing.T, e *apitest.Env, tenant string) int64 {
	t.Helper()
	n, err := e.Redis.XLen(t.Context(), "lb:{"+tenant+"}:outbox").Result()
	require.NoError(t, err)
	return n
}

func review(e *apitest.Env, flow api.Flow, tok, id, tenant, reason string) handler.Response {
	return e.Serve(flow, e.Post(tok, fmt.Sprintf(`{"requestId":%q,"tenantId":%q,"reason":%q}`, id, tenant, reason)))
}

// A rule with internalApprovals files the request InternalReview: the
// customer's roles cannot see, list or decide it and nobody is told; two
// distinct provider-approvers (never the requester) release it to Pending,
// and only then are the customer's approvers told and does the approval
// window start.
func TestInternalReview(t *testing.T) {
	e := apitest.New(t)
	withPolicy(t, e)
	eng := e.TokenWith(mfa, "eng-1", "contoso", lockbox.RoleRequester)
	resp := e.Serve(api.Create, e.Post(eng, filing(func(in *lockbox.CreateInput) { in.AccessLevel, in.Duration = "Write", ptr(2) })))
	require.Equal(t, 201, resp.StatusCode, "%s", resp.Body)
	r := apitest.Decode[lockbox.Request](t, resp)
	require.Equal(t, lockbox.StatusInternalReview, r.Status)
	assert.Equal(t, e.Now.Add(24*time.Hour), r.ExpirationDateTime, "the review window")
	assert.Equal(t, &lockbox.ProviderChecks{MFA: true, InternalApprovals: []lockbox.InternalApproval{}, InternalApprovalsRequired: 2,
		PolicyRule: "vm-write"}, r.ProviderChecks)
	assert.Zero(t, outbox(t, e, "contoso"), "nobody is told")

	customer := map[string]string{
		"approver": e.Token("alice", "contoso", lockbox.RoleApprover),
		"admin":    e.Token("ada", "contoso", lockbox.RoleAdmin),
		"reader":   e.Token("rita", "contoso", lockbox.RoleReader),
	}
	hidden := func() {
		t.Helper()
		for role, tok := range customer {
			got := e.Serve(api.List, e.Get(tok, "requestId="+r.RequestID))
			assert.Equal(t, http.StatusNotFound, got.StatusCode, "%s reads it: %s", role, got.Body)
			got = e.Serve(api.List, e.Get(tok, ""))
			assert.NotContains(t, string(got.Body), r.RequestID, "%s lists it", role)
		}
		got := e.Serve(api.Approve, e.Post(customer["approver"], fmt.Sprintf(`{"requestId":%q,"reason":"ok"}`, r.RequestID)))
		assert.Equal(t, http.StatusNotFound, got.StatusCode, "the customer's approver decides it: %s", got.Body)
	}
	hidden()

	lead := e.Token("lead-1", "provider", lockbox.RoleProviderApprover)
	got := review(e, api.Approve, lead, r.RequestID, "contoso", "ticket checked")
	require.Equal(t, 200, got.StatusCode, "%s", got.Body)
	r = apitest.Decode[lockbox.Request](t, got)
	assert.Equal(t, lockbox.StatusInternalReview, r.Status, "one of two")
	require.Len(t, r.ProviderChecks.InternalApprovals, 1)
	assert.Equal(t, "lead-1", r.ProviderChecks.InternalApprovals[0].By)
	hidden()

	again := review(e, api.Approve, lead, r.RequestID, "contoso", "twice")
	assert.Equal(t, http.StatusConflict, again.StatusCode, "the same approver twice: %s", again.Body)
	self := review(e, api.Approve, e.Token("eng-1", "provider", lockbox.RoleProviderApprover), r.RequestID, "contoso", "mine")
	assert.Equal(t, http.StatusForbidden, self.StatusCode, "the requester reviews their own: %s", self.Body)
	noTenant := e.Serve(api.Approve, e.Post(lead, fmt.Sprintf(`{"requestId":%q,"reason":"x"}`, r.RequestID)))
	assert.Equal(t, http.StatusBadRequest, noTenant.StatusCode, "the provider names the tenant: %s", noTenant.Body)
	assert.Zero(t, outbox(t, e, "contoso"), "still nobody is told")

	e.Advance(time.Hour)
	got = review(e, api.Approve, e.Token("lead-2", "provider", lockbox.RoleProviderApprover), r.RequestID, "contoso", "scope fine")
	require.Equal(t, 200, got.StatusCode, "%s", got.Body)
	r = apitest.Decode[lockbox.Request](t, got)
	assert.Equal(t, lockbox.StatusPending, r.Status)
	assert.Equal(t, e.Now.Add(96*time.Hour), r.ExpirationDateTime, "the 4-day window starts at the release")
	assert.Equal(t, int64(1), outbox(t, e, "contoso"), "the customer is told now")
	ttl, err := e.Redis.PTTL(t.Context(), "lb:{contoso}:pending:"+r.RequestID).Result()
	require.NoError(t, err)
	assert.Equal(t, 96*time.Hour, ttl)

	read := e.Serve(api.List, e.Get(customer["approver"], "requestId="+r.RequestID))
	require.Equal(t, 200, read.StatusCode, "%s", read.Body)
	var shown struct {
		Value []map[string]any `json:"value"`
	}
	require.NoError(t, json.Unmarshal(read.Body, &shown))
	require.Len(t, shown.Value, 1)
	checks := shown.Value[0]["providerChecks"].(map[string]any)
	assert.Equal(t, true, checks["mfa"])
	assert.Equal(t, "vm-write", checks["policyRule"])
	assert.Len(t, checks["internalApprovals"], 2)

	decided := e.Serve(api.Approve, e.Post(customer["approver"], fmt.Sprintf(`{"requestId":%q,"reason":"ok"}`, r.RequestID)))
	require.Equal(t, 200, decided.StatusCode, "%s", decided.Body)
	assert.Equal(t, lockbox.StatusApproved, apitest.Decode[lockbox.Request](t, decided).Status)
	assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpInternalApprove, lockbox.OpInternalApprove, lockbox.OpApprove}, ops(t, e, "contoso"))
}

// An internal deny ends the request before the customer ever hears of it;
// an unreviewed request expires after internal_review_ttl, and the sweep
// records it. Neither is ever shown to the customer.
func TestInternalDenyAndExpiry(t *testing.T) {
	e := apitest.New(t)
	withPolicy(t, e)
	eng := e.TokenWith(mfa, "eng-1", "contoso", lockbox.RoleRequester)
	write := filing(func(in *lockbox.CreateInput) { in.AccessLevel = "Write"; in.Duration = ptr(1) })
	denied := apitest.Decode[lockbox.Request](t, e.Serve(api.Create, e.Post(eng, write)))
	lead := e.Token("lead-1", "provider", lockbox.RoleProviderApprover)
	got := review(e, api.Deny, lead, denied.RequestID, "contoso", "no customer impact stated")
	require.Equal(t, 200, got.StatusCode, "%s", got.Body)
	assert.Equal(t, lockbox.StatusDenied, apitest.Decode[lockbox.Request](t, got).Status)

	expiring := apitest.Decode[lockbox.Request](t, e.Serve(api.Create, e.Post(eng, write)))
	e.Advance(24*time.Hour + time.Millisecond)
	late := review(e, api.Approve, lead, expiring.RequestID, "contoso", "late")
	assert.Equal(t, http.StatusConflict, late.StatusCode, "%s", late.Body)
	assert.Equal(t, "Expired", apitest.ErrorOf(t, late).CurrentStatus)
	res, err := e.Store.Sweep(t.Context(), "contoso", e.Now)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Expired)

	approver := e.Token("alice", "contoso", lockbox.RoleApprover)
	for _, id := range []string{denied.RequestID, expiring.RequestID} {
		assert.Equal(t, http.StatusNotFound, e.Serve(api.List, e.Get(approver, "requestId="+id)).StatusCode)
		op := e.Serve(api.List, e.Get(e.Token("op", "provider", lockbox.RoleOperator), "tenantId=contoso&requestId="+id))
		assert.Equal(t, 200, op.StatusCode, "the provider still reads it")
	}
	assert.Zero(t, outbox(t, e, "contoso"), "the customer was never told")
	assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpInternalDeny, lockbox.OpCreate, lockbox.OpExpire}, ops(t, e, "contoso"))
}

// A signed integration cannot prove a person's MFA: under a rule that
// requires it, its filing goes to internal review.
func TestSignedFilingGoesToInternalReview(t *testing.T) {
	e := apitest.New(t)
	withPolicy(t, e)
	resp := e.Serve(api.Create, e.Signed(filing(nil)))
	require.Equal(t, 201, resp.StatusCode, "%s", resp.Body)
	r := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, lockbox.StatusInternalReview, r.Status)
	assert.Equal(t, 1, r.ProviderChecks.InternalApprovalsRequired)
	assert.False(t, r.ProviderChecks.MFA)

	src := lockbox.Principal{Kind: lockbox.KindService, Subject: "intake:jira", Source: "jira"}
	in := apitest.CreateInput("contoso", "eng-2")
	f, err := e.Cases.FileTicket(t.Context(), src, in, usecase.Delivery{Key: "d-1", Body: []byte("{}")})
	require.NoError(t, err)
	assert.Equal(t, lockbox.StatusInternalReview, f.Request.Status, "an intake source's filing too")
}

// ops are the operation names of the tenant's audit events, in order.
func ops(t *testing.T, e *apitest.Env, tenant string) []string {
	t.Helper()
	entries, err := e.Redis.XRange(t.Context(), "lb:{"+tenant+"}:events", "-", "+").Result()
	require.NoError(t, err)
	var out []string
	for _, en := range entries {
		for _, v := range en.Values {
			s := fmt.Sprint(v)
			for _, op := range lockbox.Operations {
				if strings.Contains(s, fmt.Sprintf("%d:%s", len(op), op)) {
					out = append(out, op)
					break
				}
			}
		}
	}
	return out
}

func ptr(n int) *int { return &n }
