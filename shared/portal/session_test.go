package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

// restart returns a new portal process on e's Redis whose JWT secret holds
// keys: the functions restarted with a new secret.
func restart(t *testing.T, e *portaltest.Env, keys ...[]byte) *portal.Portal {
	t.Helper()
	now := func() time.Time { return e.Now }
	v := auth.NewVerifier([][]byte{apitest.WebhookSecret}, keys, "", "", now)
	p, err := portal.New(portal.Config{PublicURL: e.URL, TokenLogin: true},
		portal.Deps{Cases: e.Cases, Sessions: e.Store.PortalKV(), Auth: v, Now: now, Log: e.Cases.Log})
	require.NoError(t, err)
	return p
}

// sessions returns the portal's sessions in Redis.
func sessions(e *portaltest.Env) []string {
	var keys []string
	for _, k := range e.Mini.Keys() {
		if strings.HasPrefix(k, "lb:portal:session:") {
			keys = append(keys, k)
		}
	}
	return keys
}

// A session started with a token ends when the token would be refused:
// once the token's key is removed from the JWT secret (and the functions
// restarted with it), the next use of the session ends it, in that portal
// and every other; while the key is still one of the secret's (a rotation
// under way), the session lives on.
func TestTokenSessionEndsWithItsKey(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	cookie := portal.SessionCookie + "=" + b.Cookie(portal.SessionCookie)
	rotated := []byte("rotated-jwt-secret-0123456789abcdef")

	during := restart(t, e, rotated, apitest.JWTSecret)
	page := serve(t, during, http.MethodGet, "/", "", http.Header{"Cookie": {cookie}})
	require.Equal(t, http.StatusOK, page.StatusCode, "the old key is still in the secret: %s", page.Body)
	assert.Contains(t, string(page.Body), "Pending requests")

	after := restart(t, e, rotated)
	form := url.Values{"csrf": {csrf}, "action": {"approve"}, "reason": {"ok"}}
	resp := serve(t, after, http.MethodPost, "/requests/"+r.RequestID, form.Encode(), http.Header{"Cookie": {cookie},
		"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {e.Server.URL}, "Sec-Fetch-Site": {"same-origin"}})
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s", resp.Body)
	assert.Equal(t, portaltest.BasePath+"/login?m=expired&next=%2Frequests%2F"+r.RequestID, resp.Header.Get("Location"),
		"signing in again returns to the request's page")
	assert.Equal(t, lockbox.StatusPending, get(e, "contoso", r.RequestID).Status, "the approval is refused")
	assert.Empty(t, sessions(e), "the session is deleted")

	// The portal that signed alice in (whose verifier accepted the token
	// and remembers it) finds the session gone too.
	p := b.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/login?m=expired", p.Location())
}

// Redis holds no token: a token session keeps its token sealed with a key
// only the browser's cookie gives (as it keeps only a hash of the id).
func TestTokenSessionKeepsNoTokenInRedis(t *testing.T) {
	e := setup(t)
	tok := e.Token("alice", "contoso", lockbox.RoleApprover)
	b := e.Browser()
	b.SignIn(tok)
	require.Len(t, sessions(e), 1)
	for k, v := range e.RedisContent() {
		for _, part := range strings.Split(tok, ".") {
			assert.NotContains(t, v, part, "%s holds part of the token", k)
		}
	}
}
