package portal_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

// idpUser is a person at the in-process identity provider, with the
// tenant and roles claims Lockbox reads.
type idpUser struct {
	sub    string
	claims map[string]any // added to the ID token
}

func (u idpUser) ID() string                        { return u.sub }
func (u idpUser) Userinfo([]string) ([]byte, error) { return []byte(`{"sub":"` + u.sub + `"}`), nil }

func (u idpUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := jwt.MapClaims{}
	if base.Nonce != "" {
		c["nonce"] = base.Nonce
	}
	rc := base.RegisteredClaims
	c["iss"], c["sub"], c["aud"], c["exp"], c["iat"], c["nbf"], c["jti"] = rc.Issuer, rc.Subject, rc.Audience, rc.ExpiresAt, rc.IssuedAt, rc.NotBefore, rc.ID
	for k, v := range u.claims {
		c[k] = v
	}
	return c, nil
}

// idp is the in-process identity provider and a portal configured to use
// it.
type idp struct {
	*portaltest.Env
	m *mockoidc.MockOIDC
}

func newIDP(t *testing.T, configure ...func(*portal.OIDCConfig)) *idp {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	require.NoError(t, err)
	m.ClientID, m.ClientSecret = "lockbox-portal", "portal-client-secret"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, m.Start(ln, nil))
	t.Cleanup(func() { _ = m.Shutdown() })
	e := portaltest.New(t, portaltest.Options{Config: func(c *portal.Config) {
		c.OIDC = portal.OIDCConfig{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret}
		for _, f := range configure {
			f(&c.OIDC)
		}
	}})
	prev := mockoidc.NowFunc
	mockoidc.NowFunc = func() time.Time { return e.Now } // the IdP shares the portal's clock
	t.Cleanup(func() { mockoidc.NowFunc = prev })
	return &idp{Env: e, m: m}
}

// start begins a sign-in in b and returns the IdP's authorization URL.
func (d *idp) start(t *testing.T, b *portaltest.Browser) *url.URL {
	t.Helper()
	p := b.Get("/oidc/login")
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	u, err := url.Parse(p.Header.Get("Location"))
	require.NoError(t, err)
	return u
}

// authorize lets user through the IdP's authorization endpoint at u and
// returns the portal path (with query) the IdP sends the browser back to.
func (d *idp) authorize(t *testing.T, u *url.URL, user mockoidc.User) string {
	t.Helper()
	d.m.UserQueue.Push(user)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u.String())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(back.String(), d.URL+"/oidc/callback?"), back.String())
	return strings.TrimPrefix(back.Path, portaltest.BasePath) + "?" + back.RawQuery
}

var alice = idpUser{sub: "alice", claims: map[string]any{"tid": "contoso", "roles": []string{"lockbox.approver", "unknown.role"}}}

