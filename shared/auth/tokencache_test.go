package auth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

// A verifier remembers the HS256 tokens it accepted, so that a client's next
// call with the same token skips the parse; nothing remembered outlives what
// a parse would accept, and only the very same bytes are recognised.
func TestRememberedTokens(t *testing.T) {
	clock := now
	v := auth.NewVerifier(nil, [][]byte{jwtSecret}, "", "", func() time.Time { return clock })
	h := bearer(t, auth.NewClaims("alice", "contoso", []string{string(lockbox.RoleApprover)}, now, time.Hour), jwtSecret)
	first, err := v.Authenticate(h, nil, lockbox.KindUser)
	require.NoError(t, err)
	again, err := v.Authenticate(h, nil, lockbox.KindUser)
	require.NoError(t, err)
	assert.Equal(t, first, again)

	again.Roles[0] = lockbox.RoleAdmin
	third, err := v.Authenticate(h, nil, lockbox.KindUser)
	require.NoError(t, err)
	assert.Equal(t, first, third, "a caller changing the principal it got changes nothing remembered")

	tok := h.Get("Authorization")
	last := "A"
	if tok[len(tok)-1] == 'A' {
		last = "B"
	}
	tampered := h.Clone()
	tampered.Set("Authorization", tok[:len(tok)-1]+last)
	_, err = v.Authenticate(tampered, nil, lockbox.KindUser)
	require.Error(t, err, "another token's bytes are parsed, and its signature fails")

	clock = now.Add(time.Hour)
	_, err = v.Authenticate(h, nil, lockbox.KindUser)
	require.NoError(t, err, "at exp the parse decides, and allows the leeway")
	clock = now.Add(time.Hour + auth.Leeway + time.Second)
	_, err = v.Authenticate(h, nil, lockbox.KindUser)
	require.ErrorContains(t, err, "expired", "a remembered token still expires")
}
