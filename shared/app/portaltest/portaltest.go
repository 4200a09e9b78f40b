// Package portaltest runs the portal for tests as a browser meets it: the
// portal on the apitest environment (miniredis, the real store, real
// tokens, a fixed clock), behind a test server that stands for the OpenFaaS
// gateway and the project's template (the base path /function/lockbox-portal
// stripped, the rest handed over in X-Lockbox-Path), and a Browser that
// keeps cookies and sends the headers a browser sends with a form.
package portaltest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

// BasePath is where the test server serves the portal, as the gateway does.
const BasePath = "/function/lockbox-portal"

// PortalKey is the test portal's key (secret lockbox-portal-key), which
// seals the OIDC sign-in state.
var PortalKey = []byte("lockbox-test-portal-key-32-bytes")

// Env is one test's portal.
type Env struct {
	*apitest.Env
	Portal *portal.Portal
	// Server stands for the gateway; URL is the portal's public URL
	// (Server.URL + BasePath).
	Server *httptest.Server
	URL    string
	// Nudged records the tenants the notifier was nudged about.
	Nudged *Nudges
	// Activity is the activity log given to the portal (nil for none).
	Activity *Activity
}

// Options change what New builds.
type Options struct {
	// Config changes the portal's configuration before it is built.
	Config func(*portal.Config)
	// Deps changes its dependencies before it is built.
	Deps func(*portal.Deps)
	// NoActivity leaves the portal without an activity log.
	NoActivity bool
	// Serve, when set, serves the test server's calls instead of the
	// portal's Serve (a function's Handle, for its tests).
	Serve func(handler.Request) (handler.Response, error)
}

// New returns a portal on a fresh apitest environment, token sign-in on,
// behind a test server.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{Env: apitest.New(t), Nudged: &Nudges{}}
	var serve func(handler.Request) (handler.Response, error)
	mux := http.NewServeMux()
	mux.HandleFunc(BasePath+"/", func(w http.ResponseWriter, r *http.Request) { gateway(w, r, serve) })
	mux.HandleFunc(BasePath, func(w http.ResponseWriter, r *http.Request) { gateway(w, r, serve) })
	e.Server = httptest.NewServer(mux)
	t.Cleanup(e.Server.Close)
	e.URL = e.Server.URL + BasePath

	cfg := portal.Config{PublicURL: e.URL, TokenLogin: true, Keys: [][]byte{PortalKey}}
	e.Cases.Notifier = e.Nudged
	deps := portal.Deps{Cases: e.Cases, Sessions: e.Store.PortalKV(), Auth: e.Svc.Auth, Now: func() time.Time { return e.Now }, Log: e.Cases.Log}
	if !o.NoActivity {
		e.Activity = &Activity{}
		e.Cases.ActivityLog = e.Activity
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	if o.Deps != nil {
		o.Deps(&deps)
	}
	p, err := portal.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.Portal = p
	serve = p.Serve
	if o.Serve != nil {
		serve = o.Serve
	}
	return e
}

// gateway hands a call to serve as the gateway and the template do: the
// path after the base path in X-Lockbox-Path (set here, whatever the
// caller sent), the body read whole.
func gateway(w http.ResponseWriter, r *http.Request, serve func(handler.Request) (handler.Response, error)) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, BasePath)
	if path == "" {
		path = "/"
	}
	h := r.Header.Clone()
	h.Set(httpapi.HeaderPath, path)
	req := handler.Request{Body: body, Header: h, QueryString: r.URL.RawQuery, Method: r.Method, Host: r.Host}
	req.WithContext(r.Context())
	resp, err := serve(req)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(resp.Body)
}

// Nudges records the notifier's nudges.
type Nudges struct {
	mu      sync.Mutex
	tenants []string
}

// Nudge implements portal.Notifier.
func (n *Nudges) Nudge(tenant string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tenants = append(n.tenants, tenant)
}

// Tenants returns the tenants nudged so far.
func (n *Nudges) Tenants() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.tenants...)
}

// Activity is an activity log holding the events Add gave it: it filters
// and pages them as lockbox.ActivityLog says (newest first; the cursor is
// the seq of the last event shown).
type Activity struct {
	mu     sync.Mutex
	events []lockbox.Event
	// Queries records every query asked.
	Queries []lockbox.ActivityQuery
	// Err, when set, is returned by every query.
	Err error
	// Head, when set, is the tenant's newest signed checkpoint.
	Head *lockbox.AuditHead
}

// AuditHead implements lockbox.ActivityLog.
func (a *Activity) AuditHead(_ context.Context, tenant string) (lockbox.AuditHead, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Err != nil {
		return lockbox.AuditHead{}, false, a.Err
	}
	if a.Head == nil || a.Head.TenantID != tenant {
		return lockbox.AuditHead{}, false, nil
	}
	return *a.Head, true, nil
}

// Add appends events (in seq order).
func (a *Activity) Add(events ...lockbox.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, events...)
}

// Activity implements lockbox.ActivityLog.
func (a *Activity) Activity(_ context.Context, q lockbox.ActivityQuery) (lockbox.ActivityPage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Queries = append(a.Queries, q)
	if a.Err != nil {
		return lockbox.ActivityPage{}, a.Err
	}
	var after uint64 = 1 << 63
	if q.Cursor != "" {
		n, err := parseUint(q.Cursor)
		if err != nil {
			return lockbox.ActivityPage{}, lockbox.Invalidf("cursor is not valid for this query")
		}
		after = n
	}
	var page lockbox.ActivityPage
	for i := len(a.events) - 1; i >= 0; i-- {
		e := a.events[i]
		switch {
		case e.TenantID != q.TenantID || e.Seq >= after:
			continue
		case len(q.Operations) > 0 && !contains(q.Operations, e.OperationName):
			continue
		case q.RequestID != "" && e.RequestID != q.RequestID:
			continue
		case e.Time.Before(q.From) || !e.Time.Before(q.To):
			continue
		}
		if len(page.Events) == q.Limit {
			page.Next = formatUint(page.Events[len(page.Events)-1].Seq)
			break
		}
		page.Events = append(page.Events, e)
	}
	return page, nil
}