// The whole code flow with PKCE against the IdP: the authorization request
// carries state, nonce and an S256 challenge, the callback exchanges the
// code with the verifier, and the ID token's claims sign alice in.
func TestOIDCSignIn(t *testing.T) {
	d := newIDP(t)
	r := file(d.Env, "contoso", "eng-7", nil)
	b := d.Browser()
	login := b.Get("/login")
	assert.Contains(t, login.Body, `href="/function/lockbox-portal/oidc/login"`)

	u := d.start(t, b)
	q := u.Query()
	assert.Equal(t, d.m.AuthorizationEndpoint(), u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "lockbox-portal", q.Get("client_id"))
	assert.Equal(t, d.URL+"/oidc/callback", q.Get("redirect_uri"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("code_challenge"), 43)
	assert.Len(t, q.Get("nonce"), 43)
	sealed := b.CookieAt("/oidc/callback", "lockbox_oidc")
	assert.NotEmpty(t, sealed, "the state is bound to this browser, in a sealed cookie")
	assert.NotContains(t, sealed, q.Get("state"))
	assert.Contains(t, q.Get("scope"), "openid")
	assert.NotContains(t, u.RawQuery, "client_secret")

	back := d.authorize(t, u, alice)
	p := b.Get(back)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/", p.Location())
	assert.Empty(t, b.CookieAt("/oidc/callback", "lockbox_oidc"), "the state cookie is cleared")
	home := b.Get("/")
	require.Equal(t, http.StatusOK, home.Status)
	assert.Contains(t, home.Body, "alice <span class=\"tenant\">(contoso, lockbox.approver)</span>", "unknown roles are dropped")

	// Signed in through OIDC, alice decides like anyone else.
	csrf := portaltest.FormToken(home.Body)
	require.Equal(t, http.StatusSeeOther, decide(b, r.RequestID, csrf, "approve", "via SSO", "").Status)
	assert.Equal(t, lockbox.StatusApproved, get(d.Env, "contoso", r.RequestID).Status)

	// The callback replayed, cookie and all, in another browser: the
	// identity provider redeems a code once.
	replay := d.Browser()
	replay.SetCookieAt("/oidc/", "lockbox_oidc", sealed)
	p = replay.Get(back)
	assert.Equal(t, http.StatusUnauthorized, p.Status)
	assert.Contains(t, p.Body, "did not accept this sign-in")
	assert.Empty(t, replay.Cookie(portal.SessionCookie))
}

// What the callback refuses.
func TestOIDCRefusals(t *testing.T) {
	d := newIDP(t)

	t.Run("state of another browser", func(t *testing.T) {
		victim, attacker := d.Browser(), d.Browser()
		u := d.start(t, attacker)
		back := d.authorize(t, u, alice)
		d.start(t, victim) // the victim has a sign-in of their own in flight
		p := victim.Get(back)
		assert.Equal(t, http.StatusForbidden, p.Status)
		assert.Contains(t, p.Body, "not started in this browser")
		assert.Empty(t, victim.Cookie(portal.SessionCookie))
	})
	t.Run("state mismatch", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		back := d.authorize(t, u, alice)
		forged := strings.Replace(back, "state="+u.Query().Get("state"), "state="+strings.Repeat("A", 43), 1)
		p := b.Get(forged)
		assert.Equal(t, http.StatusForbidden, p.Status)
		assert.Empty(t, b.Cookie(portal.SessionCookie))
	})
	t.Run("no state", func(t *testing.T) {
		b := d.Browser()
		d.start(t, b)
		p := b.Get("/oidc/callback?code=abc")
		assert.Equal(t, http.StatusBadRequest, p.Status)
	})
	t.Run("code replayed", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		back := d.authorize(t, u, alice)
		require.Equal(t, http.StatusSeeOther, b.Get(back).Status)
		code := between(back+"&", "code=", "&")
		// A new sign-in, its own state, the old code.
		u2 := d.start(t, b)
		p := b.Get("/oidc/callback?" + url.Values{"code": {code}, "state": {u2.Query().Get("state")}}.Encode())
		assert.Equal(t, http.StatusUnauthorized, p.Status)
		assert.Contains(t, p.Body, "did not accept this sign-in")
	})
	t.Run("missing nonce", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		q := u.Query()
		q.Del("nonce")
		u.RawQuery = q.Encode()
		p := b.Get(d.authorize(t, u, alice))
		assert.Equal(t, http.StatusUnauthorized, p.Status)
		assert.Contains(t, p.Body, "not for this sign-in")
		assert.Empty(t, b.Cookie(portal.SessionCookie))
	})
	t.Run("another nonce", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		q := u.Query()
		q.Set("nonce", strings.Repeat("n", 43))
		u.RawQuery = q.Encode()
		p := b.Get(d.authorize(t, u, alice))
		assert.Equal(t, http.StatusUnauthorized, p.Status)
	})
	t.Run("PKCE challenge tampered", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		q := u.Query()
		q.Set("code_challenge", strings.Repeat("c", 43))
		u.RawQuery = q.Encode()
		p := b.Get(d.authorize(t, u, alice))
		assert.Equal(t, http.StatusUnauthorized, p.Status, "the verifier the portal kept does not match")
	})
	t.Run("state expired", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		back := d.authorize(t, u, alice)
		d.Advance(11 * time.Minute)
		p := b.Get(back)
		assert.Equal(t, http.StatusBadRequest, p.Status)
	})
	t.Run("the IdP refused", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		p := b.Get("/oidc/callback?" + url.Values{"error": {"access_denied"}, "error_description": {"<b>no</b>"}, "state": {u.Query().Get("state")}}.Encode())
		assert.Equal(t, http.StatusUnauthorized, p.Status)
		assert.Contains(t, p.Body, "access_denied")
		assert.NotContains(t, p.Body, "<b>")
	})
	approver := []string{"lockbox.approver"}
	for name, tc := range map[string]struct {
		user   idpUser
		status int
	}{
		"no tenant":          {idpUser{sub: "alice", claims: map[string]any{"roles": approver}}, http.StatusUnauthorized},
		"bad tenant":         {idpUser{sub: "alice", claims: map[string]any{"tid": "a b", "roles": approver}}, http.StatusUnauthorized},
		"sub with a space":   {idpUser{sub: "al ice", claims: map[string]any{"tid": "contoso", "roles": approver}}, http.StatusUnauthorized},
		"token of other aud": {idpUser{sub: "alice", claims: map[string]any{"tid": "contoso", "roles": approver, "aud": "someone-else"}}, http.StatusUnauthorized},
		"token of other iss": {idpUser{sub: "alice", claims: map[string]any{"tid": "contoso", "roles": approver, "iss": "https://evil.example"}}, http.StatusUnauthorized},
		"token expired":      {idpUser{sub: "alice", claims: map[string]any{"tid": "contoso", "roles": approver, "exp": 1}}, http.StatusUnauthorized},
		"operator":           {idpUser{sub: "op-7", claims: map[string]any{"tid": "contoso", "roles": []string{"lockbox.operator"}}}, http.StatusForbidden},
		"no role":            {idpUser{sub: "alice", claims: map[string]any{"tid": "contoso"}}, http.StatusForbidden},
		"only unknown roles": {idpUser{sub: "alice", claims: map[string]any{"tid": "contoso", "roles": "admin approver"}}, http.StatusForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			b := d.Browser()
			p := b.Get(d.authorize(t, d.start(t, b), tc.user))
			assert.Equal(t, tc.status, p.Status, "%.300s", p.Body)
			assert.Empty(t, b.Cookie(portal.SessionCookie))
		})
	}
	t.Run("roles in a space-separated string", func(t *testing.T) {
		b := d.Browser()
		p := b.Get(d.authorize(t, d.start(t, b), idpUser{sub: "rita", claims: map[string]any{"tid": "contoso", "roles": "lockbox.reader"}}))
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		assert.Contains(t, b.Get("/").Body, "(contoso, lockbox.reader)")
	})
}

