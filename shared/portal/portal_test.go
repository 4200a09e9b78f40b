package portal_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

func setup(t *testing.T) *portaltest.Env { return portaltest.New(t, portaltest.Options{}) }

// file files a request in tenant for requester, changed by f before it is
// filed.
func file(e *portaltest.Env, tenant, requester string, f func(in *lockbox.CreateInput)) lockbox.Request {
	e.T.Helper()
	in := apitest.CreateInput(tenant, requester)
	if f != nil {
		f(&in)
	}
	require.NoError(e.T, in.Validate())
	r := lockbox.NewRequest(in, lockbox.NewID(), e.Now, e.Store.Limits())
	r.FiledBy = lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook"}.Key()
	r, _, err := e.Store.Create(e.T.Context(), r, lockbox.CreateOptions{})
	require.NoError(e.T, err)
	return r
}

func get(e *portaltest.Env, tenant, id string) lockbox.Request {
	e.T.Helper()
	r, err := e.Store.Get(e.T.Context(), tenant, id)
	require.NoError(e.T, err)
	return r
}

// decide posts a request page's form.
func decide(b *portaltest.Browser, id, csrf, action, reason, duration string) portaltest.Page {
	form := url.Values{"csrf": {csrf}, "action": {action}, "reason": {reason}}
	if duration != "" {
		form.Set("duration", duration)
	}
	return b.Post("/requests/"+id, form)
}

// requireSecurityHeaders checks the headers every answer carries.
func requireSecurityHeaders(t *testing.T, p portaltest.Page, what string) {
	t.Helper()
	assert.Equal(t, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		p.Header.Get("Content-Security-Policy"), what)
	assert.Equal(t, "nosniff", p.Header.Get("X-Content-Type-Options"), what)
	assert.Equal(t, "same-origin", p.Header.Get("Referrer-Policy"), what)
	assert.Equal(t, "DENY", p.Header.Get("X-Frame-Options"), what)
}

// Every page, signed in as an admin who is also an approver: 200, HTML,
// the security headers, never cached; every link and form under the base
// path; no script anywhere.
func TestEveryPage(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	b, _ := e.As("ada", "contoso", lockbox.RoleApprover, lockbox.RoleAdmin)
	login := e.Browser().Get("/login")
	for _, tc := range []struct {
		path string
		page portaltest.Page
		want string
	}{
		{"/login", login, "Sign in to Lockbox"},
		{"/", b.Get("/"), "Pending requests"},
		{"/?cursor=", b.Get("/?cursor="), "Pending requests"},
		{"/requests", b.Get("/requests"), "Request history"},
		{"/requests?status=Pending", b.Get("/requests?status=Pending"), "INC-1001"},
		{"/requests/<id>", b.Get("/requests/" + r.RequestID), "Your decision"},
		{"/activity", b.Get("/activity"), "Activity log"},
		{"/settings", b.Get("/settings"), "Change the settings"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p := tc.page
			require.Equal(t, http.StatusOK, p.Status, p.Body)
			assert.Equal(t, "text/html; charset=utf-8", p.Header.Get("Content-Type"))
			assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
			requireSecurityHeaders(t, p, tc.path)
			assert.Contains(t, p.Body, tc.want)
			assert.NotContains(t, strings.ToLower(p.Body), "<script")
			assert.NotContains(t, p.Body, " style=", "no inline style: the CSP forbids it")
			assert.Contains(t, p.Body, `<a class="skip" href="#main">`)
			assert.Contains(t, p.Body, `<main id="main"`)
			for _, attr := range []string{`href="`, `action="`} {
				for _, part := range strings.Split(p.Body, attr)[1:] {
					link := part[:strings.IndexByte(part, '"')]
					if strings.HasPrefix(link, "#") || strings.HasPrefix(link, "https://support.example/") {
						continue
					}
					assert.True(t, strings.HasPrefix(link, portaltest.BasePath+"/"), "%s %s%s is not under the base path", tc.path, attr, link)
				}
			}
			assert.Equal(t, 1, strings.Count(p.Body, "<h1"), "one h1")
		})
	}

	css := b.Get("/static/portal.css?v=x")
	require.Equal(t, http.StatusOK, css.Status)
	assert.Equal(t, "text/css; charset=utf-8", css.Header.Get("Content-Type"))
	assert.Contains(t, css.Body, ":focus-visible")
	requireSecurityHeaders(t, css, "css")
}

// Without a session every page sends the browser to the sign-in page,
// which returns it to that page once signed in.
func TestSignedOutGoesToSignIn(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	b := e.Browser()
	for path, next := range map[string]string{"/": "", "/requests": "/requests", "/requests/" + r.RequestID: "/requests/" + r.RequestID,
		"/requests?status=Pending": "/requests?status=Pending", "/activity": "/activity", "/activity.csv": "", "/settings": "/settings"} {
		p := b.Get(path)
		assert.Equal(t, http.StatusSeeOther, p.Status, path)
		want := portaltest.BasePath + "/login"
		if next != "" {
			want += "?next=" + url.QueryEscape(next)
		}
		assert.Equal(t, want, p.Header.Get("Location"), path)
	}
	p := b.Post("/requests/"+r.RequestID, url.Values{"action": {"approve"}, "reason": {"x"}})
	assert.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/login?next=%2Frequests%2F"+r.RequestID, p.Location(), "a form's page, not its action")
	assert.Equal(t, lockbox.StatusPending, get(e, "contoso", r.RequestID).Status)
}

