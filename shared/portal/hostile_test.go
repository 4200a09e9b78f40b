package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
)

// Hostile input to every query and form is a 4xx page, never a 5xx, and
// changes nothing; unknown paths and methods are 404 and 405 pages.
func TestHostileInputs(t *testing.T) {
	e := setup(t)
	r := file(e, "contoso", "eng-7", nil)
	b, csrf := e.As("ada", "contoso", lockbox.RoleApprover, lockbox.RoleAdmin)
	req := "/requests/" + r.RequestID
	long := strings.Repeat("a", 5000)
	gets := map[string]int{
		"/?status=Pending":                       http.StatusBadRequest, // the landing page has no filter
		"/?cursor=" + long:                       http.StatusBadRequest,
		"/?cursor=%00":                           http.StatusBadRequest,
		"/?cursor=djF8Y29udG9zb3x8fDY":           http.StatusBadRequest, // another query's
		"/?cursor=!!!":                           http.StatusBadRequest,
		"/?cursor=a&cursor=b":                    http.StatusBadRequest,
		"/?x=1":                                  http.StatusBadRequest,
		"/?%zz":                                  http.StatusBadRequest,
		"/?cursor=%ff%fe":                        http.StatusBadRequest,
		"/requests?status=Bogus":                 http.StatusBadRequest,
		"/requests?status=pending":               http.StatusBadRequest,
		"/requests?status=%3Cscript%3E":          http.StatusBadRequest,
		"/requests?status=Pending&status=Denied": http.StatusBadRequest,
		"/requests?cursor=" + url.QueryEscape("'; DROP TABLE"): http.StatusBadRequest,
		req + "?x=1":                           http.StatusBadRequest,
		"/requests/" + strings.Repeat("a", 65): http.StatusNotFound,
		"/requests/%3Cscript%3E":               http.StatusNotFound,
		"/requests/a%2Fb":                      http.StatusNotFound,
		"/requests/a/b":                        http.StatusNotFound,
		"/requests/":                           http.StatusNotFound,
		"/nope":                                http.StatusNotFound,
		"/static/other.css":                    http.StatusNotFound,
		"/static/portal.css?" + long:           http.StatusBadRequest,
		"/activity?operation=Bogus":            http.StatusBadRequest,
		"/activity?operation=" + lockbox.OpApprove + "&operation=" + lockbox.OpApprove: http.StatusOK,
		"/activity?from=2026-13-01":                      http.StatusBadRequest,
		"/activity?from=yesterday":                       http.StatusBadRequest,
		"/activity?from=0001-01-01":                      http.StatusBadRequest,
		"/activity?from=2026-11-20&to=2026-11-01":        http.StatusBadRequest,
		"/activity?from=2026-01-01&to=2026-11-01":        http.StatusBadRequest, // more than 92 days
		"/activity?requestId=%3Cscript%3E":               http.StatusBadRequest,
		"/activity?requestId=" + strings.Repeat("a", 65): http.StatusBadRequest,
		"/activity?cursor=%20":                           http.StatusBadRequest,
		"/activity?cursor=not-a-seq":                     http.StatusBadRequest, // the log refuses it
		"/activity?limit=5":                              http.StatusBadRequest,
		"/activity.csv?from=2026-13-01":                  http.StatusBadRequest,
		"/activity.csv?operation=%00":                    http.StatusBadRequest,
		"/settings?tenantId=fabrikam":                    http.StatusBadRequest,
		"/login?m=%3Cscript%3E":                          http.StatusBadRequest,
		"/login?m=signedout&m=expired":                   http.StatusBadRequest,
		"/oidc/login":                                    http.StatusNotFound, // OIDC is not configured here
		"/oidc/callback?code=x&state=y":                  http.StatusNotFound,
	}
	for path, want := range gets {
		t.Run("GET "+path, func(t *testing.T) {
			p := b.Get(path)
			assert.Equal(t, want, p.Status, "%.300s", p.Body)
			requireSecurityHeaders(t, p, path)
			assert.NotContains(t, p.Body, "<script")
		})
	}

	before := state(e)
	form := func(kv ...string) string {
		v := url.Values{"csrf": {csrf}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	posts := []struct {
		path, contentType, body string
		want                    int
	}{
		{req, "none", form("action", "approve", "reason", "x"), http.StatusUnsupportedMediaType},
		{req, "text/plain", form("action", "approve", "reason", "x"), http.StatusUnsupportedMediaType},
		{req, "application/json", `{"action":"approve"}`, http.StatusUnsupportedMediaType},
		{req, "multipart/form-data; boundary=x", "--x--", http.StatusUnsupportedMediaType},
		{req, "", strings.Repeat("a=b&", 20000), http.StatusRequestEntityTooLarge},
		{req, "", form("action", "bogus", "reason", "x"), http.StatusBadRequest},
		{req, "", form("action", "", "reason", "x"), http.StatusBadRequest},
		{req, "", form("reason", "x"), http.StatusBadRequest},
		{req, "", form("action", "approve"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", ""), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "   \r\n "), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", long), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "a\x00b"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "\xff\xfe"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "x", "duration", "abc"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "x", "duration", "0"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "x", "duration", "-1"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "x", "duration", "9"), http.StatusBadRequest}, // more than asked
		{req, "", form("action", "approve", "reason", "x", "duration", "721"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "x", "duration", "99999999999999999999999"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "x", "duration", "1.5"), http.StatusBadRequest},
		{req, "", form("action", "approve", "action", "deny", "reason", "x"), http.StatusBadRequest},
		{req, "", form("action", "approve", "reason", "x", "tenantId", "fabrikam"), http.StatusBadRequest},
		{req, "", "%zz", http.StatusBadRequest},
		{req, "", form("action", "revoke", "reason", "x"), http.StatusConflict}, // nothing live to revoke
		{"/requests/" + lockbox.NewID(), "", form("action", "approve", "reason", "x"), http.StatusNotFound},
		{"/requests/%3Cx%3E", "", form("action", "approve", "reason", "x"), http.StatusNotFound},
		{"/settings", "", form("version", "0", "document", "{"), http.StatusBadRequest},
		{"/settings", "", form("version", "0", "document", `{"bogus":1}`), http.StatusBadRequest},
		{"/settings", "", form("version", "0", "document", `{"enabled":true,"requiredApprovals":9}`), http.StatusBadRequest},
		{"/settings", "", form("version", "0", "document", `[]`), http.StatusBadRequest},
		{"/settings", "", form("version", "0", "document", ""), http.StatusBadRequest},
		{"/settings", "", form("version", "0", "document", `{"enabled":true} {}`), http.StatusBadRequest},
		{"/settings", "", form("version", "0", "document", strings.Repeat(" ", 70000)), http.StatusRequestEntityTooLarge},
		{"/settings", "", form("version", "x", "document", "{}"), http.StatusBadRequest},
		{"/settings", "", form("version", "-1", "document", "{}"), http.StatusBadRequest},
		{"/settings", "", form("version", "99999999999999999999", "document", "{}"), http.StatusBadRequest},
		{"/settings", "", form("version", "7", "document", `{"enabled":true,"approvers":[],"reminders":[],"requiredApprovals":1,"rules":[],"webhooks":[]}`), http.StatusPreconditionFailed},
		{"/logout", "", "csrf=" + csrf + "&x=1", http.StatusBadRequest},
		{"/login", "", "token=x&csrf=a&csrf=b", http.StatusBadRequest},
		{"/", "", form(), http.StatusMethodNotAllowed},
		{"/activity", "", form(), http.StatusMethodNotAllowed},
		{"/nope", "", form(), http.StatusNotFound},
	}
	for _, tc := range posts {
		t.Run("POST "+tc.path+" "+tc.contentType+" "+truncate(tc.body, 60), func(t *testing.T) {
			ct := tc.contentType
			h := http.Header{"Content-Type": {ct}, "Sec-Fetch-Site": {"same-origin"}}
			switch ct {
			case "":
				h.Set("Content-Type", "application/x-www-form-urlencoded")
			case "none":
				h.Del("Content-Type")
			}
			p := b.Do(http.MethodPost, tc.path, tc.body, h)
			assert.Equal(t, tc.want, p.Status, "%.300s", p.Body)
			assert.Less(t, p.Status, 500)
			requireSecurityHeaders(t, p, tc.path)
		})
	}
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, "PROPFIND"} {
		p := b.Do(method, req, "", http.Header{"Sec-Fetch-Site": {"same-origin"}})
		assert.Equal(t, http.StatusMethodNotAllowed, p.Status, method)
		assert.Equal(t, "GET, POST", p.Header.Get("Allow"), method)
	}
	assert.Equal(t, before, state(e), "no hostile call changed anything")
	assert.Equal(t, lockbox.StatusPending, get(e, "contoso", r.RequestID).Status)
	require.Equal(t, http.StatusOK, b.Get("/").Status, "still signed in")
}

// A request the template could hand over but net/http could not build (a
// method with a space) is still a page.
func TestServeOddRequests(t *testing.T) {
	e := setup(t)
	resp := serve(t, e.Portal, "GET X", "/", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, portalCSP, resp.Header.Get("Content-Security-Policy"))
	resp = serve(t, e.Portal, http.MethodGet, "", "", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "no path is the landing page")
	assert.Equal(t, portaltest.BasePath+"/login", resp.Header.Get("Location"))
	resp = serve(t, e.Portal, http.MethodHead, "/login", "", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	// Paths a gateway would clean first are not found, never redirected
	// out of the base path.
	for _, path := range []string{"relative", "//", "/requests/../settings", "/requests/./x", "/requests/x/", "/" + strings.Repeat("a", 600)} {
		resp = serve(t, e.Portal, http.MethodGet, path, "", nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		assert.Equal(t, portalCSP, resp.Header.Get("Content-Security-Policy"), path)
	}
}

const portalCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
