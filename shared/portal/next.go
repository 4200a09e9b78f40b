package portal

import (
	"net/url"
	"strings"

	"lockbox.dev/shared/lockbox"
)

// NextField names the sign-in's return path: the login page's query
// parameter, the token form's hidden field and the start of an OIDC
// sign-in's query (carried through the identity provider in the sealed
// state cookie).
const NextField = "next"

// maxNext bounds a return path.
const maxNext = 256

// returnPath is where a sign-in returns the browser: raw, a portal path
// (after the base path) with an optional query, when it is one of the
// portal's pages: "/", "/requests", "/requests/<id>", "/activity" or
// "/settings". Anything else is "" (the landing page): an absolute or
// scheme-relative URL ("https://evil", "//evil", "/\evil"), any percent
// encoding (which could hide one), dot segments, control characters, other
// paths. So a link can never make the portal send a browser to another
// site (no open redirect).
func returnPath(raw string) string {
	if raw == "" || len(raw) > maxNext || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		return ""
	}
	for _, c := range raw {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~/?=&", c)) {
			return ""
		}
	}
	path, query, _ := strings.Cut(raw, "?")
	if !cleanPath(path) || strings.Contains(query, "?") {
		return ""
	}
	switch {
	case path == "/", path == pathRequests, path == pathActivity, path == pathSettings:
	case strings.HasPrefix(path, pathRequests+"/") && lockbox.ValidRequestID(strings.TrimPrefix(path, pathRequests+"/")):
	default:
		return ""
	}
	if query == "" {
		return path
	}
	if _, err := url.ParseQuery(query); err != nil {
		return ""
	}
	return raw
}

// loginWith is the sign-in page's path with its notice m ("" for none)
// and the return path next ("" or "/" for none).
func loginWith(m, next string) string {
	q := url.Values{}
	if m != "" {
		q.Set("m", m)
	}
	if next = returnPath(next); next != "" && next != "/" {
		q.Set(NextField, next)
	}
	if len(q) == 0 {
		return pathLogin
	}
	return pathLogin + "?" + q.Encode()
}
