// Package portal is lockbox-portal: the approver portal, server-rendered
// pages for a tenant's approvers, readers and admins. They sign in with the
// customer's identity provider (OIDC authorization code flow with PKCE) or a
// Lockbox token, see the tenant's pending requests and their history, open
// one, approve, deny or revoke it, read the activity log and, as admins,
// change the tenant's settings.
//
// The portal is a transport like package api: it decides nothing itself.
// Every read and change is a use case of package usecase, the same as the
// API functions' (a decision in the portal is lockbox-approve's use case and
// the same atomic step), so a rule enforced there holds here. It declares
// the one store it needs itself (KV, for sessions) and package
// app/portalapp hands it the rest.
//
// Pages are html/template files embedded in the binary and work without
// JavaScript (there is none). Every path is served under the portal's public
// base URL (portal_url, e.g. https://gateway.example/function/lockbox-portal):
// behind the OpenFaaS gateway the function sees the path after
// /function/lockbox-portal, and every link it writes starts with the base
// path. Every response carries a strict Content-Security-Policy; every POST
// passes net/http.CrossOriginProtection and a per-session form token.
package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// KV keeps the portal's sessions, each with a lifetime
// (redisstore.PortalKV implements it). Only a sign-in writes to it: a
// sign-in in flight travels in a sealed cookie.
type KV interface {
	// Put stores value under key for ttl, replacing any value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns the value under key; ok is false when there is none.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Delete removes the value under key.
	Delete(ctx context.Context, key string) error
}

// Deps are what the portal works with.
type Deps struct {
	// Cases are the use cases, the same as the API functions': every read
	// and change goes through them, so the portal decides nothing itself.
	Cases *usecase.Service
	// Sessions keeps the sessions.
	Sessions KV
	// Auth verifies the token sign-in's tokens, exactly as the API
	// functions verify bearer tokens.
	Auth httpapi.Authenticator
	Now  func() time.Time
	Log  *slog.Logger
}

// Config configures the portal.
type Config struct {
	// PublicURL is the portal's public base URL (portal_url), e.g.
	// https://gateway.example/function/lockbox-portal: every link and form
	// starts with its path; cookies are Secure when it is https; its origin
	// is trusted by the cross-origin check.
	PublicURL string
	// TokenLogin enables the token sign-in form (portal_token_login).
	TokenLogin bool
	// OIDC configures the sign-in with the customer's identity provider;
	// off when its Issuer is empty.
	OIDC OIDCConfig
	// Keys (secret lockbox-portal-key) seal the state of an OIDC sign-in
	// in flight, which the browser carries in a cookie: AES-256 keys of
	// KeySize bytes, the first seals, every one opens (a rotation).
	// Required with OIDC.
	Keys [][]byte
	// IdleTimeout ends a session unused that long (default 30 minutes);
	// AbsoluteTimeout ends every session that long after its sign-in
	// (default 12 hours).
	IdleTimeout, AbsoluteTimeout time.Duration
}

// The default session lifetimes.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// Portal serves the portal's pages.
type Portal struct {
	d      Deps
	cfg    Config
	base   string // the public base path, without a trailing slash ("" at the root)
	secure bool   // cookies are Secure (the public URL is https)
	oidc   *oidcClient
	pages  *pages
	h      http.Handler
}

// New returns the portal configured by cfg, working with d.
func New(cfg Config, d Deps) (*Portal, error) {
	u, err := url.Parse(cfg.PublicURL)
	switch {
	case cfg.PublicURL == "":
		return nil, errors.New("portal_url is not set: the portal's public base URL, e.g. https://gateway.example/function/lockbox-portal")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("portal_url=%q must be an absolute http or https URL without query or fragment", cfg.PublicURL)
	}
	if d.Cases == nil || d.Sessions == nil || d.Auth == nil {
		return nil, errors.New("portal: Cases, Sessions and Auth are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	p := &Portal{d: d, cfg: cfg, base: strings.TrimRight(u.EscapedPath(), "/"), secure: u.Scheme == "https"}
	if p.pages, err = loadPages(); err != nil {
		return nil, err
	}
	if cfg.OIDC.Issuer != "" {
		if p.oidc, err = newOIDCClient(cfg.OIDC, p.base, u); err != nil {
			return nil, err
		}
		if len(cfg.Keys) == 0 {
			return nil, errors.New("the secret lockbox-portal-key is needed with oidc_issuer: it seals the sign-in state the browser carries")
		}
		for i, k := range cfg.Keys {
			if len(k) != KeySize {
				return nil, fmt.Errorf("lockbox-portal-key: key %d is %d bytes, not %d", i+1, len(k), KeySize)
			}
		}
	}
	if !cfg.TokenLogin && p.oidc == nil {
		return nil, errors.New("no way to sign in: set oidc_issuer, or portal_token_login=true")
	}
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
		return nil, fmt.Errorf("portal_url: %w", err)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.d.Log.Warn("cross-origin form refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"),
			"secFetchSite", r.Header.Get("Sec-Fetch-Site"))
		status, data := errorPage(lockbox.Forbiddenf("this form was sent from another site, and is refused"), p.d.Log)
		data.Back, data.BackLabel = p.link("/"), "Open the portal"
		p.render(w, r, nil, status, "error", data.Heading, "", data)
	}))
	p.h = p.headers(cop.Handler(p.routes()))
	return p, nil
}

// Handler returns the portal as a net/http handler of the paths after the
// base path ("/", "/requests/<id>", …), for tests and benchmarks.
func (p *Portal) Handler() http.Handler { return p.h }

// Serve serves one call of lockbox-portal, as the golang-http template hands
// it over: its URL path is in the X-Lockbox-Path header (httpapi.Path).
// Every outcome is a page; Serve never returns an error.
func (p *Portal) Serve(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, "/", bytes.NewReader(req.Body))
	if err != nil { // an invalid method
		return p.respond(func(w http.ResponseWriter) {
			securityHeaders(w.Header())
			p.fail(w, nil, httpapi.ErrMethodNotAllowed(http.MethodGet, http.MethodPost))
		}), nil
	}
	r.URL.Path = httpapi.Path(req)
	r.URL.RawQuery = req.QueryString
	r.RequestURI = r.URL.RequestURI()
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Host = req.Host
	r.ContentLength = int64(len(req.Body))
	return p.respond(func(w http.ResponseWriter) { p.h.ServeHTTP(w, r) }), nil
}

// Serve serves one call with the portal get returns (built on the first
// call by package app/portalapp), answering a page even when it cannot be
// built: a function's one-line Handle.
func Serve(get func() (*Portal, error), req handler.Request) (handler.Response, error) {
	p, err := get()
	if err != nil {
		return unavailablePage(err), nil
	}
	return p.Serve(req)
}

// respond runs serve against a recorder and returns what it wrote.
func (p *Portal) respond(serve func(w http.ResponseWriter)) handler.Response {
	rec := &recorder{header: http.Header{}}
	serve(rec)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return handler.Response{StatusCode: rec.status, Header: rec.header, Body: rec.body.Bytes()}
}

// recorder is the http.ResponseWriter of a call served through Serve.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// link is the public path of a portal path ("/requests/x" → base +
// "/requests/x").
func (p *Portal) link(path string) string { return p.base + path }