// An identity provider that cannot be reached is a 503 page; the portal
// tries again on the next sign-in.
func TestOIDCProviderDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	e := portaltest.New(t, portaltest.Options{Config: func(c *portal.Config) {
		c.OIDC = portal.OIDCConfig{Issuer: "http://" + addr + "/oidc", ClientID: "lockbox-portal", HTTPClient: &http.Client{Timeout: 2 * time.Second}}
	}})
	p := e.Browser().Get("/oidc/login")
	assert.Equal(t, http.StatusServiceUnavailable, p.Status)
	assert.Contains(t, p.Body, "Lockbox is unavailable")
}

// person is someone at the identity provider whose claims the test
// changes: the provider reads them for every ID token it issues, a
// refreshed one included.
type person struct {
	mu     sync.Mutex
	sub    string
	claims map[string]any
}

func (u *person) ID() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sub
}

func (u *person) Userinfo([]string) ([]byte, error) { return []byte(`{"sub":"` + u.ID() + `"}`), nil }

func (u *person) Claims(scopes []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return idpUser{sub: u.sub, claims: maps.Clone(u.claims)}.Claims(scopes, base)
}

// set changes one of u's claims at the identity provider.
func (u *person) set(claim string, v any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.claims[claim] = v
}

// signInAs signs b in as u through the identity provider.
func (d *idp) signInAs(t *testing.T, b *portaltest.Browser, u mockoidc.User) {
	t.Helper()
	p := b.Get(d.authorize(t, d.start(t, b), u))
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
}

