package api_test

import (
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
)

// emergencyPolicy allows emergency access to virtual machines, approved by
// two provider-approvers, for at most 2 hours, to an engineer signed in
// with MFA; production administration is refused, emergency or not.
const emergencyPolicy = `
rules:
  - name: no-prod-admin
    match: {accessLevels: [Admin]}
    deny: production is never administered through Lockbox
  - name: vm-emergency
    match: {resourceTypes: [Microsoft.Compute/*]}
    require: {mfa: true}
    emergency: {approvals: 2, maxDuration: 2}
  - name: storage
    match: {resourceTypes: [Microsoft.Storage/*]}
`

// An emergency filing against the policy and the tenant's settings: only a
// rule allowing it lets it through, within its maxDuration and the rule's
// factors, and only in a tenant that does not refuse break-glass; a
// refusal writes nothing. One that passes waits for the provider's
// approvers, hidden from the customer.
func TestEmergencyAtFiling(t *testing.T) {
	emergency := func(edit func(in *lockbox.CreateInput)) func(in *lockbox.CreateInput) {
		return func(in *lockbox.CreateInput) {
			in.Duration = ptr(2)
			in.Emergency = &lockbox.EmergencyInput{Incident: "INC-9001", Reason: "region outage"}
			if edit != nil {
				edit(in)
			}
		}
	}
	cases := []struct {
		name    string
		policy  bool
		deny    bool // the tenant's breakGlass is "deny"
		claims  func(c *auth.Claims)
		edit    func(in *lockbox.CreateInput)
		status  int
		code    string
		message string
	}{
		{"no policy: no emergency access", false, false, mfa, emergency(nil), 403, "EmergencyNotAllowed", "allows no emergency access"},
		{"a rule without emergency", true, false, mfa, emergency(func(in *lockbox.CreateInput) {
			in.ResourceType = "Microsoft.Storage/storageAccounts"
		}), 403, "EmergencyNotAllowed", "allows no emergency access"},
		{"a deny rule", true, false, mfa, emergency(func(in *lockbox.CreateInput) { in.AccessLevel = "Admin" }), 403, "ProviderDenied",
			"never administered"},
		{"beyond maxDuration", true, false, mfa, emergency(func(in *lockbox.CreateInput) { in.Duration = ptr(3) }), 422,
			"ProviderScopeExceeded", "duration: the provider's policy (rule vm-emergency) allows emergency access of at most 2 hours"},
		{"no duration named", true, false, mfa, emergency(func(in *lockbox.CreateInput) { in.Duration = nil }), 400, "",
			"duration is required for emergency access"},
		{"no incident", true, false, mfa, emergency(func(in *lockbox.CreateInput) { in.Emergency.Incident = "" }), 400, "",
			"emergency.incident"},
		{"the rule's factor missing", true, false, nil, emergency(nil), 403, "StepUpRequired", "mfa"},
		{"the tenant refuses break-glass", true, true, mfa, emergency(nil), 403, "BreakGlassDenied", `breakGlass is "deny"`},
		{"allowed", true, false, mfa, emergency(nil), 201, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := apitest.New(t)
			if c.policy {
				p, errs := config.ParseProviderPolicy([]byte(emergencyPolicy))
				require.Empty(t, errs)
				p.Identity = lockbox.DefaultIdentityChecks
				e.Cases.Policy = p
			}
			if c.deny {
				e.Configure("contoso", func(s *lockbox.Settings) { s.BreakGlass = lockbox.BreakGlassDeny })
			}
			tok := e.TokenWith(c.claims, "eng-1", "provider", lockbox.RoleRequester)
			before := e.Snapshot()
			resp := e.Serve(api.Create, e.Post(tok, filing(c.edit)))
			require.Equal(t, c.status, resp.StatusCode, "%s", resp.Body)
			if c.status != http.StatusCreated {
				got := apitest.ErrorOf(t, resp)
				if c.code != "" {
					assert.Equal(t, c.code, got.Code)
				}
				assert.Contains(t, got.Message, c.message)
				assert.Equal(t, before, e.Snapshot(), "a refusal writes nothing")
				return
			}
			r := apitest.Decode[lockbox.Request](t, resp)
			assert.Equal(t, lockbox.StatusInternalReview, r.Status)
			assert.Equal(t, 2, r.ProviderChecks.InternalApprovalsRequired)
			assert.Equal(t, &lockbox.Emergency{Incident: "INC-9001", Reason: "region outage"}, r.Emergency)
			alice := e.Token("alice", "contoso", lockbox.RoleApprover)
			resp = e.Serve(api.List, e.Get(alice, "requestId="+r.RequestID))
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "hidden from the customer until it goes live: %s", resp.Body)
		})
	}
}

