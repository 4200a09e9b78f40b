package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

// call serves one call straight through the portal's Serve.
func call(f testing.TB, p *portal.Portal, method, path string, h http.Header, body string) handler.Response {
	h.Set(httpapi.HeaderPath, path)
	resp, err := p.Serve(handler.Request{Method: method, Header: h, Body: []byte(body), Host: "127.0.0.1"})
	if err != nil {
		f.Fatalf("Serve returned an error: %v", err)
	}
	return resp
}

// Whatever a Cookie header holds, the landing page answers with a sign-in
// redirect, or the page itself for exactly the live session's id; never an
// error.
func FuzzSessionCookie(f *testing.F) {
	e := portaltest.New(f, portaltest.Options{})
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	id := b.Cookie(portal.SessionCookie)
	for _, seed := range []string{id, "", id[:42], id + "A", strings.ToUpper(id), id[:42] + "=", "%00", strings.Repeat("A", 43),
		strings.Repeat("/", 43), "../../etc", `"` + id + `"`, id + "; " + portal.SessionCookie + "=x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Cookie": {portal.SessionCookie + "=" + v}}
		resp := call(t, e.Portal, http.MethodGet, "/", h, "")
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("cookie %q: %d %s", v, resp.StatusCode, resp.Body)
		case resp.StatusCode == http.StatusOK:
			c, err := http.ParseCookie(portal.SessionCookie + "=" + v)
			if err != nil || len(c) == 0 || c[0].Value != id {
				t.Fatalf("cookie %q is not the session's, yet the page was served", v)
			}
		case resp.StatusCode != http.StatusSeeOther:
			t.Fatalf("cookie %q: %d", v, resp.StatusCode)
		}
	})
}

// Whatever a decision form holds, only the session's own form token gets
// past the check (to a 404 here: the request does not exist), and nothing
// is ever an error.
func FuzzFormToken(f *testing.F) {
	e := portaltest.New(f, portaltest.Options{})
	b, csrf := e.As("alice", "contoso", lockbox.RoleApprover)
	cookie := portal.SessionCookie + "=" + b.Cookie(portal.SessionCookie)
	missing := lockbox.NewID()
	good := url.Values{"csrf": {csrf}, "action": {"deny"}, "reason": {"x"}}.Encode()
	for _, seed := range []string{good, "csrf=" + csrf, "csrf=" + csrf[:42] + "&action=deny&reason=x", "csrf=&action=deny&reason=x",
		"csrf=" + strings.ToLower(csrf) + "&action=deny&reason=x", "csrf=" + csrf + "%00&action=deny&reason=x", "csrf=" + csrf + "&csrf=" + csrf,
		"%", "action=deny&reason=x", "csrf=" + url.QueryEscape(csrf+" ") + "&action=deny&reason=x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		h := http.Header{"Cookie": {cookie}, "Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}}
		resp := call(t, e.Portal, http.MethodPost, "/requests/"+missing, h, body)
		v, err := url.ParseQuery(body)
		right := err == nil && len(v["csrf"]) == 1 && v.Get("csrf") == csrf
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("body %q: %d %s", body, resp.StatusCode, resp.Body)
		case resp.StatusCode == http.StatusNotFound && !right:
			t.Fatalf("body %q passed the form token check without the token", body)
		case resp.StatusCode == http.StatusForbidden && right:
			t.Fatalf("body %q carries the token, yet was refused as forged", body)
		}
	})
}
