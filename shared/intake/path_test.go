package intake

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPathSubset(t *testing.T) {
	for _, p := range []string{
		"issue.key",
		"issue.fields.customfield_10050.value",
		"labels.0.name",
		"labels.#",
		"labels.#.name",
		"$schema",
		"a-b_c",
		`changelog.items.#(field=="status").toString`,
		`changelog.items.#(field=="status")#.toString`,
		`items.#(a.b=="x y.z|@*?)")`,
		`items.#(n==-12)`,
		`items.#(n=="")`,
		strings.Repeat("a.", 15) + "a",
	} {
		_, err := parsePath(p)
		assert.NoError(t, err, p)
	}
	for p, want := range map[string]string{
		"":                              "path is empty",
		".a":                            "a component is empty",
		"a.":                            "ends with '.'",
		"a..b":                          "a component is empty",
		"..a":                           "a component is empty",
		"@this":                         "modifiers are refused",
		"a.@reverse":                    "modifiers are refused",
		"a.@join:{}":                    "modifiers are refused",
		"a|b":                           "pipes are refused",
		"a*":                            "wildcards are refused",
		"a?":                            "wildcards are refused",
		`a\.b`:                          "escapes are refused",
		"[a,b]":                         "multipaths are refused",
		"{a:b}":                         "multipaths are refused",
		"!true":                         "literals are refused",
		"a#":                            "'#' must be a component of its own",
		"#a":                            "only [A-Za-z0-9_$-] keys",
		"a b":                           "only [A-Za-z0-9_$-] keys",
		"a\x00":                         "only [A-Za-z0-9_$-] keys",
		"é":                             "only [A-Za-z0-9_$-] keys",
		`a.#(b%"x*")`:                   "may only compare with ==",
		`a.#(b!="x")`:                   "may only compare with ==",
		`a.#(b>1)`:                      "may only compare with ==",
		`a.#(b="x")`:                    "may only compare with ==",
		`a.#(=="x")`:                    "a query must be",
		`a.#(b==~true)`:                 "compares with \"text\" or an integer",
		`a.#(b=="x\"y")`:                "without backslashes",
		`a.#(b=="x\\")`:                 "without backslashes",
		`a.#(b=="x`:                     "not closed",
		`a.#(b=="x"`:                    "must end with ')'",
		`a.#(b=="x")c`:                  "only [A-Za-z0-9_$-] keys",
		`a.#(b.#(c=="x"))`:              "a query must be",
		`a.#(b==1.5)`:                   "must end with ')'",
		`a.#(b==` + "1234567890123456)": "compares with",
		strings.Repeat("a.", 16) + "a":  "more than 16 components",
		strings.Repeat("a", 257):        "longer than 256 bytes",
	} {
		_, err := parsePath(p)
		if assert.Error(t, err, p) {
			assert.Contains(t, err.Error(), want, p)
		}
	}
}

// TestPathsSelectWithGJSON: the allowed subset means to gjson what the
// documentation says, literals with gjson's special characters included.
func TestPathsSelectWithGJSON(t *testing.T) {
	body := []byte(`{
		"items": [
			{"field": "priority", "toString": "High", "n": 1},
			{"field": "status", "toString": "Done", "n": -12, "a": {"b": "x y.z|@*?)"}},
			{"field": "status", "toString": "Closed", "n": 3}
		],
		"labels": [{"name": "lockbox"}, {"name": "bug"}],
		"$schema": "s"
	}`)
	for p, want := range map[string]string{
		`items.#(field=="status").toString`:  "Done",
		`items.#(field=="status")#.toString`: `["Done","Closed"]`,
		`items.#(a.b=="x y.z|@*?)").n`:       "-12",
		`items.#(n==-12).toString`:           "Done",
		`items.#(n==3).toString`:             "Closed",
		`items.#(field=="none").toString`:    "",
		`labels.#`:                           "2",
		`labels.#.name`:                      `["lockbox","bug"]`,
		`labels.1.name`:                      "bug",
		`$schema`:                            "s",
	} {
		pp, err := parsePath(p)
		require.NoError(t, err, p)
		r := pp.get(body)
		if r.IsArray() {
			assert.JSONEq(t, want, r.Raw, p)
			continue
		}
		assert.Equal(t, want, r.String(), p)
	}
}

func TestTemplates(t *testing.T) {
	body := []byte(`{"a": "x", "n": 42, "z": null, "o": {"k": 1}, "b": true}`)
	for tmpl, want := range map[string]string{
		"{{a}}":                 "x",
		"{{ a }}-{{n}}":         "x-42",
		"[{{z?}}]":              "[]",
		"[{{missing ?}}]":       "[]",
		"no placeholders":       "no placeholders",
		"{ {a} } {{a}}":         "{ {a} } x",
		"{{a}}{{a}}{{a}}":       "xxx",
		"a {{a}} b {{n}} c":     "a x b 42 c",
		"{{a}} }":               "x }",
		"{{{a}}}":               "",
		"{{o}}":                 "",
		"{{b}}":                 "",
		"{{z}}":                 "",
		"{{missing}} and {{a}}": "",
	} {
		tp, errs := parseTemplate(tmpl)
		if tmpl == "{{{a}}}" {
			require.NotEmpty(t, errs, "{{{a}}} reads a placeholder {a")
			continue
		}
		require.Empty(t, errs, tmpl)
		got, err := tp.render(body, false)
		if want == "" {
			assert.Error(t, err, tmpl)
			continue
		}
		require.NoError(t, err, tmpl)
		assert.Equal(t, want, got, tmpl)
	}

	_, errs := parseTemplate(strings.Repeat("{{a}}", 33))
	assert.NotEmpty(t, errs)
	_, errs = parseTemplate(strings.Repeat("x", 4097))
	assert.NotEmpty(t, errs)
	_, errs = parseTemplate("{{a}} {{b.@this}} {{c")
	assert.Len(t, errs, 2, "every problem of a template is reported")
}