// A tenant that changes breakGlass is obeyed at once by a function that
// cached its settings before: the filing's script checks the settings'
// version, so the refusal (and the allowance after it) holds in the
// filing's own step.
func TestBreakGlassSettingObeyedAtOnce(t *testing.T) {
	e := apitest.New(t)
	p, errs := config.ParseProviderPolicy([]byte(emergencyPolicy))
	require.Empty(t, errs)
	p.Identity = lockbox.DefaultIdentityChecks
	e.Cases.Policy = p
	tok := e.TokenWith(mfa, "eng-1", "provider", lockbox.RoleRequester)
	file := func() int {
		in := apitest.CreateInput("contoso", "eng-1")
		in.Duration = ptr(1)
		in.Emergency = &lockbox.EmergencyInput{Incident: "INC-9001", Reason: "outage"}
		return e.Serve(api.Create, e.Post(tok, apitest.JSON(in))).StatusCode
	}
	require.Equal(t, http.StatusCreated, file(), "allowed by default (the store caches these settings)")
	e.Configure("contoso", func(s *lockbox.Settings) { s.BreakGlass = lockbox.BreakGlassDeny })
	assert.Equal(t, http.StatusForbidden, file(), "refused as soon as the admin saved deny")
	e.Configure("contoso", func(s *lockbox.Settings) { s.BreakGlass = lockbox.BreakGlassAllow })
	assert.Equal(t, http.StatusCreated, file(), "allowed again")
	set, err := e.Store.Settings(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, "allow", set.BreakGlass)

}

// A tenant's admin who saves breakGlass "deny" while emergency access waits
// for the provider's approvers stops it: the approval that would let it in
// is refused (403 BreakGlassDenied) and writes nothing; it never goes live.
func TestBreakGlassDeniedWhileWaiting(t *testing.T) {
	e := apitest.New(t)
	p, errs := config.ParseProviderPolicy([]byte(emergencyPolicy))
	require.Empty(t, errs)
	p.Identity = lockbox.DefaultIdentityChecks
	e.Cases.Policy = p
	in := apitest.CreateInput("contoso", "eng-1")
	in.Duration = ptr(1)
	in.Emergency = &lockbox.EmergencyInput{Incident: "INC-9001", Reason: "outage"}
	resp := e.Serve(api.Create, e.Post(e.TokenWith(mfa, "eng-1", "provider", lockbox.RoleRequester), apitest.JSON(in)))
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", resp.Body)
	r := apitest.Decode[lockbox.Request](t, resp)
	approve := func(lead string) handler.Response {
		return e.Serve(api.Approve, e.Post(e.Token(lead, "provider", lockbox.RoleProviderApprover),
			`{"requestId":"`+r.RequestID+`","tenantId":"contoso","reason":"bridge"}`))
	}
	require.Equal(t, http.StatusOK, approve("lead-1").StatusCode)

	e.Configure("contoso", func(s *lockbox.Settings) { s.BreakGlass = lockbox.BreakGlassDeny })
	before := e.Snapshot()
	resp = approve("lead-2")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s", resp.Body)
	assert.Equal(t, "BreakGlassDenied", apitest.ErrorOf(t, resp).Code)
	assert.Equal(t, before, e.Snapshot(), "the refused approval writes nothing")
	got, err := e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	assert.Equal(t, lockbox.StatusInternalReview, got.Status)
	assert.False(t, got.AccessActive)
}