// An OIDC session reads its person's tenant and roles again from the
// identity provider (its refresh token) once they are 15 minutes old: a
// role removed there is gone from the session, one added is there; a
// person who is no longer one of the tenant's approvers, readers or admins
// is signed out.
func TestOIDCSessionRereadsRoles(t *testing.T) {
	d := newIDP(t)
	r := file(d.Env, "contoso", "eng-7", nil)
	carol := &person{sub: "carol", claims: map[string]any{"tid": "contoso", "roles": []string{"lockbox.approver", "lockbox.reader"}}}
	b := d.Browser()
	d.signInAs(t, b, carol)
	assert.Contains(t, b.Get("/").Body, "(contoso, lockbox.approver, lockbox.reader)")

	carol.set("roles", []string{"lockbox.reader"}) // removed at the IdP
	d.Advance(14 * time.Minute)
	page := b.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusOK, page.Status)
	assert.Contains(t, page.Body, `value="approve"`, "14 minutes: the roles read at sign-in")
	csrf := portaltest.FormToken(page.Body)

	d.Advance(2 * time.Minute)
	page = b.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusOK, page.Status, page.Body)
	assert.Contains(t, page.Body, "(contoso, lockbox.reader)", "16 minutes: read again")
	assert.NotContains(t, page.Body, `value="approve"`)
	p := decide(b, r.RequestID, csrf, "approve", "still here", "")
	assert.Equal(t, http.StatusForbidden, p.Status, "a reader cannot approve: %.300s", p.Body)
	assert.Equal(t, lockbox.StatusPending, get(d.Env, "contoso", r.RequestID).Status)

	carol.set("roles", []string{"lockbox.reader", "lockbox.admin"}) // added at the IdP
	d.Advance(15 * time.Minute)
	assert.Contains(t, b.Get("/").Body, "(contoso, lockbox.reader, lockbox.admin)")
	assert.Equal(t, http.StatusOK, b.Get("/settings").Status)

	carol.set("roles", []string{"lockbox.operator"}) // no longer a portal user
	d.Advance(15 * time.Minute)
	p = b.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/login?m=expired", p.Location())
	assert.Empty(t, sessions(d.Env), "the session is deleted")
}

// A refresh that fails ends the session: the identity provider refuses
// the refresh token (here: expired, after the provider's 60 minutes), or
// its new ID token names someone else.
func TestOIDCSessionEndsWhenRefreshFails(t *testing.T) {
	d := newIDP(t)
	dave := &person{sub: "dave", claims: map[string]any{"tid": "contoso", "roles": []string{"lockbox.approver"}}}
	b := d.Browser()
	d.signInAs(t, b, dave)
	for range 3 { // refreshed at 16, 32 and 48 minutes
		d.Advance(16 * time.Minute)
		require.Equal(t, http.StatusOK, b.Get("/").Status, "at %s", d.Now)
	}
	d.Advance(16 * time.Minute)
	p := b.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status, "the refresh token expired at 60 minutes")
	assert.Equal(t, "/login?m=expired", p.Location())
	assert.Empty(t, sessions(d.Env))

	erin := &person{sub: "erin", claims: map[string]any{"tid": "contoso", "roles": []string{"lockbox.approver"}}}
	b = d.Browser()
	d.signInAs(t, b, erin)
	erin.mu.Lock()
	erin.sub = "mallory"
	erin.mu.Unlock()
	d.Advance(16 * time.Minute)
	p = b.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status, "the refreshed ID token is someone else's")
	assert.Empty(t, sessions(d.Env))
}

// noRefreshToken is a transport to the identity provider that drops the
// refresh token from its token responses: a provider that gives none.
type noRefreshToken struct{}

func (noRefreshToken) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/token") {
		return resp, err
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	delete(body, "refresh_token")
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// Without a refresh token, an OIDC session ends 15 minutes after sign-in,
// however busy.
func TestOIDCSessionWithoutRefreshToken(t *testing.T) {
	d := newIDP(t, func(c *portal.OIDCConfig) {
		c.HTTPClient = &http.Client{Transport: noRefreshToken{}, Timeout: 10 * time.Second}
	})
	b := d.Browser()
	d.signInAs(t, b, alice)
	for range 2 {
		d.Advance(7 * time.Minute)
		require.Equal(t, http.StatusOK, b.Get("/").Status, "at %s", d.Now)
	}
	d.Advance(time.Minute)
	p := b.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status, "15 minutes after sign-in")
	assert.Equal(t, "/login?m=expired", p.Location())
}

