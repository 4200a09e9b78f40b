package portal

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// loginCookie carries the sign-in form's token (a double submit: there is
// no session yet to hold it), limited to the sign-in path.
const loginCookie = "lockbox_login"

// loginTTL is how long a sign-in form, and an OIDC sign-in, may take.
const loginTTL = 10 * time.Minute

// maxTokenLen bounds the token the sign-in form reads.
const maxTokenLen = 8 << 10

// loginMessages are the notices the sign-in page shows (?m=).
var loginMessages = map[string]string{
	"signedout": "You are signed out.",
	"expired":   "Your session ended. Sign in again.",
}

// loginData is the sign-in page's.
type loginData struct {
	TokenLogin bool
	OIDC       bool
	FormToken  string
	Notice     string
	Error      string
	Next       string // where signing in returns to ("" for the landing page)
	OIDCLink   string // the OIDC sign-in's start, with Next
}

// loginPage shows the ways to sign in.
func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, params{"m": 1, NextField: 1})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	notice, ok := loginMessages[q.Get("m")]
	if !ok && q.Get("m") != "" {
		p.fail(w, r, lockbox.Invalidf("unknown message %q", truncate(q.Get("m"), 40)))
		return
	}
	next := returnPath(q.Get(NextField))
	if next == "" && q.Get(NextField) != "" {
		p.d.Log.Warn("sign-in page: its return path is not a portal page, and is dropped", "next", truncate(q.Get(NextField), 100))
	}
	p.showLogin(w, r, http.StatusOK, notice, "", next)
}

// showLogin renders the sign-in page with a fresh form token; both ways
// of signing in return to next (a returnPath, "" for the landing page).
func (p *Portal) showLogin(w http.ResponseWriter, r *http.Request, status int, notice, problem, next string) {
	d := loginData{TokenLogin: p.cfg.TokenLogin, OIDC: p.oidc != nil, Notice: notice, Error: problem, Next: next,
		OIDCLink: p.link(pathOIDC)}
	if next != "" && next != "/" {
		d.OIDCLink += "?" + url.Values{NextField: {next}}.Encode()
	}
	if p.cfg.TokenLogin {
		d.FormToken = randomToken()
		http.SetCookie(w, p.cookie(loginCookie, d.FormToken, p.link(pathLogin), int(loginTTL.Seconds())))
	}
	p.render(w, r, nil, status, "login", "Sign in", "", d)
}

// tokenLogin signs in with a Lockbox token (POST login, field token),
// verified exactly as the API verifies bearer tokens.
func (p *Portal) tokenLogin(w http.ResponseWriter, r *http.Request) {
	if !p.cfg.TokenLogin {
		p.fail(w, r, notFound())
		return
	}
	v, err := form(r, params{"token": 1, FormTokenField: 1, NextField: 1}, maxForm)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	next := returnPath(v.Get(NextField))
	c, err := r.Cookie(loginCookie)
	if err != nil || !validToken(c.Value) || !sameToken(v.Get(FormTokenField), c.Value) {
		p.d.Log.Warn("sign-in form refused: its form token does not match")
		p.showLogin(w, r, http.StatusForbidden, "", "This sign-in form has expired or was not sent by this portal. Try again.", next)
		return
	}
	tok := strings.TrimSpace(v.Get("token"))
	if tok == "" || len(tok) > maxTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		p.showLogin(w, r, http.StatusBadRequest, "", "Paste a Lockbox token (a JWT) into the token field.", next)
		return
	}
	pr, err := p.d.Auth.Authenticate(http.Header{"Authorization": {"Bearer " + tok}}, nil, lockbox.KindUser)
	if err != nil {
		status, _ := errorPage(err, p.d.Log)
		p.showLogin(w, r, status, "", "This token cannot sign you in: "+message(err, p.d.Log)+".", next)
		return
	}
	if err := portalUser(pr); err != nil {
		p.showLogin(w, r, http.StatusForbidden, "", "This token cannot sign you in: "+message(err, p.d.Log)+".", next)
		return
	}
	// A session never outlives the token that started it: it ends at the
	// token's exp, and keeps the token to verify it again at every use.
	p.signIn(w, r, pr, viaToken, tok, tokenExpiry(tok), next)
}

