package portal_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
)

// liveEmergency files emergency access for eng-7 in contoso under a policy
// allowing it with two provider approvals, and lets it in.
func liveEmergency(t *testing.T, e *portaltest.Env) lockbox.Request {
	t.Helper()
	e.Cases.Policy = &lockbox.ProviderPolicy{Rules: []lockbox.ProviderRule{{Name: "vm-emergency",
		Emergency: &lockbox.EmergencyRule{Approvals: 2, MaxDuration: 4}}}, Identity: lockbox.DefaultIdentityChecks}
	in := apitest.CreateInput("contoso", "eng-7")
	in.Duration = new(2)
	in.Emergency = &lockbox.EmergencyInput{Incident: "INC-9001 <sev1>", Reason: "region outage: writes are being corrupted"}
	eng := lockbox.Principal{Kind: lockbox.KindUser, Subject: "eng-7", TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleRequester}}
	filed, err := e.Cases.File(t.Context(), eng, in, "")
	require.NoError(t, err)
	var r lockbox.Request
	for _, lead := range []string{"lead-1", "lead-2"} {
		p := lockbox.Principal{Kind: lockbox.KindUser, Subject: lead, TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleProviderApprover}}
		r, err = e.Cases.Decide(t.Context(), p, lockbox.ActionApprove,
			lockbox.DecisionInput{RequestID: filed.Request.RequestID, TenantID: "contoso", Reason: "outage bridge"})
		require.NoError(t, err)
	}
	require.Equal(t, lockbox.StatusApproved, r.Status)
	return r
}

// Emergency access the provider let in is the first thing on an approver's
// landing page, and its page says what happened and holds the review
// form; acknowledging it records the review, which the page then shows,
// and it leaves the landing page. A reader sees it and no form, and cannot
// post one.
func TestEmergencyReviewInPortal(t *testing.T) {
	e := setup(t)
	r := liveEmergency(t, e)
	alice, csrf := e.As("alice", "contoso", lockbox.RoleApprover)

	home := alice.Get("/")
	require.Equal(t, http.StatusOK, home.Status)
	assert.Contains(t, home.Body, "Emergency access to review")
	assert.Contains(t, home.Body, "INC-9001 &lt;sev1&gt;", "escaped")
	assert.Contains(t, home.Body, `href="/function/lockbox-portal/requests/`+r.RequestID+`"`)

	page := alice.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusOK, page.Status)
	for _, want := range []string{"Emergency access (break-glass)", "region outage: writes are being corrupted", "lead-1", "lead-2",
		"Review due", `value="acknowledge"`, `value="dispute"`} {
		assert.Contains(t, page.Body, want)
	}

	rita, ritaCSRF := e.As("rita", "contoso", lockbox.RoleReader)
	page = rita.Get("/requests/" + r.RequestID)
	assert.Contains(t, page.Body, "Emergency access (break-glass)")
	assert.NotContains(t, page.Body, `value="acknowledge"`, "a reader has no review form")
	before := tenantKeys(e)
	page = rita.Post("/requests/"+r.RequestID, url.Values{"csrf": {ritaCSRF}, "action": {"acknowledge"}, "reason": {"fine"}})
	assert.Equal(t, http.StatusForbidden, page.Status)
	page = alice.Post("/requests/"+r.RequestID, url.Values{"csrf": {csrf}, "action": {"dispute"}, "reason": {"  "}})
	assert.Equal(t, http.StatusBadRequest, page.Status, "a reason is required")
	assert.Equal(t, before, tenantKeys(e), "refusals write nothing")

	page = alice.Post("/requests/"+r.RequestID, url.Values{"csrf": {csrf}, "action": {"acknowledge"}, "reason": {"we opened the bridge"}})
	require.Equal(t, http.StatusSeeOther, page.Status, page.Body)
	page = alice.Get(page.Location())
	assert.Contains(t, page.Body, "You acknowledged this emergency access.")
	assert.Contains(t, page.Body, "Acknowledged</strong> by alice")
	assert.NotContains(t, page.Body, `value="acknowledge"`, "reviewed once")
	assert.NotContains(t, alice.Get("/").Body, "Emergency access to review")
	assert.Equal(t, "acknowledge", get(e, "contoso", r.RequestID).Emergency.Review.Verdict)
}

// The provider's approvers let emergency access in from the console: the
// queue marks it, and the last approval says it is live now; the customer
// sees it at once.
func TestEmergencyFromTheConsole(t *testing.T) {
	e := setup(t)
	e.Cases.Policy = &lockbox.ProviderPolicy{Rules: []lockbox.ProviderRule{{Name: "vm-emergency",
		Emergency: &lockbox.EmergencyRule{Approvals: 1, MaxDuration: 4}}}, Identity: lockbox.DefaultIdentityChecks}
	in := apitest.CreateInput("contoso", "eng-7")
	in.Duration = new(1)
	in.Emergency = &lockbox.EmergencyInput{Incident: "SEV1-77", Reason: "outage"}
	eng := lockbox.Principal{Kind: lockbox.KindUser, Subject: "eng-7", TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleRequester}}
	filed, err := e.Cases.File(t.Context(), eng, in, "")
	require.NoError(t, err)
	id := filed.Request.RequestID

	lead, csrf := e.As("lead-1", "provider", lockbox.RoleProviderApprover)
	page := lead.Get("/provider?tenant=contoso")
	require.Equal(t, http.StatusOK, page.Status, page.Body)
	assert.Contains(t, page.Body, "Emergency access (break-glass)</strong> for incident <strong>SEV1-77</strong>")
	done := lead.Post("/provider", url.Values{"csrf": {csrf}, "tenant": {"contoso"}, "requestId": {id}, "action": {"approve"},
		"reason": {"SEV1 bridge"}})
	require.Equal(t, http.StatusSeeOther, done.Status, done.Body)
	assert.Contains(t, lead.Get(done.Location()).Body, "It is live now")

	alice, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	assert.Contains(t, alice.Get("/").Body, "SEV1-77")
	assert.Equal(t, lockbox.StatusApproved, get(e, "contoso", id).Status)
}
