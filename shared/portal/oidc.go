package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"lockbox.dev/shared/lockbox"
)

// OIDCConfig is the portal's client at the customer's identity provider.
type OIDCConfig struct {
	// Issuer (oidc_issuer) is discovered at Issuer/.well-known/openid-configuration.
	Issuer string
	// ClientID (oidc_client_id) and ClientSecret (secret
	// oidc-client-secret; empty for a public client) identify the portal.
	ClientID, ClientSecret string
	// TenantClaim and RolesClaim name the ID token's claims with the tenant
	// and the roles, as for the API's tokens (jwt_tenant_claim,
	// jwt_roles_claim; default tid and roles).
	TenantClaim, RolesClaim string
	// Scopes asked for (default openid, profile, email).
	Scopes []string
	// HTTPClient reaches the identity provider (default: 10 s timeout).
	HTTPClient *http.Client
}

// oidcCookie carries a sign-in in flight (oidcState), sealed, limited to
// the OIDC paths: the portal keeps nothing of it server-side, so that
// anonymous calls write nothing to Redis.
const oidcCookie = "lockbox_oidc"

// maxStateCookie bounds the sealed state cookie the callback reads.
const maxStateCookie = 1536

// oidcState is a sign-in in flight: its state (which the identity provider
// hands back, and which binds the sign-in to the browser carrying the
// cookie), nonce and PKCE verifier, when it began, and the portal page to
// return to (a returnPath, "" for the landing page). It travels in the
// oidcCookie sealed with the portal's key (AES-256-GCM: neither readable
// nor changeable without it).
type oidcState struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Created  time.Time `json:"created"`
	Next     string    `json:"next,omitempty"`
}

// oidcClient talks to the identity provider. Its endpoints and keys are
// discovered on first use (and again after a failure), so that the portal
// starts while the provider is unreachable.
type oidcClient struct {
	cfg      OIDCConfig
	redirect string // <portal_url>/oidc/callback

	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCClient(cfg OIDCConfig, base string, public *url.URL) (*oidcClient, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidc_issuer=%q must be an absolute https URL", cfg.Issuer)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidc_client_id is not set (needed with oidc_issuer)")
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "tid"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &oidcClient{cfg: cfg, redirect: public.Scheme + "://" + public.Host + base + pathCallback}, nil
}

// setup returns the OAuth 2 client and the ID token verifier, discovering
// the provider if it is not yet known. Errors: KindUnavailable.
func (c *oidcClient) setup(ctx context.Context, now func() time.Time) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider == nil {
		pv, err := oidc.NewProvider(oidc.ClientContext(ctx, c.cfg.HTTPClient), c.cfg.Issuer)
		if err != nil {
			return nil, nil, &lockbox.Error{Kind: lockbox.KindUnavailable, Code: "ServiceUnavailable",
				Message: "the identity provider cannot be reached", Err: fmt.Errorf("oidc discovery: %w", err)}
		}
		c.provider = pv
	}
	oc := &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: c.provider.Endpoint(),
		RedirectURL: c.redirect, Scopes: c.cfg.Scopes}
	return oc, c.provider.Verifier(&oidc.Config{ClientID: c.cfg.ClientID, Now: now}), nil
}

// oidcStart sends the browser to the identity provider (GET oidc/login):
// a fresh state, nonce and PKCE verifier, and the page to return to (query
// field next, a returnPath), travel with the browser in the sealed
// oidcCookie for loginTTL, and nothing is written server-side. It is
// a link, not a form, because form-action 'self' would stop a form's
// redirect to the provider.
func (p *Portal) oidcStart(w http.ResponseWriter, r *http.Request) {
	if p.oidc == nil {
		p.fail(w, r, notFound())
		return
	}
	q, err := query(r, params{NextField: 1})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	oc, _, err := p.oidc.setup(r.Context(), p.d.Now)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	st := oidcState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Created: p.d.Now(),
		Next: returnPath(q.Get(NextField))}
	b, err := json.Marshal(st)
	if err != nil {
		p.fail(w, r, lockbox.Internal("encode sign-in state", err))
		return
	}
	sealed, err := seal(p.cfg.Keys[0], oidcCookie, b)
	if err != nil {
		p.fail(w, r, lockbox.Internal("seal sign-in state", err))
		return
	}
	http.SetCookie(w, p.cookie(oidcCookie, sealed, p.link("/oidc/"), int(loginTTL.Seconds())))
	w.Header().Set("Location", oc.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)))
	w.WriteHeader(http.StatusSeeOther)
}

