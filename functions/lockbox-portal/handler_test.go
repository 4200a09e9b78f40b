package function

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

// setup serves the function's Handle behind the test gateway, with the
// portal of a fresh test environment.
func setup(t *testing.T) *portaltest.Env {
	saved := pages
	t.Cleanup(func() { pages = saved })
	e := portaltest.New(t, portaltest.Options{Serve: Handle})
	pages = app.Fixed(e.Portal)
	return e
}

// Through the function: sign in with a token, see the pending request,
// approve it, sign out.
func TestHandle(t *testing.T) {
	e := setup(t)
	r := e.File("contoso", "eng-7")
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	home := b.Get("/")
	require.Equal(t, http.StatusOK, home.Status)
	assert.Contains(t, home.Body, `href="/function/lockbox-portal/requests/`+r.RequestID+`"`)
	assert.Equal(t, portal.CSP, home.Header.Get("Content-Security-Policy"))

	p := b.Post("/requests/"+r.RequestID, url.Values{"csrf": {csrf}, "action": {"approve"}, "reason": {"checked"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	got, err := e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	assert.Equal(t, lockbox.StatusApproved, got.Status)

	p = b.Post("/logout", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, http.StatusSeeOther, b.Get("/").Status, "signed out")

	assert.Equal(t, http.StatusNotFound, b.Get("/nope").Status)
}

// A portal that cannot be built answers an error page, never a bare 500
// and never its cause.
func TestHandleMisconfigured(t *testing.T) {
	e := setup(t)
	pages = app.NewLazy(func() (*portal.Portal, redis.UniversalClient, error) {
		return nil, nil, errors.New("portal_url is not set")
	})
	p := e.Browser().Get("/")
	assert.Equal(t, http.StatusInternalServerError, p.Status)
	assert.Equal(t, "text/html; charset=utf-8", p.Header.Get("Content-Type"))
	assert.Equal(t, portal.CSP, p.Header.Get("Content-Security-Policy"))
	assert.Contains(t, p.Body, "Something went wrong")
	assert.False(t, strings.Contains(p.Body, "portal_url"), "causes are logged, never shown")
}
