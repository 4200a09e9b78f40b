package portal

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// Bounds of what the portal reads.
const (
	maxQuery    = 2048     // bytes of a query string
	maxForm     = 64 << 10 // bytes of a form body (the settings form: maxSettingsForm)
	maxValueLen = 8 << 10  // bytes of one query value
)

// params are the parameters a page accepts: each name with how many times
// it may be given.
type params map[string]int

// parseValues parses raw (a query string or a form body), accepting only
// the names in known, each at most as often as known says, as valid UTF-8.
// Errors: KindInvalid.
func parseValues(raw string, known params, what string) (url.Values, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, lockbox.Invalidf("the %s is malformed", what)
	}
	for k, vs := range v {
		n, ok := known[k]
		if !ok {
			return nil, lockbox.Invalidf("unknown %s field %q", what, truncate(k, 40))
		}
		if len(vs) > n {
			return nil, lockbox.Invalidf("%s field %q is given more than %d time(s)", what, k, n)
		}
		for _, s := range vs {
			if !utf8.ValidString(s) {
				return nil, lockbox.Invalidf("%s field %q is not valid UTF-8", what, k)
			}
		}
	}
	return v, nil
}

// query parses r's query string against known.
func query(r *http.Request, known params) (url.Values, error) {
	if len(r.URL.RawQuery) > maxQuery {
		return nil, lockbox.Invalidf("the query string is too long")
	}
	v, err := parseValues(r.URL.RawQuery, known, "query")
	if err != nil {
		return nil, err
	}
	for k, vs := range v {
		for _, s := range vs {
			if len(s) > maxValueLen {
				return nil, lockbox.Invalidf("query field %q is too long", k)
			}
		}
	}
	return v, nil
}

// form reads r's body as an HTML form (application/x-www-form-urlencoded,
// at most limit bytes) against known. Errors: KindUnsupportedMedia,
// KindTooLarge, KindInvalid.
func form(r *http.Request, known params, limit int64) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, httpapi.ErrUnsupportedMedia("send the form as application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, lockbox.Invalidf("the form could not be read")
	}
	if int64(len(body)) > limit {
		return nil, httpapi.ErrTooLarge("the form", int(limit))
	}
	return parseValues(string(body), known, "form")
}

// hours reads an optional whole number of hours (1..720): nil when empty.
func hours(s, field string) (*int, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > lockbox.MaxDurationHours {
		return nil, lockbox.Invalidf("%s must be a whole number of hours from 1 to %d", field, lockbox.MaxDurationHours)
	}
	return &n, nil
}

// validCursor reports whether a cursor a page was given could be one the
// store or the activity log wrote: at most 512 printable ASCII characters
// without spaces. Whether it is one is theirs to say.
func validCursor(c string) bool {
	if len(c) > 512 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 0x21 || c[i] > 0x7e {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
