package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
)

// tenantKeys is what Redis holds of tenant contoso (sessions aside).
func tenantKeys(e *portaltest.Env) map[string]string {
	out := map[string]string{}
	for k, v := range e.RedisContent() {
		if strings.HasPrefix(k, "lb:{contoso}:") {
			out[k] = v
		}
	}
	return out
}

// The admin locks the tenant down from the settings page: the form leads
// to a confirmation page that says what will happen and changes nothing;
// confirming locks the tenant down as lockbox-lockdown's POST does; the
// page then shows the state and a lift form, which lifts it. Approvers see
// the state and no form, and cannot post one.
func TestLockdownForms(t *testing.T) {
	e := setup(t)
	live := file(e, "contoso", "eng-7", nil)
	_, err := e.Store.Act(t.Context(), "contoso", live.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	waiting := file(e, "contoso", "eng-8", nil)
	ada, csrf := e.As("ada", "contoso", lockbox.RoleAdmin)

	page := ada.Get("/settings")
	require.Equal(t, http.StatusOK, page.Status)
	assert.Contains(t, page.Body, "Not locked down.")
	assert.Contains(t, page.Body, `action="/function/lockbox-portal/lockdown"`)

	before := tenantKeys(e)
	reason := "Credential leak under investigation <INC-2040>"
	page = ada.Post("/lockdown", url.Values{"csrf": {csrf}, "reason": {reason}, "lasts": {"24h"}})
	require.Equal(t, http.StatusOK, page.Status, page.Body)
	assert.Contains(t, page.Body, "Lock down contoso?")
	assert.Contains(t, page.Body, "every live grant is revoked (1 now)")
	assert.Contains(t, page.Body, "every request waiting for approval is canceled (1 now)")
	assert.Contains(t, page.Body, "until "+e.Now.Add(24*time.Hour).UTC().Format("2006-01-02 15:04 UTC"))
	assert.Contains(t, page.Body, "Credential leak under investigation &lt;INC-2040&gt;", "escaped")
	assert.Contains(t, page.Body, `name="confirm" value="yes"`)
	assert.Equal(t, before, tenantKeys(e), "asking to confirm writes nothing")

	// Refusals: nothing written.
	for name, v := range map[string]url.Values{
		"no form token":        {"reason": {reason}, "confirm": {"yes"}},
		"no reason":            {"csrf": {csrf}, "reason": {"  "}, "confirm": {"yes"}},
		"a length not offered": {"csrf": {csrf}, "reason": {reason}, "lasts": {"1000h"}, "confirm": {"yes"}},
		"confirm not yes":      {"csrf": {csrf}, "reason": {reason}, "confirm": {"sure"}},
	} {
		p := ada.Post("/lockdown", v)
		assert.GreaterOrEqual(t, p.Status, 400, "%s: %d", name, p.Status)
		assert.Less(t, p.Status, 500, name)
		assert.Equal(t, before, tenantKeys(e), "%s wrote something", name)
	}
	alice, aliceCSRF := e.As("alice", "contoso", lockbox.RoleApprover)
	p := alice.Post("/lockdown", url.Values{"csrf": {aliceCSRF}, "reason": {reason}, "confirm": {"yes"}})
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.Equal(t, before, tenantKeys(e))

	p = ada.Post("/lockdown", url.Values{"csrf": {csrf}, "reason": {reason}, "lasts": {"24h"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/settings", p.Location())
	for id, want := range map[string]lockbox.Status{live.RequestID: lockbox.StatusRevoked, waiting.RequestID: lockbox.StatusCanceled} {
		r, err := e.Store.Get(t.Context(), "contoso", id)
		require.NoError(t, err)
		assert.Equal(t, want, r.Status)
	}
	page = ada.Get("/settings")
	assert.Contains(t, page.Body, "Tenant contoso is locked down: 1 grant revoked, 1 waiting request canceled")
	assert.Contains(t, page.Body, "Locked down.")
	assert.Contains(t, page.Body, `action="/function/lockbox-portal/lockdown/lift"`)
	assert.NotContains(t, page.Body, `action="/function/lockbox-portal/lockdown"`)

	page = alice.Get("/settings")
	assert.Contains(t, page.Body, "Locked down.")
	assert.Contains(t, page.Body, "Credential leak under investigation &lt;INC-2040&gt;")
	assert.NotContains(t, page.Body, "/lockdown/lift", "an approver sees no lift form")
	p = alice.Post("/lockdown/lift", url.Values{"csrf": {aliceCSRF}})
	assert.Equal(t, http.StatusForbidden, p.Status)

	p = ada.Post("/lockdown/lift", url.Values{"csrf": {csrf}, "reason": {"contained"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	page = ada.Get("/settings")
	assert.Contains(t, page.Body, "The lockdown of contoso is lifted")
	assert.Contains(t, page.Body, "Not locked down.")
}
