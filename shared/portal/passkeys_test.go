package portal_test

import (
	"encoding/hex"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/passkey/passkeytest"
	"lockbox.dev/shared/portal"
)

var (
	optionsAttr = regexp.MustCompile(`data-options="([^"]*)"`)
	stateField  = regexp.MustCompile(`name="state" value="([^"]*)"`)
)

// An approver registers a passkey on the Passkeys page (the ceremony's
// options in the page, its state sealed in the form) and signs a decision
// with it on a request's page, as passkey.js does; without the passkey
// fields the decision is refused and nothing changes.
func TestPasskeyPages(t *testing.T) {
	e := setup(t)
	e.Configure("contoso", func(s *lockbox.Settings) { s.RequirePasskey = &lockbox.PasskeyRequirement{All: true} })
	r := file(e, "contoso", "eng-7", nil)
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)

	page := b.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusOK, page.Status)
	assert.Contains(t, page.Body, "you have none: register one on the Passkeys page first")
	assert.NotContains(t, page.Body, "<script")

	page = b.Get("/passkeys")
	require.Equal(t, http.StatusOK, page.Status, page.Body)
	assert.Equal(t, portal.CSPWithScript, page.Header.Get("Content-Security-Policy"))
	assert.Contains(t, page.Body, "This tenant requires a passkey for every decision.")
	assert.Contains(t, page.Body, `<script src="`+"/function/lockbox-portal/static/passkey.js?v=")
	options := html.UnescapeString(optionsAttr.FindStringSubmatch(page.Body)[1])
	state := stateField.FindStringSubmatch(page.Body)[1]
	auth := passkeytest.New(apitest.PasskeyOrigin, "portal.example")
	form := url.Values{portal.FormTokenField: {portaltest.FormToken(page.Body)}, "action": {"register"}, "name": {"YubiKey 5C NFC"},
		"state": {state}, "credential": {string(auth.Register([]byte(options)))}}

	// The state of another session does not register.
	other, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	otherPage := other.Get("/passkeys")
	stolen := url.Values{portal.FormTokenField: {portaltest.FormToken(otherPage.Body)}, "action": {"register"}, "name": {"x"},
		"state": {state}, "credential": form["credential"]}
	assert.Equal(t, http.StatusBadRequest, other.Post("/passkeys", stolen).Status)

	done := b.Post("/passkeys", form)
	require.Equal(t, http.StatusSeeOther, done.Status, done.Body)
	page = b.Get("/passkeys")
	assert.Contains(t, page.Body, "Your passkey YubiKey 5C NFC is registered")
	assert.Contains(t, page.Body, "YubiKey 5C NFC</th>")

	page = b.Get("/requests/" + r.RequestID)
	assert.Equal(t, portal.CSPWithScript, page.Header.Get("Content-Security-Policy"))
	assert.Contains(t, page.Body, `data-passkey="`)
	token := portaltest.FormToken(page.Body)

	before := e.Snapshot()
	refused := b.Post("/requests/"+r.RequestID, url.Values{portal.FormTokenField: {token}, "action": {"approve"}, "reason": {"ok"}})
	assert.Equal(t, http.StatusForbidden, refused.Status)
	assert.Contains(t, refused.Body, "requires decisions to be signed with a passkey")
	assert.Equal(t, before, e.Snapshot())

	st := lockbox.Statement{TenantID: "contoso", RequestID: r.RequestID, Action: lockbox.ActionApprove, Reason: "verified", Time: e.Now}
	a := auth.Assert(st)
	signed := b.Post("/requests/"+r.RequestID, url.Values{portal.FormTokenField: {token}, "action": {"approve"}, "reason": {"verified"},
		"duration": {""}, "passkey_time": {a.Time}, "passkey_credential": {a.CredentialID}, "passkey_authenticator_data": {a.AuthenticatorData},
		"passkey_client_data": {a.ClientDataJSON}, "passkey_signature": {a.Signature}, "passkey_user_handle": {a.UserHandle}})
	require.Equal(t, http.StatusSeeOther, signed.Status, signed.Body)
	page = b.Get("/requests/" + r.RequestID)
	assert.Contains(t, page.Body, "Signed with a passkey")
	d := st.Digest()
	assert.Contains(t, page.Body, hexOf(d[:]))

	// A reader has no Passkeys page.
	eng, _ := e.As("rita", "contoso", lockbox.RoleReader)
	assert.Equal(t, http.StatusForbidden, eng.Get("/passkeys").Status)
	assert.Equal(t, http.StatusOK, b.Get("/static/passkey.js").Status)
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// Without a relying party (portal_url on an IP address, as make run's),
// the menu offers no Passkeys page, and a tenant that requires passkeys
// is told they cannot be used.
func TestPasskeysOff(t *testing.T) {
	e := setup(t)
	e.Cases.RP = nil
	e.Configure("contoso", func(s *lockbox.Settings) { s.RequirePasskey = &lockbox.PasskeyRequirement{All: true} })
	r := file(e, "contoso", "eng-7", nil)
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	page := b.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusOK, page.Status)
	assert.NotContains(t, page.Body, `/passkeys"`)
	assert.Contains(t, page.Body, "passkeys cannot be used right now")
	assert.Equal(t, http.StatusForbidden, b.Get("/passkeys").Status)
}
