package lockbox

import (
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// CanonicalID is the form in which identities (a token's sub, a requester's
// id, whoever filed a request) are compared: Unicode NFC, case-folded, NFC
// again. "Alice", "alice" and the decomposed spelling of "Zoë" are each one
// person: comparing bytes would let one person approve their own access by
// spelling their name another way. Every comparison of identities goes
// through it; the store keeps the canonical form beside the one shown.
func CanonicalID(id string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFC.String(id)))
}

// SameIdentity reports whether a and b name the same person or system.
func SameIdentity(a, b string) bool { return CanonicalID(a) == CanonicalID(b) }