// Browser is a browser's side of the portal: it keeps cookies, never
// follows redirects, and sends a form with the headers a browser sends
// from the portal's own page (Origin and Sec-Fetch-Site: same-origin).
type Browser struct {
	t      testing.TB
	env    *Env
	client *http.Client
}

// Browser returns a new browser with no cookies.
func (e *Env) Browser() *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.T.Fatal(err)
	}
	return &Browser{t: e.T, env: e, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is an answer.
type Page struct {
	Status int
	Header http.Header
	Body   string
}

// Location is the answer's redirect target, as a path under the base path.
func (p Page) Location() string { return strings.TrimPrefix(p.Header.Get("Location"), BasePath) }

// Get loads path (under the base path, with any query).
func (b *Browser) Get(path string) Page {
	b.t.Helper()
	return b.Do(http.MethodGet, path, "", nil)
}

// Post sends form to path from the portal's own page.
func (b *Browser) Post(path string, form url.Values) Page {
	b.t.Helper()
	return b.Do(http.MethodPost, path, form.Encode(), http.Header{
		"Content-Type":   {"application/x-www-form-urlencoded"},
		"Origin":         {b.env.Server.URL},
		"Sec-Fetch-Site": {"same-origin"},
	})
}

// Do sends one request with the header given (and the browser's cookies).
func (b *Browser) Do(method, path, body string, h http.Header) Page {
	b.t.Helper()
	req, err := http.NewRequest(method, b.env.Server.URL+BasePath+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		b.t.Fatal(err)
	}
	return Page{Status: resp.StatusCode, Header: resp.Header, Body: buf.String()}
}

// Cookie returns the browser's cookie name for the portal's pages ("" for
// none).
func (b *Browser) Cookie(name string) string { return b.CookieAt("/", name) }

// CookieAt returns the browser's cookie name sent with path ("" for none).
func (b *Browser) CookieAt(path, name string) string {
	u, _ := url.Parse(b.env.Server.URL + BasePath + path)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// SetCookie sets a cookie for the portal's pages.
func (b *Browser) SetCookie(name, value string) { b.SetCookieAt("", name, value) }

// SetCookieAt sets a cookie for the portal's paths under path (under the
// base path; "" for every page), replacing the one the portal set there.
func (b *Browser) SetCookieAt(path, name, value string) {
	u, _ := url.Parse(b.env.Server.URL + BasePath + path)
	// #nosec G124 -- a test browser's cookie jar, as a forged cookie.
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: BasePath + path}})
}

var formToken = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// FormToken is the form token of a page's forms ("" for none).
func FormToken(body string) string {
	m := formToken.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// SignIn signs in with token through the token sign-in form and returns
// the landing page's form token; the test fails if that does not work.
func (b *Browser) SignIn(token string) string {
	b.t.Helper()
	login := b.Get("/login")
	if login.Status != http.StatusOK {
		b.t.Fatalf("login page: %d %s", login.Status, login.Body)
	}
	resp := b.Post("/login", url.Values{"csrf": {FormToken(login.Body)}, "token": {token}})
	if resp.Status != http.StatusSeeOther || resp.Location() != "/" {
		b.t.Fatalf("token sign-in: %d %s %s", resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	home := b.Get("/")
	if home.Status == http.StatusSeeOther { // the provider's people: the provider console
		home = b.Get(home.Location())
	}
	if home.Status != http.StatusOK {
		b.t.Fatalf("landing page after sign-in: %d %s", home.Status, home.Body)
	}
	return FormToken(home.Body)
}

// As signs a new browser in as sub of tenant with roles.
func (e *Env) As(sub, tenant string, roles ...lockbox.Role) (*Browser, string) {
	b := e.Browser()
	return b, b.SignIn(e.Token(sub, tenant, roles...))
}

// RedisContent returns everything in Redis, whole: each key with its type, its
// time to live and every value (fields, members, entries) in full, to
// compare before and after calls that must write nothing. (miniredis's
// Dump shortens long values and shows no TTL.)
func (e *Env) RedisContent() map[string]string {
	e.T.Helper()
	m := e.Mini
	out := map[string]string{}
	for _, k := range m.Keys() {
		var v any
		var err error
		switch typ := m.Type(k); typ {
		case "string":
			v, err = m.Get(k)
		case "list":
			v, err = m.List(k)
		case "set":
			v, err = m.Members(k)
		case "zset":
			v, err = m.SortedSet(k)
		case "stream":
			v, err = m.Stream(k)
		case "hash":
			var fields []string
			if fields, err = m.HKeys(k); err == nil {
				h := map[string]string{}
				for _, f := range fields {
					h[f] = fmt.Sprintf("%q ttl=%s", m.HGet(k, f), m.HTTL(k, f))
				}
				v = h
			}
		default:
			e.T.Fatalf("key %s: a Redis type Redis() does not read: %s", k, typ)
		}
		if err != nil {
			e.T.Fatalf("read key %s: %v", k, err)
		}
		out[k] = fmt.Sprintf("%s ttl=%s %#v", m.Type(k), m.TTL(k), v)
	}
	return out
}

func parseUint(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }

func contains(list []string, v string) bool { return slices.Contains(list, v) }