// The mail's link, signed out: /requests/<id> → the sign-in page, whose
// token form carries the return path → signed in, the request's page.
// Only the portal's own pages are returned to: whatever else the link's
// next says, signing in lands on Pending (no open redirect).
func TestSignInReturnsToThePageAsked(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	token := mint(t, apitest.JWTSecret, "alice", "contoso", lockbox.RoleApprover)
	signIn := func(loginPath string) portaltest.Page {
		t.Helper()
		b := e.Browser()
		login := b.Get(loginPath)
		require.Equal(t, http.StatusOK, login.Status, login.Body)
		form := url.Values{"csrf": {portaltest.FormToken(login.Body)}, "token": {token}}
		if next := between(login.Body, `name="next" value="`, `"`); next != "" {
			form.Set("next", htmlUnescape(next))
		}
		return b.Post("/login", form)
	}
	b := e.Browser()
	p := b.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusSeeOther, p.Status)
	login := p.Location()
	page := b.Get(login)
	assert.Contains(t, page.Body, `<input type="hidden" name="next" value="/requests/`+r.RequestID+`">`)
	p = signIn(login)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/requests/"+r.RequestID, p.Location())

	for _, next := range []string{"//evil.example", "//evil.example/requests", "/\\evil.example", "/\\/evil.example", "https://evil.example/",
		"http:/evil.example", "javascript:alert(1)", "%2F%2Fevil.example", "/%2F%2Fevil.example", "/%2fevil.example", "/%5Cevil.example",
		"/%252F%252Fevil.example", "evil.example", " /requests", "/requests/../login", "/requests//x", "/login", "/logout", "/oidc/login",
		"/oidc/callback?code=x", "/static/portal.css", "/activity.csv", "/requests/" + r.RequestID + "/x", "/requests/not an id",
		"/requests\r\nLocation: https://evil.example", "/requests#//evil.example", "/requests?x=%2F%2Fevil", "/" + strings.Repeat("a", 300)} {
		// The link's next, as the query carries it; the form's is the
		// page's hidden field, and a forged one is checked again.
		p := signIn("/login?next=" + url.QueryEscape(next))
		require.Equal(t, http.StatusSeeOther, p.Status, next)
		assert.Equal(t, "/", p.Location(), "%q: the landing page", next)
		b := e.Browser()
		login := b.Get("/login")
		p = b.Post("/login", url.Values{"csrf": {portaltest.FormToken(login.Body)}, "token": {token}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, p.Status, next)
		assert.Equal(t, "/", p.Location(), "%q in the form: the landing page", next)
		assert.NotContains(t, p.Header.Get("Location"), "evil")
	}
}

// The session cookie: HttpOnly, SameSite=Lax, the base path, a 256-bit
// random id, Secure exactly when the portal's URL is https; a new id at
// every sign-in, and the old one dead.
func TestSessionCookie(t *testing.T) {
	e := setup(t)
	b := e.Browser()
	login := b.Get("/login")
	resp := b.Post("/login", url.Values{"csrf": {portaltest.FormToken(login.Body)}, "token": {e.Token("alice", "contoso", lockbox.RoleApprover)}})
	require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
	var c *http.Cookie
	for _, sc := range (&http.Response{Header: resp.Header}).Cookies() {
		if sc.Name == portal.SessionCookie {
			c = sc
		}
	}
	require.NotNil(t, c, "a session cookie is set")
	assert.True(t, c.HttpOnly)
	assert.False(t, c.Secure, "the test portal is plain http")
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, portaltest.BasePath, c.Path)
	assert.Len(t, c.Value, 43, "base64url of 32 random bytes")
	assert.NotContains(t, e.Snapshot(), c.Value, "Redis keeps a hash of the id, not the id")

	first := b.Cookie(portal.SessionCookie)
	b.SignIn(e.Token("alice", "contoso", lockbox.RoleApprover))
	second := b.Cookie(portal.SessionCookie)
	assert.NotEqual(t, first, second, "the id is rotated at sign-in")
	old := e.Browser()
	old.SetCookie(portal.SessionCookie, first)
	p := old.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status, "the session before the sign-in is gone")

	// Over https the cookie is Secure.
	s := portaltest.New(t, portaltest.Options{Config: func(c *portal.Config) { c.PublicURL = "https://lockbox.example/function/lockbox-portal" }})
	get := serve(t, s.Portal, http.MethodGet, "/login", "", nil)
	form := url.Values{"csrf": {portaltest.FormToken(string(get.Body))}, "token": {s.Token("alice", "contoso", lockbox.RoleApprover)}}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"https://lockbox.example"},
		"Cookie": {strings.Split(get.Header.Get("Set-Cookie"), ";")[0]}}
	post := serve(t, s.Portal, http.MethodPost, "/login", form.Encode(), h)
	require.Equal(t, http.StatusSeeOther, post.StatusCode, string(post.Body))
	assert.Contains(t, post.Header.Values("Set-Cookie")[0], "; Secure")
	assert.Contains(t, post.Header.Values("Set-Cookie")[0], "; HttpOnly")
	assert.Contains(t, post.Header.Values("Set-Cookie")[0], "; SameSite=Lax")
	assert.Contains(t, post.Header.Values("Set-Cookie")[0], "Path=/function/lockbox-portal;")
	assert.Equal(t, "/function/lockbox-portal/", post.Header.Get("Location"))
}

