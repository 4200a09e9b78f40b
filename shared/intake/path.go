package intake

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// Bounds of paths and templates.
const (
	maxPathLen          = 256
	maxPathComponents   = 16
	maxTemplateLen      = 4096
	maxTemplatePaths    = 32
	maxQueryLiteralLen  = 128
	maxQueryIntegerLen  = 15
	templateOpen        = "{{"
	templateClose       = "}}"
	optionalPlaceholder = "?"
)

// path is a gjson path checked against the allowed subset (see the package
// documentation). Only parsePath makes one.
type path string

// get returns the value at p in body (a body checked by checkBody).
func (p path) get(body []byte) gjson.Result {
	return gjson.GetBytes(body, string(p))
}

// parsePath checks s against the allowed subset of gjson path syntax.
func parsePath(s string) (path, error) {
	switch {
	case s == "":
		return "", errors.New("path is empty")
	case len(s) > maxPathLen:
		return "", fmt.Errorf("path is longer than %d bytes", maxPathLen)
	}
	n := 0
	for rest := s; ; {
		tail, err := skipComponent(rest)
		if err != nil {
			return "", fmt.Errorf("path %q: %w", s, err)
		}
		if n++; n > maxPathComponents {
			return "", fmt.Errorf("path %q has more than %d components", s, maxPathComponents)
		}
		if tail == "" {
			return path(s), nil
		}
		rest = tail[1:] // skip the '.'
		if rest == "" {
			return "", fmt.Errorf("path %q ends with '.'", s)
		}
	}
}

// skipComponent reads the first component of s and returns the rest of s,
// which is empty or starts with '.'.
func skipComponent(s string) (rest string, err error) {
	var n int
	switch {
	case strings.HasPrefix(s, "#("):
		n, err = queryLen(s)
	case strings.HasPrefix(s, "#"):
		n = 1
	default:
		n = keyLen(s)
		if n == 0 {
			return "", badChar(s)
		}
	}
	if err != nil {
		return "", err
	}
	if n < len(s) && s[n] != '.' {
		return "", badChar(s[n:])
	}
	return s[n:], nil
}

// keyLen is the length of the key at the start of s.
func keyLen(s string) int {
	for i := 0; i < len(s); i++ {
		if !isKeyByte(s[i]) {
			return i
		}
	}
	return len(s)
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$'
}

// badChar explains why the component at the start of s is refused.
func badChar(s string) error {
	if s == "" || s[0] == '.' {
		return errors.New("a component is empty")
	}
	what := map[byte]string{
		'@':  "modifiers are refused",
		'|':  "pipes are refused",
		'*':  "wildcards are refused",
		'?':  "wildcards are refused",
		'\\': "escapes are refused",
		'[':  "multipaths are refused",
		'{':  "multipaths are refused",
		'!':  "literals are refused",
		'#':  "'#' must be a component of its own",
	}[s[0]]
	if what == "" {
		what = "only [A-Za-z0-9_$-] keys, '#' and #(key==literal) queries are allowed"
	}
	return fmt.Errorf("character %q is not allowed: %s", rune(s[0]), what)
}

// queryLen is the length of the query #(key.path==literal) or
// #(key.path==literal)# at the start of s.
func queryLen(s string) (int, error) {
	i := 2
	for i < len(s) && (isKeyByte(s[i]) || s[i] == '.') {
		i++
	}
	key := s[2:i]
	if key == "" || strings.HasPrefix(key, ".") || strings.HasSuffix(key, ".") || strings.Contains(key, "..") {
		return 0, errors.New("a query must be #(key.path==\"text\") or #(key.path==123)")
	}
	if !strings.HasPrefix(s[i:], "==") {
		return 0, errors.New("a query may only compare with ==")
	}
	i += 2
	n, err := literalLen(s[i:])
	if err != nil {
		return 0, err
	}
	i += n
	if i >= len(s) || s[i] != ')' {
		return 0, errors.New("a query must end with ')' after its literal")
	}
	i++
	if i < len(s) && s[i] == '#' {
		i++
	}
	return i, nil
}

// literalLen is the length of the query literal at the start of s: a
// double-quoted string without quotes, backslashes or control characters,
// or an integer.
func literalLen(s string) (int, error) {
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return 0, errors.New("a query's text is not closed with '\"'")
		}
		lit := s[1 : 1+end]
		if len(lit) > maxQueryLiteralLen || strings.ContainsFunc(lit, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) {
			return 0, fmt.Errorf("a query's text must be at most %d bytes without backslashes or control characters", maxQueryLiteralLen)
		}
		return end + 2, nil
	}
	i := 0
	if strings.HasPrefix(s, "-") {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i || j-i > maxQueryIntegerLen {
		return 0, errors.New("a query compares with \"text\" or an integer")
	}
	return j, nil
}

// placeholder is one {{path}} of a template.
type placeholder struct {
	path     path
	optional bool // {{path?}}: missing or null stands for nothing
}

// template is text with placeholders: parts[i] is followed by
// placeholders[i], and the last part by nothing.
type template struct {
	parts        []string
	placeholders []placeholder
}

// parseTemplate reads s, reporting each problem.
func parseTemplate(s string) (*template, []error) {
	if s == "" {
		return nil, []error{errors.New("template is empty")}
	}
	if len(s) > maxTemplateLen {
		return nil, []error{fmt.Errorf("template is longer than %d bytes", maxTemplateLen)}
	}
	t := &template{}
	var errs []error
	rest := s
	for {
		open := strings.Index(rest, templateOpen)
		if open < 0 {
			if strings.Contains(rest, templateClose) {
				errs = append(errs, errors.New("template has '}}' without '{{'"))
			}
			t.parts = append(t.parts, rest)
			break
		}
		lit := rest[:open]
		if strings.Contains(lit, templateClose) {
			errs = append(errs, errors.New("template has '}}' without '{{'"))
		}
		rest = rest[open+len(templateOpen):]
		end := strings.Index(rest, templateClose)
		if end < 0 {
			errs = append(errs, errors.New("template has '{{' without '}}'"))
			t.parts = append(t.parts, lit)
			break
		}
		ph, err := parsePlaceholder(rest[:end])
		if err != nil {
			errs = append(errs, fmt.Errorf("placeholder %d: %w", len(t.placeholders)+1, err))
		}
		t.parts = append(t.parts, lit)
		t.placeholders = append(t.placeholders, ph)
		rest = rest[end+len(templateClose):]
	}
	if len(t.placeholders) > maxTemplatePaths {
		errs = append(errs, fmt.Errorf("template has more than %d placeholders", maxTemplatePaths))
	}
	return t, errs
}

func parsePlaceholder(s string) (placeholder, error) {
	s = strings.TrimSpace(s)
	p, optional := strings.CutSuffix(s, optionalPlaceholder)
	pp, err := parsePath(strings.TrimSpace(p))
	return placeholder{path: pp, optional: optional}, err
}

// literalPrefix is the text before the first placeholder.
func (t *template) literalPrefix() string { return t.parts[0] }
