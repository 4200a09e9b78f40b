package lockbox

import (
	"regexp"
	"strings"
	"testing"
)

// The id shapes accept exactly what their regexps do.
func TestIDShapesAreTheirRegexps(t *testing.T) {
	for _, c := range []struct {
		shape idShape
		re    *regexp.Regexp
	}{
		{requestIDPattern, regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)},
		{tenantPattern, regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)},
		{tokenPattern, regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)},
	} {
		inputs := []string{"", "a", "e8e0507f-40b7-4919-8b4b-485a0977aed6", "bench-cmp.a1_b2", "a\n", "\na", "a b", "é",
			strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("b", 128), strings.Repeat("b", 129)}
		for b := range 256 {
			inputs = append(inputs, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
		}
		for _, s := range inputs {
			if got, want := c.shape.MatchString(s), c.re.MatchString(s); got != want {
				t.Errorf("%+v.MatchString(%q) = %v, %s gives %v", c.shape, s, got, c.re, want)
			}
		}
	}
}