// openState returns the sign-in state of a sealed oidcCookie value, opened
// with any of the portal's keys; errUnsealed for a value not sealed by the
// portal, altered, or sealed under a key it no longer holds.
func (p *Portal) openState(v string) (oidcState, error) {
	var st oidcState
	if len(v) > maxStateCookie {
		return st, errUnsealed
	}
	b, err := unseal(p.cfg.Keys, oidcCookie, v)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil || !validToken(st.State) || !validToken(st.Nonce) || st.Verifier == "" {
		return oidcState{}, errUnsealed
	}
	return st, nil
}

// oidcCallback finishes a sign-in (GET oidc/callback?code=&state=): the
// browser's sealed state cookie must open, hold the state handed back
// (compared in constant time) and be at most loginTTL old; it is cleared
// whatever the outcome. The code is exchanged with the PKCE verifier (the
// provider redeems a code once), and the ID token must verify and carry
// the sign-in's nonce. The person's tenant and roles come from its claims,
// read as the API reads a token's.
func (p *Portal) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if p.oidc == nil {
		p.fail(w, r, notFound())
		return
	}
	if len(r.URL.RawQuery) > maxQuery {
		p.fail(w, r, lockbox.Invalidf("the query string is too long"))
		return
	}
	// Providers add parameters of their own (iss, session_state, scope…):
	// only these are read, each at most once.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		p.fail(w, r, lockbox.Invalidf("the query string is malformed"))
		return
	}
	for _, k := range []string{"code", "state", "error", "error_description"} {
		if len(q[k]) > 1 {
			p.fail(w, r, lockbox.Invalidf("query field %q is given more than once", k))
			return
		}
	}
	state := q.Get("state")
	if !validToken(state) {
		p.fail(w, r, lockbox.Invalidf("this sign-in has no valid state; sign in again"))
		return
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		p.d.Log.Warn("OIDC callback refused: the browser has no sign-in state")
		p.fail(w, r, lockbox.Forbiddenf("this sign-in was not started in this browser; sign in again"))
		return
	}
	p.clearCookie(w, oidcCookie, p.link("/oidc/"))
	st, err := p.openState(c.Value)
	if err != nil {
		p.d.Log.Warn("OIDC callback refused: its sign-in state cookie does not open (altered, or sealed under a key no longer configured)")
		p.fail(w, r, lockbox.Forbiddenf("this sign-in was not started in this browser; sign in again"))
		return
	}
	if !sameToken(state, st.State) {
		p.d.Log.Warn("OIDC callback refused: its state is not this browser's")
		p.fail(w, r, lockbox.Forbiddenf("this sign-in was not started in this browser; sign in again"))
		return
	}
	if age := p.d.Now().Sub(st.Created); age < 0 || age > loginTTL {
		p.fail(w, r, lockbox.Invalidf("this sign-in has expired; sign in again"))
		return
	}
	if e := q.Get("error"); e != "" {
		p.d.Log.Warn("the identity provider refused a sign-in", "error", truncate(e, 100), "description", truncate(q.Get("error_description"), 200))
		p.fail(w, r, lockbox.Unauthorizedf("your identity provider did not sign you in (%s)", truncate(e, 100)))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 2048 {
		p.fail(w, r, lockbox.Invalidf("this sign-in has no valid code; sign in again"))
		return
	}
	pr, refreshToken, err := p.exchange(r.Context(), code, st)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := portalUser(pr); err != nil {
		p.fail(w, r, err)
		return
	}
	// The session reads pr's tenant and roles again with the refresh token
	// every rolesMaxAge; without one, it ends then.
	var until time.Time
	if refreshToken == "" {
		until = p.d.Now().Add(rolesMaxAge)
	}
	p.signIn(w, r, pr, viaOIDC, refreshToken, until, st.Next)
}

