package auth

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"lockbox.dev/shared/lockbox"
)

// The remembered tokens stay bounded: when full, the expired ones go first,
// then all.
func TestVerifiedTokensBounded(t *testing.T) {
	var c verifiedTokens
	now := time.Now()
	p := lockbox.Principal{Kind: lockbox.KindUser, Subject: "alice", TenantID: "contoso"}
	for i := range maxVerifiedTokens {
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(time.Minute)
		}
		c.put(sha256.Sum256(fmt.Appendf(nil, "token-%d", i)), p, exp, now)
	}
	assert.Len(t, c.m, maxVerifiedTokens)
	later := now.Add(2 * time.Minute)
	c.put(sha256.Sum256([]byte("one more")), p, later.Add(time.Hour), later)
	assert.Len(t, c.m, maxVerifiedTokens/2+1, "the expired half went")
	_, ok := c.get(sha256.Sum256([]byte("token-1")), later)
	assert.True(t, ok)
	_, ok = c.get(sha256.Sum256([]byte("token-0")), later)
	assert.False(t, ok)

	for i := range maxVerifiedTokens {
		c.put(sha256.Sum256(fmt.Appendf(nil, "again-%d", i)), p, later.Add(time.Hour), later)
	}
	assert.LessOrEqual(t, len(c.m), maxVerifiedTokens)
	c.put(sha256.Sum256([]byte("expired")), p, later, later)
	_, ok = c.get(sha256.Sum256([]byte("expired")), later)
	assert.False(t, ok, "a token expiring now is not remembered")
}

// BenchmarkBearer is a bearer token's check when the verifier remembers it
// and when it parses it.
func BenchmarkBearer(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	v := NewVerifier(nil, [][]byte{key}, "", "", time.Now)
	tok, err := Mint(key, NewClaims("approver-1", "contoso", []string{string(lockbox.RoleApprover)}, time.Now(), time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{"Authorization": {"Bearer " + tok}}
	for _, remembered := range []bool{true, false} {
		b.Run(map[bool]string{true: "remembered", false: "parsed"}[remembered], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !remembered {
					v.verified = verifiedTokens{}
				}
				if _, err := v.Authenticate(h, nil, lockbox.KindUser); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
