package passkey_test

import (
	"crypto/sha256"
	"encoding/hex"
)

func hexEncode(b []byte) string { return hex.EncodeToString(b) }

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