// exchange redeems code (with the PKCE verifier) and returns the person the
// verified ID token names, and the refresh token if the identity provider
// gave one. Errors: KindUnauthorized, KindUnavailable.
func (p *Portal) exchange(ctx context.Context, code string, st oidcState) (lockbox.Principal, string, error) {
	oc, verifier, err := p.oidc.setup(ctx, p.d.Now)
	if err != nil {
		return lockbox.Principal{}, "", err
	}
	ctx = oidc.ClientContext(ctx, p.oidc.cfg.HTTPClient)
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		p.d.Log.Warn("OIDC code exchange failed", "err", err)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			return lockbox.Principal{}, "", unreachable(err)
		}
		return lockbox.Principal{}, "", lockbox.Unauthorizedf("your identity provider did not accept this sign-in; sign in again")
	}
	idt, pr, err := p.idToken(ctx, verifier, tok)
	if err != nil {
		return lockbox.Principal{}, "", err
	}
	if !sameToken(idt.Nonce, st.Nonce) {
		p.d.Log.Warn("OIDC ID token refused: its nonce is not this sign-in's")
		return lockbox.Principal{}, "", lockbox.Unauthorizedf("the ID token from your identity provider is not for this sign-in")
	}
	return pr, tok.RefreshToken, nil
}

// idToken verifies the ID token of a token response (signature, issuer,
// audience, expiry) and returns it with the person it names, whose tenant
// and roles are read from its claims as the API reads a token's. Errors:
// KindUnauthorized.
func (p *Portal) idToken(ctx context.Context, verifier *oidc.IDTokenVerifier, tok *oauth2.Token) (*oidc.IDToken, lockbox.Principal, error) {
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, lockbox.Principal{}, lockbox.Unauthorizedf("your identity provider sent no ID token")
	}
	idt, err := verifier.Verify(ctx, rawID)
	if err != nil {
		p.d.Log.Warn("OIDC ID token refused", "err", err)
		return nil, lockbox.Principal{}, lockbox.Unauthorizedf("the ID token from your identity provider is not valid")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, lockbox.Principal{}, lockbox.Unauthorizedf("the ID token from your identity provider is not valid")
	}
	pr, err := lockbox.UserFromClaims(idt.Subject, claims, p.oidc.cfg.TenantClaim, p.oidc.cfg.RolesClaim)
	return idt, pr, err
}

// unreachable is the error of an identity provider that did not answer.
func unreachable(err error) error {
	return &lockbox.Error{Kind: lockbox.KindUnavailable, Code: "ServiceUnavailable",
		Message: "the identity provider cannot be reached", Err: fmt.Errorf("oidc token: %w", err)}
}

// refresh reads the person of OIDC session s again from the identity
// provider, with the session's refresh token: the new ID token must verify
// and name the same subject, and its tenant and roles, which replace the
// session's, must still be those of a portal user. s is saved with them
// (and with the new refresh token, if the provider rotated it). Whatever
// fails ends the session (errExpired): no refresh token, the provider
// refusing or not answering, an ID token missing or invalid, another
// subject, no portal role left.
func (p *Portal) refresh(r *http.Request, s *session) error {
	end := func(why string, args ...any) error {
		p.d.Log.Info("portal session ended: "+why, append([]any{"tenantId", s.TenantID, "sub", s.Subject}, args...)...)
		return errExpired
	}
	if p.oidc == nil {
		return end("OIDC sign-in is no longer configured")
	}
	refreshToken, err := s.openCred()
	switch {
	case err != nil:
		return end("its refresh token cannot be read", "err", err)
	case refreshToken == "":
		return end("no refresh token to read its roles again")
	}
	ctx := r.Context()
	oc, verifier, err := p.oidc.setup(ctx, p.d.Now)
	if err != nil {
		return end("the identity provider cannot be reached", "err", err)
	}
	ctx = oidc.ClientContext(ctx, p.oidc.cfg.HTTPClient)
	tok, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return end("the identity provider refused its refresh token or cannot be reached", "err", err)
	}
	_, pr, err := p.idToken(ctx, verifier, tok)
	switch {
	case err != nil:
		return end("the refreshed ID token is refused", "err", err)
	case pr.Subject != s.Subject:
		return end("the refreshed ID token names another subject")
	}
	if err := portalUser(pr); err != nil {
		return end("no longer one of the tenant's approvers, readers or admins", "newTenantId", pr.TenantID, "roles", pr.Roles)
	}
	if !slices.Equal(pr.Roles, s.Roles) || pr.TenantID != s.TenantID {
		p.d.Log.Info("portal session: roles read again", "tenantId", pr.TenantID, "sub", s.Subject, "roles", pr.Roles, "before", s.Roles)
	}
	s.TenantID, s.Roles, s.Checked = pr.TenantID, pr.Roles, p.d.Now()
	if tok.RefreshToken != "" && tok.RefreshToken != refreshToken {
		if err := s.sealCred(tok.RefreshToken); err != nil {
			return err
		}
	}
	return p.saveSession(r, s)
}
