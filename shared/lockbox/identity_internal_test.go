package lockbox

import (
	"strings"
	"testing"
)

// CanonicalID's ASCII shortcut agrees with the Unicode tables on every
// ASCII character, alone and in ids.
func TestCanonicalIDASCIIAgreesWithUnicode(t *testing.T) {
	var all strings.Builder
	for c := range 0x80 {
		s := string(rune(c))
		all.WriteString(s)
		if got, want := CanonicalID(s), canonicalUnicode(s); got != want {
			t.Errorf("CanonicalID(%q) = %q, the Unicode tables give %q", s, got, want)
		}
	}
	for _, s := range []string{all.String(), "Alice", "ALICE@CONTOSO.EXAMPLE", "eng-7", "approver-1", "Svc.Ticketing_Bot", ""} {
		if got, want := CanonicalID(s), canonicalUnicode(s); got != want {
			t.Errorf("CanonicalID(%q) = %q, the Unicode tables give %q", s, got, want)
		}
	}
}
