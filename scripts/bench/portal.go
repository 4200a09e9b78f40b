package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

// lockbox-portal's load run renders the landing page, the tenant's pending
// requests (GET /), for an approver signed in once before the runs, in a
// tenant holding portalStored pending requests.

// portalStored is how many pending requests the portal run's tenant holds,
// and portalBarMs the bar for its page: the issue asks for a page in
// ≤ 50 ms p99 with 10,000 requests in the tenant.
const (
	portalStored = 10_000
	portalBarMs  = 50.0
)

// portalSession is the signed-in session the portal runs read the page
// with.
type portalSession struct {
	Tenant string
	// Cookie is the Cookie header that carries the session
	// (lockbox_session=<id>).
	Cookie string
}

// portalSetup fills the portal run's tenant (set-up, not measured), signs
// one of its approvers in with a Lockbox token through the portal's sign-in
// form, and checks once that the pending page lists the requests.
func (b *bench) portalSetup() (portalSession, error) {
	tenant := fmt.Sprintf("bench-portal-%d", portalStored)
	t := time.Now()
	if _, err := b.fill(tenant, portalStored, lockbox.DefaultLimits, func(i int) string { return fmt.Sprintf("eng-%d", i) }); err != nil {
		return portalSession{}, fmt.Errorf("fill the portal's tenant: %w", err)
	}
	b.log.Info("filled", "tenant", tenant, "requests", portalStored, "seconds", fmt.Sprintf("%.1f", time.Since(t).Seconds()))
	// The fill's events are set-up, not audit history worth exporting.
	if err := b.redis.store(lockbox.DefaultLimits).ForgetEvents(context.Background(), tenant); err != nil {
		return portalSession{}, fmt.Errorf("forget the portal fill's events: %w", err)
	}
	key, err := os.ReadFile(filepath.Join(b.secrets, "lockbox-jwt-secret"))
	if err != nil {
		return portalSession{}, err
	}
	token, err := auth.Mint(key, auth.NewClaims("alice", tenant, []string{string(lockbox.RoleApprover)}, time.Now(), time.Hour))
	if err != nil {
		return portalSession{}, fmt.Errorf("mint the portal's token: %w", err)
	}
	base := "http://" + b.fns["lockbox-portal"].addr
	client := portalClient()
	cookie, err := portalSignIn(client, base, token)
	if err != nil {
		return portalSession{}, err
	}
	links, err := checkPendingPage(client, base, cookie)
	if err != nil {
		return portalSession{}, err
	}
	b.log.Info("portal signed in", "tenant", tenant, "requestLinks", links)
	return portalSession{Tenant: tenant, Cookie: cookie}, nil
}

// portalClient is the set-up's client of the portal: it reads redirects
// rather than following them, as the sign-in answers with one.
func portalClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// formTokenInput finds the sign-in form's hidden form token.
var formTokenInput = regexp.MustCompile(`name="` + regexp.QuoteMeta(portal.FormTokenField) + `" value="([^"]+)"`)

// portalSignIn signs in at the portal at base with a Lockbox token, as a
// person does with the token form: GET /login (its cookie and the form's
// token), then POST /login with the token and the form token, sending the
// cookie back. It returns the Cookie header of the session the answer (a
// 303 to the landing page) starts.
func portalSignIn(client *http.Client, base, token string) (string, error) {
	formToken, cookies, err := portalLoginForm(client, base)
	if err != nil {
		return "", err
	}
	form := url.Values{"token": {token}, portal.FormTokenField: {formToken}}
	req, err := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("portal sign-in: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		// #nosec G124 -- a cookie sent back in a request: Secure, HttpOnly and SameSite are a response's attributes.
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, body, err := readAll(client, req)
	if err != nil {
		return "", fmt.Errorf("portal sign-in: %w", err)
	}
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("portal sign-in: POST /login answered %d, want 303: %s", resp.StatusCode, snippet(body))
	}
	for _, c := range resp.Cookies() {
		if c.Name == portal.SessionCookie && c.Value != "" {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("portal sign-in: the answer set no %s cookie", portal.SessionCookie)
}

// portalLoginForm reads the sign-in page: the form's token and the cookies
// that come with it (the form token's double, lockbox_login).
func portalLoginForm(client *http.Client, base string) (string, []*http.Cookie, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/login", nil)
	if err != nil {
		return "", nil, fmt.Errorf("portal sign-in page: %w", err)
	}
	resp, body, err := readAll(client, req)
	if err != nil {
		return "", nil, fmt.Errorf("portal sign-in page: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("portal sign-in page: GET /login answered %d: %s", resp.StatusCode, snippet(body))
	}
	m := formTokenInput.FindSubmatch(body)
	if m == nil {
		return "", nil, errors.New("portal sign-in page: no form token (is portal_token_login on?)")
	}
	return string(m[1]), resp.Cookies(), nil
}

// checkPendingPage reads the pending page with the session of cookie once
// and returns how many links to requests it shows: it must be an HTML page
// (200) that lists requests.
func checkPendingPage(client *http.Client, base, cookie string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/", nil)
	if err != nil {
		return 0, fmt.Errorf("portal pending page: %w", err)
	}
	req.Header.Set("Cookie", cookie)
	resp, body, err := readAll(client, req)
	if err != nil {
		return 0, fmt.Errorf("portal pending page: %w", err)
	}
	if err := htmlPage(resp.StatusCode, resp.Header); err != nil {
		return 0, fmt.Errorf("portal pending page: %w: %s", err, snippet(body))
	}
	links := strings.Count(string(body), "/requests/")
	if links == 0 {
		return 0, errors.New("portal pending page: it lists no requests")
	}
	return links, nil
}

// htmlPage checks an answer is a page: 200, text/html.
func htmlPage(status int, h http.Header) error {
	if status != http.StatusOK {
		return fmt.Errorf("answered %d, want 200", status)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		return fmt.Errorf("answered %q, want an HTML page", ct)
	}
	return nil
}

// readAll sends req and reads the whole answer.
func readAll(client *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// snippet is the start of an answer, for an error.
func snippet(b []byte) string {
	const most = 300
	if len(b) > most {
		return string(b[:most]) + "…"
	}
	return string(b)
}

// portalCaller is the portal run's call: the pending page with the
// session's cookie, which must answer an HTML page.
func (g *generator) portalCaller(j Job) (func(context.Context, Item) error, error) {
	if j.Cookie == "" {
		return nil, errors.New("the portal run has no session cookie")
	}
	url := j.URL + "/"
	return func(ctx context.Context, _ Item) error {
		h, _, err := g.exchange(ctx, http.MethodGet, url, http.Header{"Cookie": {j.Cookie}}, nil, http.StatusOK)
		if err != nil {
			return err
		}
		return htmlPage(http.StatusOK, h)
	}, nil
}