// Anonymous calls write nothing to Redis: starting OIDC sign-ins (each
// keeps its state in a sealed cookie), the sign-in page and forms, and
// callbacks that fail. Redis is compared whole, values and TTLs.
func TestAnonymousCallsWriteNothing(t *testing.T) {
	d := newIDP(t)
	file(d.Env, "contoso", "eng-7", nil)
	b, _ := d.As("alice", "contoso", lockbox.RoleApprover) // a live session, whose TTL must not move
	require.NotEmpty(t, sessions(d.Env))
	before := d.RedisContent()

	for range 50 {
		p := d.Browser().Get("/oidc/login")
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	}
	anon := d.Browser()
	d.start(t, anon)
	forged := anon.Get("/oidc/callback?" + url.Values{"code": {"x"}, "state": {strings.Repeat("A", 43)}}.Encode())
	assert.Equal(t, http.StatusForbidden, forged.Status)
	u := d.start(t, anon) // the forged callback cleared the state cookie
	refused := anon.Get("/oidc/callback?" + url.Values{"error": {"access_denied"}, "state": {u.Query().Get("state")}}.Encode())
	assert.Equal(t, http.StatusUnauthorized, refused.Status)
	login := anon.Get("/login")
	bad := anon.Post("/login", url.Values{"csrf": {portaltest.FormToken(login.Body)}, "token": {"not-a-token"}})
	assert.Equal(t, http.StatusUnauthorized, bad.Status)

	assert.Equal(t, before, d.RedisContent(), "anonymous calls changed Redis")
	assert.Equal(t, http.StatusOK, b.Get("/").Status)
}

// The sign-in state cookie: sealed (neither the state nor the nonce nor
// the verifier readable in it), HttpOnly, SameSite=Lax, limited to the
// portal's OIDC paths, for the sign-in's 10 minutes; Secure over https.
func TestOIDCStateCookie(t *testing.T) {
	d := newIDP(t)
	resp := serve(t, d.Portal, http.MethodGet, "/oidc/login", "", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s", resp.Body)
	cookies := (&http.Response{Header: resp.Header}).Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, "lockbox_oidc", c.Name)
	assert.True(t, c.HttpOnly)
	assert.False(t, c.Secure, "the test portal is plain http")
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, portaltest.BasePath+"/oidc/", c.Path)
	assert.Equal(t, 600, c.MaxAge)
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	for _, v := range []string{u.Query().Get("state"), u.Query().Get("nonce"), u.Query().Get("code_challenge")} {
		require.NotEmpty(t, v)
		assert.NotContains(t, c.Value, v)
	}
	assert.Less(t, len(c.Value), 512, "a small cookie")

	s := portaltest.New(t, portaltest.Options{Config: func(c *portal.Config) {
		c.PublicURL = "https://lockbox.example/function/lockbox-portal"
		c.OIDC = portal.OIDCConfig{Issuer: d.m.Issuer(), ClientID: d.m.ClientID, ClientSecret: d.m.ClientSecret}
	}})
	resp = serve(t, s.Portal, http.MethodGet, "/oidc/login", "", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s", resp.Body)
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "; Secure")
}

// A state cookie that is not the portal's, altered, or sealed under a key
// the portal no longer holds fails the callback, with no session; so does
// one of an expired sign-in.
func TestOIDCStateCookieRefused(t *testing.T) {
	d := newIDP(t)
	cases := map[string]func(v string) string{
		"tampered": func(v string) string {
			b := []byte(v)
			b[len(b)/2] ^= 'A' ^ 'B'
			if b[len(b)/2] == v[len(v)/2] {
				b[len(b)/2] = 'C'
			}
			return string(b)
		},
		"cut":           func(v string) string { return v[:len(v)-4] },
		"the raw state": func(string) string { return strings.Repeat("A", 43) },
		"another key": func(string) string {
			other := portaltest.New(t, portaltest.Options{Config: func(c *portal.Config) {
				c.OIDC = portal.OIDCConfig{Issuer: d.m.Issuer(), ClientID: d.m.ClientID, ClientSecret: d.m.ClientSecret}
				c.Keys = [][]byte{bytes.Repeat([]byte{7}, portal.KeySize)}
			}})
			b := other.Browser()
			b.Get("/oidc/login")
			return b.CookieAt("/oidc/callback", "lockbox_oidc")
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			b := d.Browser()
			u := d.start(t, b)
			back := d.authorize(t, u, alice)
			v := b.CookieAt("/oidc/callback", "lockbox_oidc")
			require.NotEmpty(t, v)
			b.SetCookieAt("/oidc/", "lockbox_oidc", change(v))
			p := b.Get(back)
			assert.Equal(t, http.StatusForbidden, p.Status, "%.300s", p.Body)
			assert.Contains(t, p.Body, "not started in this browser")
			assert.Empty(t, b.Cookie(portal.SessionCookie))
			assert.Empty(t, b.CookieAt("/oidc/callback", "lockbox_oidc"), "the cookie is cleared")
		})
	}
	t.Run("expired", func(t *testing.T) {
		b := d.Browser()
		u := d.start(t, b)
		back := d.authorize(t, u, alice)
		d.Advance(10*time.Minute + time.Second)
		p := b.Get(back)
		assert.Equal(t, http.StatusBadRequest, p.Status)
		assert.Contains(t, p.Body, "expired")
		assert.Empty(t, b.Cookie(portal.SessionCookie))
	})
}