// tokenExpiry reads the exp claim of a JWT that has been verified (zero
// when it cannot be read).
func tokenExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return time.Time{}
	}
	exp, err := claims.Exp.Float64()
	if err != nil || exp <= 0 || exp > 1<<40 {
		return time.Time{}
	}
	return time.Unix(int64(exp), 0)
}

// signIn starts pr's session (keeping cred, ending at until if sooner than
// the absolute timeout) and opens next, the page the browser asked for
// before signing in (a returnPath, checked again here), or the landing page.
func (p *Portal) signIn(w http.ResponseWriter, r *http.Request, pr lockbox.Principal, via, cred string, until time.Time, next string) {
	if err := p.startSession(w, r, pr, via, cred, until); err != nil {
		p.fail(w, r, err)
		return
	}
	p.clearCookie(w, loginCookie, p.link(pathLogin))
	p.d.Log.Info("portal sign-in", "tenantId", pr.TenantID, "sub", pr.Subject, "via", via)
	p.redirect(w, cmp.Or(returnPath(next), "/"))
}

// portalUser refuses whoever is not one of a tenant's approvers, readers
// or admins, who see one tenant's requests, or the provider's engineers and
// approvers, who see the provider console.
func portalUser(pr lockbox.Principal) error {
	if providerUser(pr) {
		return nil // the provider console
	}
	scope, err := lockbox.AuthorizeList(pr, "")
	member := pr.Has(lockbox.RoleApprover) || pr.Has(lockbox.RoleReader) || pr.Has(lockbox.RoleAdmin)
	if err != nil || !member || scope.RequesterID != "" || !lockbox.ValidTenantID(pr.TenantID) {
		return lockbox.Forbiddenf("the portal is for a tenant's approvers, readers and admins (roles %s, %s or %s), and its provider console for the provider's engineers and approvers (%s, %s)",
			lockbox.RoleApprover, lockbox.RoleReader, lockbox.RoleAdmin, lockbox.RoleRequester, lockbox.RoleProviderApprover)
	}
	return nil
}

// logout ends the session (POST logout, with the form token).
func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	v, err := form(r, params{FormTokenField: 1}, maxForm)
	if err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	if !p.checkFormToken(w, r, s, v.Get(FormTokenField)) {
		return
	}
	if err := p.endSession(w, r, s); err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	p.d.Log.Info("portal sign-out", "tenantId", s.TenantID, "sub", s.Subject)
	p.redirect(w, pathLogin+"?m=signedout")
}

// signedIn returns the session of r, or answers: the sign-in page for a
// browser without a session (saying so when it ended), which returns it to
// the page it asked for after signing in (returnPath), an error page when
// sessions cannot be read.
func (p *Portal) signedIn(w http.ResponseWriter, r *http.Request) (*session, bool) {
	s, err := p.loadSession(r)
	switch {
	case errors.Is(err, errNoSession):
		p.redirect(w, loginWith("", asked(r)))
		return nil, false
	case errors.Is(err, errExpired):
		p.clearCookie(w, SessionCookie, p.base)
		p.redirect(w, loginWith("expired", asked(r)))
		return nil, false
	case err != nil:
		p.fail(w, r, err)
		return nil, false
	}
	if err := p.touch(r, s); err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	return s, true
}

// asked is the page r asked for, for the sign-in to return to: its path,
// and for a GET its query (a form's POST returns to its page).
func asked(r *http.Request) string {
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		return r.URL.Path + "?" + r.URL.RawQuery
	}
	return r.URL.Path
}

// checkFormToken refuses a form whose token is not the session's.
func (p *Portal) checkFormToken(w http.ResponseWriter, r *http.Request, s *session, got string) bool {
	if sameToken(got, s.FormToken) {
		return true
	}
	p.d.Log.Warn("portal form refused: wrong form token", "path", r.URL.Path, "tenantId", s.TenantID, "sub", s.Subject)
	p.failAs(w, r, s, lockbox.Forbiddenf("this form is out of date or was not sent by the portal; reload the page and try again"), "")
	return false
}