// serve calls the portal as the template does.
func serve(t *testing.T, p *portal.Portal, method, path, body string, h http.Header) handler.Response {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	h.Set(httpapi.HeaderPath, path)
	q := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		h.Set(httpapi.HeaderPath, path[:i])
		q = path[i+1:]
	}
	resp, err := p.Serve(handler.Request{Method: method, Header: h, Body: []byte(body), QueryString: q, Host: "127.0.0.1:8082"})
	require.NoError(t, err)
	return resp
}

// The token sign-in refuses what the API refuses, and whoever is not one
// of a tenant's approvers, readers or admins.
func TestTokenSignInRefusals(t *testing.T) {
	e := setup(t)
	b := e.Browser()
	login := b.Get("/login")
	csrf := portaltest.FormToken(login.Body)
	require.NotEmpty(t, csrf)
	post := func(csrf, token string) portaltest.Page {
		p := b.Post("/login", url.Values{"csrf": {csrf}, "token": {token}})
		// A refused sign-in shows the form again, with a new form token.
		assert.Equal(t, b.CookieAt("/login", "lockbox_login"), portaltest.FormToken(p.Body))
		return p
	}
	for _, tc := range []struct {
		name   string
		csrf   string
		token  string
		status int
		says   string
	}{
		{"no form token", "", e.Token("alice", "contoso", lockbox.RoleApprover), http.StatusForbidden, "sign-in form has expired"},
		{"wrong form token", strings.Repeat("A", 43), e.Token("alice", "contoso", lockbox.RoleApprover), http.StatusForbidden, "sign-in form has expired"},
		{"no token", csrf, "", http.StatusBadRequest, "Paste a Lockbox token"},
		{"garbage", csrf, "not-a-token", http.StatusUnauthorized, "token is not valid"},
		{"expired", csrf, e.ExpiredToken("alice", "contoso", lockbox.RoleApprover), http.StatusUnauthorized, "token has expired"},
		{"other key", csrf, mint(t, []byte("another-secret-0123456789abcdef"), "alice", "contoso", lockbox.RoleApprover), http.StatusUnauthorized, "not valid"},
		{"operator", csrf, e.Token("op", "contoso", lockbox.RoleOperator), http.StatusForbidden, "approvers, readers and admins"},
		{"no role", csrf, e.Token("nobody", "contoso"), http.StatusForbidden, "approvers, readers and admins"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.csrf != "" && tc.csrf != strings.Repeat("A", 43) {
				tc.csrf = b.CookieAt("/login", "lockbox_login")
			}
			p := post(tc.csrf, tc.token)
			assert.Equal(t, tc.status, p.Status, p.Body)
			assert.Contains(t, p.Body, tc.says)
			assert.Empty(t, b.Cookie(portal.SessionCookie))
		})
	}
	// Without the sign-in form's cookie the form is refused.
	fresh := e.Browser()
	p := fresh.Post("/login", url.Values{"csrf": {csrf}, "token": {e.Token("alice", "contoso", lockbox.RoleApprover)}})
	assert.Equal(t, http.StatusForbidden, p.Status)

	// The token never travels in a URL: a GET with one is a 400, no sign-in.
	p = fresh.Get("/login?token=" + e.Token("alice", "contoso", lockbox.RoleApprover))
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Empty(t, fresh.Cookie(portal.SessionCookie))

	// portal_token_login=false: no form, and its POST is not found.
	off := portaltest.New(t, portaltest.Options{Config: func(c *portal.Config) {
		c.TokenLogin = false
		c.OIDC = portal.OIDCConfig{Issuer: "https://idp.example", ClientID: "lockbox"}
	}})
	ob := off.Browser()
	page := ob.Get("/login")
	require.Equal(t, http.StatusOK, page.Status)
	assert.NotContains(t, page.Body, `name="token"`)
	assert.Contains(t, page.Body, "/oidc/login")
	p = ob.Post("/login", url.Values{"token": {off.Token("alice", "contoso", lockbox.RoleApprover)}})
	assert.Equal(t, http.StatusNotFound, p.Status)
}

// An approver approves with a reason and a shorter grant: the store's
// atomic step (the audit event, the grant), lockbox-notify nudged, 303 to
// the request with a message shown once.
func TestApprove(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)

	page := b.Get("/")
	assert.Contains(t, page.Body, "/requests/"+r.RequestID)
	assert.Contains(t, page.Body, "4 days")

	p := decide(b, r.RequestID, csrf, "approve", "checked with the customer", "2")
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/requests/"+r.RequestID, p.Location())
	got := get(e, "contoso", r.RequestID)
	assert.Equal(t, lockbox.StatusApproved, got.Status)
	require.NotNil(t, got.Decision)
	assert.Equal(t, "alice", got.Decision.By)
	assert.Equal(t, "checked with the customer", got.Decision.Reason)
	assert.Equal(t, e.Now.Add(2*time.Hour), *got.AccessExpirationDateTime, "the grant is shortened to 2 hours")
	assert.Equal(t, []string{"contoso"}, e.Nudged.Tenants())

	detail := b.Get("/requests/" + r.RequestID)
	assert.Contains(t, detail.Body, "You approved this request. Access is granted until 2026-11-27 11:00 UTC.")
	assert.Contains(t, detail.Body, "Access ends in <strong>2 hours</strong>")
	assert.Contains(t, detail.Body, `value="revoke"`, "an approver may revoke the live grant")
	assert.NotContains(t, detail.Body, `value="approve"`)
	again := b.Get("/requests/" + r.RequestID)
	assert.NotContains(t, again.Body, "You approved this request", "the message is shown once")

	// Deciding again is a conflict page, nothing changes.
	before := state(e)
	p = decide(b, r.RequestID, csrf, "deny", "too late", "")
	assert.Equal(t, http.StatusConflict, p.Status)
	assert.Contains(t, p.Body, "Cannot deny a request that is Approved.")
	assert.Equal(t, before, state(e))
}

