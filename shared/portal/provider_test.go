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

// The provider console: a provider-approver sees the tenant's internal
// review queue and approves from it (with the session's form token, as
// every form), after which the customer's approver sees the request and
// what the provider checked; the engineer sees their own requests.
func TestProviderConsole(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{})
	e.Cases.Policy = &lockbox.ProviderPolicy{Identity: lockbox.DefaultIdentityChecks, Rules: []lockbox.ProviderRule{
		{Name: "vm-review", Require: lockbox.ProviderRequire{MFA: true, InternalApprovals: 1}}}}
	in := apitest.CreateInput("contoso", "eng-7")
	mfa := lockbox.Principal{Kind: lockbox.KindUser, Subject: "eng-7", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleRequester},
		AMR: []string{"mfa"}}
	filed, err := e.Cases.File(t.Context(), mfa, in, "")
	require.NoError(t, err)
	r := filed.Request
	require.Equal(t, lockbox.StatusInternalReview, r.Status)

	customer, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	assert.NotContains(t, customer.Get("/").Body, r.RequestID, "the customer does not see it")
	assert.Equal(t, http.StatusNotFound, customer.Get("/requests/"+r.RequestID).Status)

	lead, csrf := e.As("lead-1", "provider", lockbox.RoleProviderApprover)
	page := lead.Get("/provider?tenant=contoso")
	require.Equal(t, http.StatusOK, page.Status, page.Body)
	assert.Contains(t, page.Body, "Internal review")
	assert.Contains(t, page.Body, r.RequestID)
	assert.Contains(t, page.Body, "0 of 1")
	assert.NotContains(t, page.Body, `href="`+portaltest.BasePath+`/settings"`, "no customer pages in the nav")

	form := url.Values{"tenant": {"contoso"}, "requestId": {r.RequestID}, "action": {"approve"}, "reason": {"ticket and scope checked"}}
	assert.Equal(t, http.StatusForbidden, lead.Post("/provider", form).Status, "no form token")
	form.Set("csrf", csrf)
	done := lead.Post("/provider", form)
	require.Equal(t, http.StatusSeeOther, done.Status, done.Body)
	assert.Equal(t, "/provider?tenant=contoso", done.Location())
	after := lead.Get(done.Location())
	assert.Contains(t, after.Body, "It has gone to the customer")
	assert.NotContains(t, after.Body, `value="`+r.RequestID+`"`, "the queue is empty")

	shown := customer.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusOK, shown.Status, shown.Body)
	assert.Contains(t, shown.Body, "Checked by the provider")
	assert.Contains(t, shown.Body, "lead-1")
	assert.Contains(t, shown.Body, "vm-review")

	eng, _ := e.As("eng-7", "contoso", lockbox.RoleRequester)
	mine := eng.Get("/provider")
	require.Equal(t, http.StatusOK, mine.Status, mine.Body)
	assert.Contains(t, mine.Body, "Your requests")
	assert.Contains(t, mine.Body, "Cancel request")
	assert.NotContains(t, mine.Body, "Internal review</h2>", "an engineer reviews nothing")
}

// A customer's approver never reaches the console.
func TestProviderConsoleRefusesCustomers(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{})
	customer, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	assert.Equal(t, http.StatusForbidden, customer.Get("/provider").Status)
}
