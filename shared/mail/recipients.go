package mail

import (
	netmail "net/mail"
	"strings"
)

// addressKey is how addresses are compared (MessageID): the bare address
// (when a parses as one) in lower case.
func addressKey(a string) string {
	a = strings.TrimSpace(a)
	if p, err := netmail.ParseAddress(a); err == nil {
		a = p.Address
	}
	return strings.ToLower(a)
}