// Deny, and revoke by an admin; a quorum's first approval is a step.
func TestDenyRevokeQuorum(t *testing.T) {
	e := setup(t)
	denied := file(e, "contoso", "eng-7", nil)
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	p := decide(b, denied.RequestID, csrf, "deny", "not needed", "3")
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, lockbox.StatusDenied, get(e, "contoso", denied.RequestID).Status, "deny ignores the shared duration field")
	assert.Contains(t, b.Get("/requests/"+denied.RequestID).Body, "You denied this request.")

	granted := file(e, "contoso", "eng-8", nil)
	require.Equal(t, http.StatusSeeOther, decide(b, granted.RequestID, csrf, "approve", "ok", "").Status)
	admin, adminCSRF := e.As("ada", "contoso", lockbox.RoleAdmin)
	detail := admin.Get("/requests/" + granted.RequestID)
	assert.Contains(t, detail.Body, `value="revoke"`)
	assert.NotContains(t, detail.Body, `value="approve"`, "an admin does not decide")
	p = decide(admin, granted.RequestID, adminCSRF, "revoke", "case closed", "")
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	got := get(e, "contoso", granted.RequestID)
	assert.Equal(t, lockbox.StatusRevoked, got.Status)
	assert.False(t, got.AccessActive)
	assert.Equal(t, "ada", got.Closure.By)
	assert.Contains(t, admin.Get("/requests/"+granted.RequestID).Body, "You revoked this grant.")

	// Two approvers required: the first approval is recorded, the page
	// says who waits.
	e.Configure("contoso", func(s *lockbox.Settings) { s.RequiredApprovals = 2 })
	quorum := file(e, "contoso", "eng-9", nil)
	p = decide(b, quorum.RequestID, csrf, "approve", "fine by me", "")
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	page := b.Get("/requests/" + quorum.RequestID)
	assert.Contains(t, page.Body, "Your approval is recorded: 1 of 2.")
	assert.Contains(t, page.Body, "1 of 2 required approvals.")
	assert.Contains(t, page.Body, "You approved this request. It waits for 1 more approval(s).")
	assert.NotContains(t, page.Body, `value="approve"`)
	bob, bobCSRF := e.As("bob", "contoso", lockbox.RoleApprover)
	require.Equal(t, http.StatusSeeOther, decide(bob, quorum.RequestID, bobCSRF, "approve", "me too", "").Status)
	assert.Equal(t, lockbox.StatusApproved, get(e, "contoso", quorum.RequestID).Status)
}

// A reader sees the request but no form; a reader's forged decision is
// refused (403) and changes nothing. Nobody decides their own request.
func TestReaderAndOwnRequest(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	reader, csrf := e.As("rita", "contoso", lockbox.RoleReader)
	page := reader.Get("/requests/" + r.RequestID)
	require.Equal(t, http.StatusOK, page.Status)
	assert.Contains(t, page.Body, "disk latency on vm-1")
	assert.NotContains(t, page.Body, "<button type=\"submit\" name=\"action\"", "no decision buttons for a reader")
	assert.NotContains(t, page.Body, "Notifications", "readers do not see deliveries")
	before := state(e)
	for _, action := range []string{"approve", "deny", "revoke"} {
		p := decide(reader, r.RequestID, csrf, action, "forged", "")
		assert.Equal(t, http.StatusForbidden, p.Status, action)
	}
	assert.Equal(t, before, state(e))

	// An approver who is the request's requester.
	own := file(e, "contoso", "alice", nil)
	b, acsrf := e.As("Alice", "contoso", lockbox.RoleApprover)
	page = b.Get("/requests/" + own.RequestID)
	assert.NotContains(t, page.Body, `value="approve"`)
	assert.Contains(t, page.Body, "You cannot decide this request")
	p := decide(b, own.RequestID, acsrf, "approve", "mine", "")
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.Contains(t, p.Body, "Nobody may approve a request they filed")
	assert.Equal(t, lockbox.StatusPending, get(e, "contoso", own.RequestID).Status)
}

