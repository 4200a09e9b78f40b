package portal

import (
	"net/http"
	"path"
	"strings"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// The portal's routes, as paths after the base path.
const (
	pathLogin    = "/login"
	pathLogout   = "/logout"
	pathOIDC     = "/oidc/login"
	pathCallback = "/oidc/callback"
	pathRequests = "/requests"
	pathActivity = "/activity"
	pathCSV      = "/activity.csv"
	pathHead     = "/activity/head"
	pathSettings = "/settings"
	pathCSS      = "/static/portal.css"
)

// routes is the portal's router: a ServeMux with method patterns, behind a
// front that answers a 404 or 405 page (never the mux's plain text or its
// redirects, which would leave the base path).
func (p *Portal) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.pending)
	mux.HandleFunc("GET "+pathLogin, p.loginPage)
	mux.HandleFunc("POST "+pathLogin, p.tokenLogin)
	mux.HandleFunc("POST "+pathLogout, p.logout)
	mux.HandleFunc("GET "+pathOIDC, p.oidcStart)
	mux.HandleFunc("GET "+pathCallback, p.oidcCallback)
	mux.HandleFunc("GET "+pathRequests, p.history)
	mux.HandleFunc("GET "+pathRequests+"/{id}", p.request)
	mux.HandleFunc("POST "+pathRequests+"/{id}", p.act)
	mux.HandleFunc("GET "+pathActivity, p.activity)
	mux.HandleFunc("GET "+pathCSV, p.activityCSV)
	mux.HandleFunc("GET "+pathHead, p.activityHead)
	mux.HandleFunc("GET "+pathSettings, p.settingsPage)
	mux.HandleFunc("POST "+pathSettings, p.saveSettings)
	mux.HandleFunc("POST "+pathLockdown, p.lockdown)
	mux.HandleFunc("POST "+pathLift, p.lift)
	mux.HandleFunc("POST "+pathSettingsForm, p.saveSettingsForm)
	mux.HandleFunc("GET "+pathProvider, p.console)
	mux.HandleFunc("POST "+pathProvider, p.consoleAct)
	mux.HandleFunc("GET "+pathCSS, p.css)
	mux.HandleFunc("GET "+pathPasskeys, p.passkeysPage)
	mux.HandleFunc("POST "+pathPasskeys, p.passkeysPost)
	mux.HandleFunc("GET "+pathScript, p.script)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" {
			r.URL.Path = "/"
		}
		if !cleanPath(r.URL.Path) {
			p.fail(w, r, notFound())
			return
		}
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			p.fail(w, r, notFound())
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		p.fail(w, r, lockbox.Errorf(httpapi.KindMethodNotAllowed, "MethodNotAllowed", "this page takes %s only", strings.Join(allow, " or ")))
	})
}

// cleanPath reports whether p is a clean absolute path of at most 512
// bytes: no "..", no "//", no trailing slash but the root's.
func cleanPath(p string) bool {
	return len(p) <= 512 && strings.HasPrefix(p, "/") && path.Clean(p) == p
}

func notFound() error {
	return lockbox.Errorf(lockbox.KindNotFound, "NotFound", "there is no such page")
}

// CSP is the Content-Security-Policy of every response: nothing but the
// portal's own stylesheet and images, forms posted to the portal only, never
// framed, and no script: the pages that sign with passkeys alone run the
// portal's one script (CSPWithScript).
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets the security headers of every response; pages are never
// cached (the stylesheet sets its own Cache-Control).
func (p *Portal) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// css serves the embedded stylesheet.
func (p *Portal) css(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > 64 { // ?v=<version>, which only busts caches
		p.fail(w, r, lockbox.Invalidf("query string is too long"))
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(p.pages.css)
}