// The mail's link through OIDC: signed out, /requests/<id> → the sign-in
// page, whose OIDC link carries the return path → the identity provider
// (the path travels in the sealed state cookie, not through the provider)
// → the callback returns to the request's page. A next that is not a
// portal page starts a sign-in that lands on Pending.
func TestOIDCSignInReturnsToThePageAsked(t *testing.T) {
	d := newIDP(t)
	r := file(d.Env, "contoso", "eng-7", nil)
	b := d.Browser()
	p := b.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusSeeOther, p.Status)
	login := b.Get(p.Location())
	start := "/oidc/login?next=%2Frequests%2F" + r.RequestID
	require.Contains(t, login.Body, `href="`+portaltest.BasePath+start+`"`)

	signIn := func(b *portaltest.Browser, start string) portaltest.Page {
		t.Helper()
		p := b.Get(start)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		u, err := url.Parse(p.Header.Get("Location"))
		require.NoError(t, err)
		assert.NotContains(t, u.RawQuery, "requests", "the return path stays with the browser")
		return b.Get(d.authorize(t, u, alice))
	}
	p = signIn(b, start)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/requests/"+r.RequestID, p.Location())
	page := b.Get(p.Location())
	require.Equal(t, http.StatusOK, page.Status)
	assert.Contains(t, page.Body, "Your decision")

	for _, next := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "/%2F%2Fevil.example", "/login"} {
		p := signIn(d.Browser(), "/oidc/login?next="+url.QueryEscape(next))
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		assert.Equal(t, "/", p.Location(), "%q: the landing page", next)
	}
}

// The provider console through the identity provider: a support lead whose
// ID token gives the role lockbox.provider-approver lands on the console,
// releases a request the provider's policy held, and never sees the
// customer's pages; an engineer (lockbox.requester) lands on the console
// too, with their own requests.
func TestOIDCSignInToTheProviderConsole(t *testing.T) {
	d := newIDP(t)
	d.Cases.Policy = &lockbox.ProviderPolicy{Identity: lockbox.DefaultIdentityChecks, Rules: []lockbox.ProviderRule{
		{Name: "review", Require: lockbox.ProviderRequire{InternalApprovals: 1}}}}
	eng := lockbox.Principal{Kind: lockbox.KindUser, Subject: "eng-7", TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleRequester}}
	filed, err := d.Cases.File(t.Context(), eng, apitest.CreateInput("contoso", "eng-7"), "")
	require.NoError(t, err)
	require.Equal(t, lockbox.StatusInternalReview, filed.Request.Status)

	b := d.Browser()
	d.signInAs(t, b, idpUser{sub: "lead-1", claims: map[string]any{"tid": "provider", "roles": []string{"lockbox.provider-approver"}}})
	home := b.Get("/")
	require.Equal(t, http.StatusSeeOther, home.Status, "the landing page sends a provider-approver to the console")
	assert.Equal(t, "/provider", home.Location())
	assert.Equal(t, http.StatusForbidden, b.Get("/settings").Status, "no customer pages")
	page := b.Get("/provider?tenant=contoso")
	require.Equal(t, http.StatusOK, page.Status, page.Body)
	assert.Contains(t, page.Body, filed.Request.RequestID)
	done := b.Post("/provider", url.Values{"tenant": {"contoso"}, "requestId": {filed.Request.RequestID}, "action": {"approve"},
		"reason": {"scope checked"}, "csrf": {portaltest.FormToken(page.Body)}})
	require.Equal(t, http.StatusSeeOther, done.Status, done.Body)
	assert.Equal(t, lockbox.StatusPending, get(d.Env, "contoso", filed.Request.RequestID).Status)

	engineer := d.Browser()
	d.signInAs(t, engineer, idpUser{sub: "eng-7", claims: map[string]any{"tid": "provider", "roles": []string{"lockbox.requester"}}})
	mine := engineer.Get("/provider?tenant=contoso")
	require.Equal(t, http.StatusOK, mine.Status, mine.Body)
	assert.Contains(t, mine.Body, filed.Request.RequestID, "the engineer sees their own request")
	assert.NotContains(t, mine.Body, `value="approve"`, "and cannot release it")
}