// Another tenant's request, and an unknown one, are "not found".
func TestOtherTenantIsNotFound(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	b, csrf := e.As("mallory", "fabrikam", lockbox.RoleApprover, lockbox.RoleAdmin)
	for _, id := range []string{r.RequestID, lockbox.NewID()} {
		p := b.Get("/requests/" + id)
		assert.Equal(t, http.StatusNotFound, p.Status)
		assert.Contains(t, p.Body, "Not found")
		requireSecurityHeaders(t, p, "404")
		p = decide(b, id, csrf, "approve", "mine now", "")
		assert.Equal(t, http.StatusNotFound, p.Status)
	}
	assert.NotContains(t, b.Get("/").Body, r.RequestID)
	assert.NotContains(t, b.Get("/requests").Body, r.RequestID)
	assert.Equal(t, lockbox.StatusPending, get(e, "contoso", r.RequestID).Status)
}

// What a requester wrote is shown as text, never as markup.
func TestOutputIsEscaped(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", func(in *lockbox.CreateInput) {
		in.Justification = `<script>alert("x")</script> & <img src=x onerror=alert(1)>`
		in.SupportRequest = `INC-<b>1</b>`
		in.SupportCaseURL = `https://support.example/cases/"><script>alert(1)</script>`
		in.Requester.DisplayName = `Eve <i>"the engineer"</i>`
		in.ResourceIDs = []string{`<svg/onload=alert(1)>`}
	})
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	for _, path := range []string{"/", "/requests", "/requests/" + r.RequestID} {
		p := b.Get(path)
		require.Equal(t, http.StatusOK, p.Status, path)
		assert.NotContains(t, p.Body, "<script", path)
		assert.NotContains(t, p.Body, "<b>1</b>", path)
		assert.NotContains(t, p.Body, "<svg", path)
		assert.NotContains(t, p.Body, "<i>", path)
		assert.Contains(t, p.Body, "INC-&lt;b&gt;1&lt;/b&gt;", path)
	}
	detail := b.Get("/requests/" + r.RequestID).Body
	assert.Contains(t, detail, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;")
	assert.Contains(t, detail, `rel="noopener noreferrer"`)
	assert.Contains(t, detail, `href="https://support.example/cases/%22%3E%3Cscript%3Ealert%281%29%3C/script%3E"`)

	// A reason with markup is recorded as given and shown as text.
	require.Equal(t, http.StatusSeeOther, decide(b, r.RequestID, csrf, "approve", `<script>alert(2)</script>`, "").Status)
	detail = b.Get("/requests/" + r.RequestID).Body
	assert.Contains(t, detail, "&lt;script&gt;alert(2)&lt;/script&gt;")
	assert.NotContains(t, detail, "<script")
}

// Only http and https support case links are links.
func TestSupportCaseLink(t *testing.T) {
	e := setup(t)
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	for _, tc := range []struct{ url, link string }{
		{"https://support.example/INC-1", `href="https://support.example/INC-1"`},
		{"http://support.example/INC-1", `href="http://support.example/INC-1"`},
		{"", ""},
	} {
		r := file(e, "contoso", "eng-7", func(in *lockbox.CreateInput) { in.SupportCaseURL = tc.url })
		page := b.Get("/requests/" + r.RequestID).Body
		if tc.link != "" {
			assert.Contains(t, page, tc.link)
		} else {
			assert.NotContains(t, page, `rel="noopener noreferrer"`)
		}
	}
}

