package lockbox

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// CanonicalID is the form in which identities (a token's sub, a requester's
// id, whoever filed a request, approvers, rule authors) are compared: default-
// ignorable code points removed, Unicode NFKC, case-folded, NFKC again.
// "Alice", "alice", the fullwidth "ａｌｉｃｅ", the decomposed spelling of
// "Zoë" and "ali\u034fce" (a combining grapheme joiner) are each one person:
// comparing bytes would let one person approve their own access, or fill a
// quorum alone, by spelling their name another way. Every comparison of
// identities goes through it; the store keeps the canonical form beside the
// one shown. Ids holding such characters are refused where they enter
// (ValidRequesterID); removing them here as well keeps the comparison sound
// for anything that reaches it another way.
func CanonicalID(id string) string {
	if isASCII(id) {
		// ASCII holds nothing ignorable and nothing NFKC changes, and folds
		// as it lower-cases: the usual id, without the Unicode tables (a
		// tenth of the time, and no allocation when already lower-case).
		return strings.ToLower(id)
	}
	return canonicalUnicode(id)
}

// canonicalUnicode is CanonicalID by the Unicode tables, for any id.
func canonicalUnicode(id string) string {
	id = strings.Map(func(r rune) rune {
		if ignorable(r) {
			return -1
		}
		return r
	}, id)
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(id)))
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// SameIdentity reports whether a and b name the same person or system.
func SameIdentity(a, b string) bool { return CanonicalID(a) == CanonicalID(b) }

// ignorable reports whether r is a default-ignorable code point (Unicode's
// Default_Ignorable_Code_Point: format characters, variation selectors and
// the other ignorables, such as the combining grapheme joiner and the
// Hangul fillers), which renders as nothing.
func ignorable(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// invisible reports whether r must not appear in an identity: a control,
// format or default-ignorable code point, a space of any kind, or a
// character that draws nothing (the braille blank).
func invisible(r rune) bool {
	return unicode.IsControl(r) || ignorable(r) || unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '\u2800'
}
