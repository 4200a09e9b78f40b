package intake

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Value says where a mapped field comes from: exactly one of a constant, a
// path into the delivery or a template.
type Value struct {
	// Const is the constant (value:), when set.
	Const *string
	// Path is the JSON path (path:), when set.
	Path string
	// Template is the template text (template:), when set.
	Template string
	// Split, for resourceIds with a path, cuts a string at each occurrence.
	Split string

	path      path
	template  *template
	escapeURL bool // supportCaseUrl: escape what a template substitutes
}

// errMissing marks a value whose path (or a required placeholder's) is
// missing or null.
var errMissing = errors.New("missing")

// missingError names what is missing.
type missingError struct{ what string }

func (e *missingError) Error() string { return e.what + " is missing" }
func (e *missingError) Unwrap() error { return errMissing }

// text resolves v to text. A missing path is an error wrapping errMissing;
// a value of another type than string or number is another error.
func (v *Value) text(body []byte) (string, error) {
	switch {
	case v.Const != nil:
		return *v.Const, nil
	case v.template != nil:
		return v.template.render(body, v.escapeURL)
	}
	return textAt(v.path, body)
}

// textAt is the text of the string or number at p.
func textAt(p path, body []byte) (string, error) {
	r := p.get(body)
	switch r.Type {
	case gjson.String:
		return r.Str, nil
	case gjson.Number:
		return r.Raw, nil
	case gjson.Null:
		return "", &missingError{what: fmt.Sprintf("path %s", p)}
	}
	return "", fmt.Errorf("path %s is %s, not text", p, typeName(r))
}

// list resolves v to resource ids: a string (cut with Split when set), or
// an array of strings and numbers. At most limit+1 entries are kept: enough
// to tell that there are too many.
func (v *Value) list(body []byte, limit int) ([]string, error) {
	if v.Const != nil || v.template != nil {
		s, err := v.text(body)
		return []string{s}, err
	}
	r := v.path.get(body)
	switch {
	case r.Type == gjson.String && v.Split != "":
		return split(r.Str, v.Split, limit), nil
	case r.IsArray():
		return elements(v.path, r, limit)
	}
	s, err := textAt(v.path, body)
	return []string{s}, err
}

func split(s, sep string, limit int) []string {
	var out []string
	for _, e := range strings.Split(s, sep) {
		if e = strings.TrimSpace(e); e != "" && len(out) <= limit {
			out = append(out, e)
		}
	}
	return out
}

func elements(p path, r gjson.Result, limit int) ([]string, error) {
	var out []string
	var err error
	r.ForEach(func(_, e gjson.Result) bool {
		switch e.Type {
		case gjson.String:
			out = append(out, e.Str)
		case gjson.Number:
			out = append(out, e.Raw)
		default:
			err = fmt.Errorf("path %s holds %s, not text", p, typeName(e))
			return false
		}
		return len(out) <= limit
	})
	return out, err
}

// hours resolves v to a whole number of hours: a JSON number without a
// fraction, or a string of at most 6 digits.
func (v *Value) hours(body []byte) (int, error) {
	if v.path == "" {
		s, err := v.text(body)
		if err != nil {
			return 0, err
		}
		return parseHours(s)
	}
	r := v.path.get(body)
	switch r.Type {
	case gjson.Number:
		if r.Num != math.Trunc(r.Num) || math.Abs(r.Num) > 1e6 {
			return 0, fmt.Errorf("path %s is not a whole number of hours", v.path)
		}
		return int(r.Num), nil
	case gjson.String:
		n, err := parseHours(r.Str)
		if err != nil {
			return 0, fmt.Errorf("path %s: %w", v.path, err)
		}
		return n, nil
	case gjson.Null:
		return 0, &missingError{what: fmt.Sprintf("path %s", v.path)}
	}
	return 0, fmt.Errorf("path %s is %s, not a number", v.path, typeName(r))
}

func parseHours(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 6 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("not a whole number of hours")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("not a whole number of hours: %w", err)
	}
	return n, nil
}

// render substitutes every placeholder of t. A required placeholder whose
// path is missing makes the result missing; an optional one stands for
// nothing.
func (t *template) render(body []byte, escapeURL bool) (string, error) {
	var b strings.Builder
	for i, ph := range t.placeholders {
		b.WriteString(t.parts[i])
		s, err := textAt(ph.path, body)
		switch {
		case errors.Is(err, errMissing) && ph.optional:
			continue
		case errors.Is(err, errMissing):
			return "", &missingError{what: fmt.Sprintf("placeholder {{%s}}", ph.path)}
		case err != nil:
			return "", fmt.Errorf("placeholder {{%s}}: %w", ph.path, err)
		}
		if escapeURL {
			s = strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
		}
		b.WriteString(s)
	}
	b.WriteString(t.parts[len(t.parts)-1])
	return b.String(), nil
}

// typeName names the JSON type of r for messages.
func typeName(r gjson.Result) string {
	switch {
	case r.IsObject():
		return "an object"
	case r.IsArray():
		return "an array"
	case r.IsBool():
		return "a boolean"
	}
	return "of another type"
}