// Forms are refused when they come from another origin (Go's
// CrossOriginProtection) or without the session's form token.
func TestCrossSiteFormsAreRefused(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	other, otherCSRF := e.As("bob", "contoso", lockbox.RoleApprover)
	_ = other
	form := func(csrf string) string {
		return url.Values{"csrf": {csrf}, "action": {"approve"}, "reason": {"forged"}}.Encode()
	}
	before := state(e)
	for _, tc := range []struct {
		name   string
		body   string
		header http.Header
	}{
		{"cross-site", form(csrf), http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
		{"same-site, other origin", form(csrf), http.Header{"Origin": {"http://127.0.0.1:1"}, "Sec-Fetch-Site": {"same-site"}}},
		{"other origin, no Sec-Fetch-Site", form(csrf), http.Header{"Origin": {"https://evil.example"}}},
		{"no form token", url.Values{"action": {"approve"}, "reason": {"forged"}}.Encode(), http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{"empty form token", form(""), http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{"wrong form token", form(strings.Repeat("A", 43)), http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{"another session's form token", form(otherCSRF), http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{"form token one byte short", form(csrf[:42]), http.Header{"Sec-Fetch-Site": {"same-origin"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.header.Set("Content-Type", "application/x-www-form-urlencoded")
			p := b.Do(http.MethodPost, "/requests/"+r.RequestID, tc.body, tc.header)
			assert.Equal(t, http.StatusForbidden, p.Status, p.Body)
			requireSecurityHeaders(t, p, tc.name)
			assert.Equal(t, before, state(e), "nothing changed")
		})
	}
	// A non-browser client (no Origin, no Sec-Fetch-Site) still needs the
	// form token; the portal's own origin passes the origin check.
	p := b.Do(http.MethodPost, "/requests/"+r.RequestID, form(csrf), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	assert.Equal(t, http.StatusSeeOther, p.Status, p.Body)

	// Sign-out is a form too.
	p = b.Do(http.MethodPost, "/logout", url.Values{"csrf": {csrf}}.Encode(),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.Equal(t, http.StatusOK, b.Get("/").Status, "still signed in")
}

// A session ends after 30 idle minutes, and 12 hours after sign-in however
// busy; the browser is sent to sign in again.
func TestSessionTimeouts(t *testing.T) {
	e := setup(t)
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	e.Advance(29 * time.Minute)
	require.Equal(t, http.StatusOK, b.Get("/").Status, "29 idle minutes")
	e.Advance(29 * time.Minute)
	require.Equal(t, http.StatusOK, b.Get("/").Status, "the page before kept it alive")
	e.Advance(30 * time.Minute)
	p := b.Get("/")
	require.Equal(t, http.StatusSeeOther, p.Status, "30 idle minutes end it")
	assert.Equal(t, "/login?m=expired", p.Location())
	assert.Empty(t, b.Cookie(portal.SessionCookie), "the cookie is cleared")
	assert.Contains(t, b.Get("/login?m=expired").Body, "Your session ended")

	// Busy all day: ended at 12 hours.
	b, _ = e.As("alice", "contoso", lockbox.RoleApprover)
	for range 11*3 + 2 { // 11 h 40 min in steps of 20 minutes
		e.Advance(20 * time.Minute)
		require.Equal(t, http.StatusOK, b.Get("/").Status, "at %s", e.Now)
	}
	e.Advance(20 * time.Minute)
	p = b.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status, "12 hours after sign-in")
	assert.Equal(t, "/login?m=expired", p.Location())

	// A session started with a token ends when the token does.
	e.Now = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	b = e.Browser()
	b.SignIn(mint(t, apitest.JWTSecret, "alice", "contoso", lockbox.RoleApprover)) // valid for an hour from now
	for range 2 {
		e.Advance(25 * time.Minute)
		require.Equal(t, http.StatusOK, b.Get("/").Status)
	}
	e.Advance(10 * time.Minute)
	assert.Equal(t, http.StatusSeeOther, b.Get("/").Status, "the token expired")
}

// Sign-out deletes the session: its cookie no longer signs anyone in.
func TestSignOut(t *testing.T) {
	e := setup(t)
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	id := b.Cookie(portal.SessionCookie)
	assert.Equal(t, http.StatusMethodNotAllowed, b.Get("/logout").Status, "sign-out is a POST")
	p := b.Post("/logout", url.Values{"csrf": {"wrong"}})
	assert.Equal(t, http.StatusForbidden, p.Status)
	p = b.Post("/logout", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/login?m=signedout", p.Location())
	assert.Empty(t, b.Cookie(portal.SessionCookie))
	assert.Contains(t, b.Get("/login?m=signedout").Body, "You are signed out.")

	replay := e.Browser()
	replay.SetCookie(portal.SessionCookie, id)
	p = replay.Get("/")
	assert.Equal(t, http.StatusSeeOther, p.Status)
	assert.NotContains(t, e.Snapshot(), "alice", "no session is left in Redis")
}

// History filters by status and pages; the landing page pages too.
func TestHistoryAndPaging(t *testing.T) {
	e := setup(t)
	e.Store.Caps.MaxPendingPerRequester = 1000
	var ids []string
	for i := range 55 {
		ids = append(ids, file(e, "contoso", fmt.Sprintf("eng-%d", i), nil).RequestID)
	}
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	require.Equal(t, http.StatusSeeOther, decide(b, ids[0], csrf, "approve", "ok", "").Status)

	first := b.Get("/")
	assert.Equal(t, 50, strings.Count(first.Body, `<th scope="row" data-label="Support case">`))
	next := between(first.Body, `<p class="pager"><a href="`, `"`)
	require.NotEmpty(t, next, "a link to the next page")
	second := b.Get(strings.TrimPrefix(htmlUnescape(next), portaltest.BasePath))
	require.Equal(t, http.StatusOK, second.Status, second.Body)
	assert.Equal(t, 4, strings.Count(second.Body, `<th scope="row" data-label="Support case">`), "54 pending in all")
	assert.NotContains(t, second.Body, `class="pager"`)

	approved := b.Get("/requests?status=Approved")
	assert.Equal(t, 1, strings.Count(approved.Body, `<th scope="row" data-label="Support case">`))
	assert.Contains(t, approved.Body, ids[0])
	assert.Contains(t, approved.Body, `<option value="Approved" selected>`)
	all := b.Get("/requests")
	assert.Equal(t, 50, strings.Count(all.Body, `<th scope="row" data-label="Support case">`))
	assert.Contains(t, all.Body, "status-pending")

	// A cursor of one filter is not one of another.
	cursor := between(htmlUnescape(next), "cursor=", "&")
	p := b.Get("/requests?status=Denied&cursor=" + cursor)
	assert.Equal(t, http.StatusBadRequest, p.Status)
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// The request page lists the notifications sent about it, recipients
// masked.
func TestDeliveriesShown(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	ctx := t.Context()
	notes, err := e.Store.Outbox(ctx, "contoso", 10)
	require.NoError(t, err)
	require.NotEmpty(t, notes)
	n := notes[0]
	require.NoError(t, e.Store.Expand(ctx, n, []lockbox.Delivery{
		{ID: "d1", Channel: lockbox.ChannelMail, Target: "alice@contoso.example"},
		{ID: "d2", Channel: lockbox.ChannelWebhook, Target: "soc"},
	}, e.Now))
	claimed, err := e.Store.Claim(ctx, "contoso", e.Now, time.Minute, 10)
	require.NoError(t, err)
	for _, d := range claimed {
		if d.ID == "d2" {
			require.NoError(t, e.Store.Failed(ctx, "contoso", d.ID, e.Now, `503 from <soc>`, e.Now.Add(time.Minute)))
		} else {
			require.NoError(t, e.Store.Delivered(ctx, "contoso", d.ID, e.Now))
		}
	}
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	page := b.Get("/requests/" + r.RequestID).Body
	assert.Contains(t, page, "a***@contoso.example")
	assert.NotContains(t, page, "alice@contoso.example")
	assert.Contains(t, page, "webhook soc")
	assert.Contains(t, page, "503 from &lt;soc&gt;")
	assert.Contains(t, page, ">sent<")
	assert.Contains(t, page, ">retrying<")
}

// The portal's deliveries reader failing leaves the page up, saying so.
func TestDeliveriesUnavailable(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{Deps: func(d *portal.Deps) { d.Cases.DeliveryLog = failingDeliveries{} }})
	r := file(e, "contoso", "eng-7", nil)
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	p := b.Get("/requests/" + r.RequestID)
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, "The notifications cannot be read right now.")
}

type failingDeliveries struct{}

func (failingDeliveries) Deliveries(_ context.Context, _, _ string) ([]lockbox.Delivery, error) {
	return nil, lockbox.Unavailable("read deliveries", errors.New("down"))
}

// mint signs a token with another key than the portal's.
func mint(t *testing.T, secret []byte, sub, tenant string, roles ...lockbox.Role) string {
	t.Helper()
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	tok, err := auth.Mint(secret, auth.NewClaims(sub, tenant, rs, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), time.Hour))
	require.NoError(t, err)
	return tok
}

// state is everything in Redis but the portal's sessions (which a page
// view may write): what a refused call must leave as it was.
func state(e *portaltest.Env) string {
	return e.SnapshotExcept(func(key string) bool { return strings.HasPrefix(key, "lb:portal:") })
}

// A portal that could not serve is not built.
func TestNewRefusesBadConfig(t *testing.T) {
	e := setup(t)
	deps := portal.Deps{Cases: e.Cases, Sessions: e.Store.PortalKV(), Auth: e.Svc.Auth}
	for _, tc := range []struct {
		cfg  portal.Config
		says string
	}{
		{portal.Config{TokenLogin: true}, "portal_url is not set"},
		{portal.Config{PublicURL: "/function/lockbox-portal", TokenLogin: true}, "absolute http or https URL"},
		{portal.Config{PublicURL: "javascript://x/y", TokenLogin: true}, "absolute http or https URL"},
		{portal.Config{PublicURL: "https://gw.example/p?x=1", TokenLogin: true}, "without query"},
		{portal.Config{PublicURL: "https://gw.example/p"}, "no way to sign in"},
		{portal.Config{PublicURL: "https://gw.example/p", OIDC: portal.OIDCConfig{Issuer: "https://idp.example"}}, "oidc_client_id"},
		{portal.Config{PublicURL: "https://gw.example/p", OIDC: portal.OIDCConfig{Issuer: "idp.example", ClientID: "x"}}, "oidc_issuer"},
		{portal.Config{PublicURL: "https://gw.example/p", OIDC: portal.OIDCConfig{Issuer: "https://idp.example", ClientID: "x"}}, "lockbox-portal-key is needed"},
		{portal.Config{PublicURL: "https://gw.example/p", OIDC: portal.OIDCConfig{Issuer: "https://idp.example", ClientID: "x"},
			Keys: [][]byte{portaltest.PortalKey, []byte("short")}}, "key 2 is 5 bytes, not 32"},
	} {
		_, err := portal.New(tc.cfg, deps)
		assert.ErrorContains(t, err, tc.says, "%+v", tc.cfg)
	}
	_, err := portal.New(portal.Config{PublicURL: "https://gw.example/p", TokenLogin: true}, portal.Deps{})
	assert.ErrorContains(t, err, "required")
	p, err := portal.New(portal.Config{PublicURL: "https://gw.example/", TokenLogin: true}, deps)
	require.NoError(t, err)
	resp := serve(t, p, http.MethodGet, "/", "", nil)
	assert.Equal(t, "/login", resp.Header.Get("Location"), "a portal at the root of its host")
}

// The request page's "Access used": a grant not used yet; each resource of
// a used grant with its checks and first and last use, or "Not used", and
// the credentials issued, after the revoke too; a grant that ended unused
// says so; a request that never had a grant has no such section.
func TestAccessUsed(t *testing.T) {
	e := setup(t)
	const rg = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/"
	vms := []string{rg + "vm-orders-db-primary-01", rg + "vm-orders-db-replica-02", rg + "vm-orders-api-03"}
	r := file(e, "contoso", "eng-7", func(in *lockbox.CreateInput) { in.ResourceIDs = vms })
	unused := file(e, "contoso", "eng-8", nil)
	pending := file(e, "contoso", "eng-9", nil)
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	section := func(id string) string {
		t.Helper()
		p := b.Get("/requests/" + id)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		start := strings.Index(p.Body, `<section aria-labelledby="access-used">`)
		if start < 0 {
			return ""
		}
		return p.Body[start : start+strings.Index(p.Body[start:], "</section>")]
	}
	assert.Empty(t, section(pending.RequestID), "a pending request has no grant to account for")
	require.Equal(t, http.StatusSeeOther, decide(b, r.RequestID, csrf, "approve", "ok", "").Status)
	require.Equal(t, http.StatusSeeOther, decide(b, unused.RequestID, csrf, "approve", "ok", "1").Status)
	assert.Contains(t, section(r.RequestID), "Not used yet: no check has allowed access to its resources")

	check := func(vm string) {
		t.Helper()
		got, err := e.Store.Check(t.Context(), "contoso", "eng-7", lockbox.CheckInput{TenantID: "contoso", ResourceID: vm, AccessLevel: "Read"}, e.Now)
		require.NoError(t, err)
		require.True(t, got.Allowed)
	}
	first := e.Now
	check(vms[0])
	e.Advance(12 * time.Minute)
	check(vms[2])
	check(vms[0])
	_, err := e.Store.IssueCredential(t.Context(), "contoso", r.RequestID, "eng-7", lockbox.Credential{Serial: 1, Fingerprint: "SHA256:x"}, e.Now)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, decide(b, r.RequestID, csrf, "revoke", "done", "").Status)

	s := section(r.RequestID)
	assert.Contains(t, s, "3 allowed checks on 2 of 3 resources, 1 SSH certificate issued, from "+first.UTC().Format("2006-01-02 15:04 UTC")+
		" to "+e.Now.UTC().Format("2006-01-02 15:04 UTC")+".")
	rows := strings.Split(s, "<li>")[1:]
	require.Len(t, rows, 3, "every resource of the grant, in its order")
	broken := func(id string) string {
		return "<code>" + strings.ReplaceAll(id, "/", "<wbr>/")[len("<wbr>"):] + "</code>"
	}
	assert.Contains(t, rows[0], broken(vms[0]), "a line may break before each /")
	assert.Contains(t, rows[0], "<p>2 checks, first use <time datetime=\""+first.UTC().Format(time.RFC3339)+"\">"+
		first.UTC().Format("2006-01-02 15:04 UTC")+"</time>, last use <time datetime=\""+e.Now.UTC().Format(time.RFC3339)+"\">")
	assert.Contains(t, rows[1], broken(vms[1]))
	assert.Contains(t, rows[1], `<p class="muted">Not used</p>`)
	assert.Contains(t, rows[2], "<p>1 check, at <time datetime=\""+e.Now.UTC().Format(time.RFC3339)+"\">")
	assert.Contains(t, s, "Credentials issued: 1 SSH certificate.")

	e.Advance(time.Hour) // the unused grant's hour runs out
	b, _ = e.As("alice", "contoso", lockbox.RoleApprover)
	assert.Contains(t, section(unused.RequestID), "Not used: no check allowed access to any of its resources, and no credential was issued.")
	reader, _ := e.As("rita", "contoso", lockbox.RoleReader)
	assert.Contains(t, reader.Get("/requests/"+r.RequestID).Body, "Credentials issued: 1 SSH certificate.", "a reader sees it too")
}

// The requester is shown once by name, then by id ("Sam Okafor
// (sam.okafor@support.example)", never the address a second time), and a
// pending card names an Azure resource by its name, the whole id unfolded
// on demand (details) and in its title.
func TestRequesterAndResourceName(t *testing.T) {
	e := setup(t)
	const vm = "/subscriptions/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/resourceGroups/contoso-production-westeurope-rg/providers/Microsoft.Compute/virtualMachines/contoso-prod-sql-vm-westeurope-001"
	r := file(e, "contoso", "sam.okafor@support.example", func(in *lockbox.CreateInput) {
		in.Requester = lockbox.Requester{ID: "sam.okafor@support.example", DisplayName: "Sam Okafor", Email: "sam.okafor@support.example"}
		in.ResourceType, in.ResourceIDs = "Microsoft.Compute/virtualMachines", []string{vm, vm + "-replica"}
	})
	other := file(e, "contoso", "eng-7", func(in *lockbox.CreateInput) {
		in.Requester = lockbox.Requester{ID: "eng-7", DisplayName: "Eve Engineer", Email: "eve@provider.example"}
		in.ResourceIDs = []string{"db-orders-1"}
	})
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	list := b.Get("/")
	require.Equal(t, http.StatusOK, list.Status)
	assert.Contains(t, list.Body, "Sam Okafor (sam.okafor@support.example)</td>")
	assert.Contains(t, list.Body, `<summary title="`+vm+`"><strong>contoso-prod-sql-vm-westeurope-001</strong> and 1 more</summary><code>`+vm+`</code>`)
	assert.Contains(t, list.Body, "<code>db-orders-1</code></td>", "an id without a path is shown whole")
	assert.NotContains(t, list.Body, "&lt;sam.okafor")

	page := b.Get("/requests/" + r.RequestID)
	assert.Contains(t, page.Body, "<dt>Requester</dt><dd>Sam Okafor (sam.okafor@support.example)</dd>")
	assert.NotContains(t, page.Body, "Requester's email", "the address is the id: shown once")
	page = b.Get("/requests/" + other.RequestID)
	assert.Contains(t, page.Body, "<dt>Requester</dt><dd>Eve Engineer (eng-7)</dd>")
	assert.Contains(t, page.Body, "<dt>Requester's email</dt><dd>eve@provider.example</dd>")
}
