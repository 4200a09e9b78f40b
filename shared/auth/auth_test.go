package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

var (
	webhookSecret = []byte("webhook-secret-0123456789")
	jwtSecret     = []byte("jwt-secret-0123456789abcdef")
	now           = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
)

func verifier() *auth.Verifier {
	return auth.NewVerifier([][]byte{webhookSecret}, [][]byte{jwtSecret}, "", "", func() time.Time { return now })
}

func signed(ts time.Time, body string, secret []byte) http.Header {
	h := http.Header{}
	h.Set(auth.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(auth.HeaderSignature, auth.Sign(secret, ts.Unix(), []byte(body)))
	return h
}

func bearer(t *testing.T, c auth.Claims, secret []byte) http.Header {
	t.Helper()
	tok, err := auth.Mint(secret, c)
	require.NoError(t, err)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	return h
}

func TestSignature(t *testing.T) {
	v := verifier()
	body := `{"tenantId":"contoso"}`
	p, err := v.Authenticate(signed(now, body, webhookSecret), []byte(body), lockbox.KindService)
	require.NoError(t, err)
	assert.Equal(t, lockbox.KindService, p.Kind)

	cases := map[string]struct {
		h    http.Header
		body string
	}{
		"body changed":       {signed(now, body, webhookSecret), body + " "},
		"wrong secret":       {signed(now, body, []byte("another-secret-0123456789")), body},
		"5m1s old":           {signed(now.Add(-5*time.Minute-time.Second), body, webhookSecret), body},
		"5m1s in the future": {signed(now.Add(5*time.Minute+time.Second), body, webhookSecret), body},
		"timestamp not a number": {func() http.Header {
			h := signed(now, body, webhookSecret)
			h.Set(auth.HeaderTimestamp, "1e9")
			return h
		}(), body},
		"no timestamp": {func() http.Header { h := signed(now, body, webhookSecret); h.Del(auth.HeaderTimestamp); return h }(), body},
		"sha1 prefix": {func() http.Header {
			h := signed(now, body, webhookSecret)
			h.Set(auth.HeaderSignature, "sha1=abc")
			return h
		}(), body},
		"non-hex signature": {func() http.Header {
			h := signed(now, body, webhookSecret)
			h.Set(auth.HeaderSignature, "sha256="+strings.Repeat("z", 64))
			return h
		}(), body},
		"no credentials": {http.Header{}, body},
	}
	for name, c := range cases {
		_, err := v.Authenticate(c.h, []byte(c.body), lockbox.KindService, lockbox.KindUser)
		assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err), name)
	}

	// Inside the window either way is fine.
	_, err = v.Authenticate(signed(now.Add(-5*time.Minute), body, webhookSecret), []byte(body), lockbox.KindService)
	assert.NoError(t, err)
	// A function that does not take signatures refuses them.
	_, err = v.Authenticate(signed(now, body, webhookSecret), []byte(body), lockbox.KindUser)
	assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err))
}

func TestToken(t *testing.T) {
	v := verifier()
	c := auth.NewClaims("alice", "contoso", []string{"lockbox.approver", "admin"}, now, time.Hour)
	p, err := v.Authenticate(bearer(t, c, jwtSecret), nil, lockbox.KindUser)
	require.NoError(t, err)
	assert.Equal(t, lockbox.Principal{Kind: lockbox.KindUser, Subject: "alice", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleApprover}}, p, "unknown roles dropped")

	noExp := c
	noExp.ExpiresAt = nil
	expired := auth.NewClaims("alice", "contoso", nil, now.Add(-2*time.Hour), time.Hour)
	noTenant := auth.NewClaims("alice", "", nil, now, time.Hour)
	badTenant := auth.NewClaims("alice", "con{toso}", nil, now, time.Hour)
	noSub := auth.NewClaims("", "contoso", nil, now, time.Hour)

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	es, _ := jwt.NewWithClaims(jwt.SigningMethodES256, c).SignedString(ecKey)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, c).SignedString(jwtSecret)
	raw := func(tok string) http.Header { h := http.Header{}; h.Set("Authorization", "Bearer "+tok); return h }

	cases := map[string]http.Header{
		"no exp":          bearer(t, noExp, jwtSecret),
		"expired":         bearer(t, expired, jwtSecret),
		"no tid":          bearer(t, noTenant, jwtSecret),
		"malformed tid":   bearer(t, badTenant, jwtSecret),
		"no sub":          bearer(t, noSub, jwtSecret),
		"wrong key":       bearer(t, c, []byte("another-secret-0123456789")),
		"alg none":        raw(none),
		"alg ES256":       raw(es),
		"alg HS512":       raw(hs512),
		"garbage":         raw("not.a.token"),
		"basic scheme":    func() http.Header { h := http.Header{}; h.Set("Authorization", "Basic YTpi"); return h }(),
		"oversized token": raw(strings.Repeat("a", 9000)),
	}
	for name, h := range cases {
		_, err := v.Authenticate(h, nil, lockbox.KindUser, lockbox.KindService)
		assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err), name)
	}

	// Issuer and audience are enforced when configured.
	strict := auth.NewVerifier(nil, [][]byte{jwtSecret}, "https://idp.example", "lockbox", func() time.Time { return now })
	_, err = strict.Authenticate(bearer(t, c, jwtSecret), nil, lockbox.KindUser)
	assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err), "no iss/aud")
	good := c
	good.Issuer, good.Audience = "https://idp.example", jwt.ClaimStrings{"lockbox"}
	_, err = strict.Authenticate(bearer(t, good, jwtSecret), nil, lockbox.KindUser)
	assert.NoError(t, err)

	// Both credentials at once are refused rather than guessed at.
	both := bearer(t, c, jwtSecret)
	both.Set(auth.HeaderSignature, "sha256=00")
	_, err = v.Authenticate(both, nil, lockbox.KindUser, lockbox.KindService)
	assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err))
}

// During a rotation both the new and the previous key verify; once the old
// key is removed from the file, what it signed is refused.
func TestRotation(t *testing.T) {
	old, cur := []byte("old-secret-0123456789abcdef"), []byte("new-secret-0123456789abcdef")
	during := auth.NewVerifier([][]byte{cur, old}, [][]byte{cur, old}, "", "", func() time.Time { return now })
	after := auth.NewVerifier([][]byte{cur}, [][]byte{cur}, "", "", func() time.Time { return now })
	body := `{"a":1}`
	c := auth.NewClaims("alice", "contoso", []string{"lockbox.approver"}, now, time.Hour)
	for _, key := range [][]byte{cur, old} {
		_, err := during.Authenticate(signed(now, body, key), []byte(body), lockbox.KindService)
		assert.NoError(t, err)
		_, err = during.Authenticate(bearer(t, c, key), nil, lockbox.KindUser)
		assert.NoError(t, err)
	}
	_, err := after.Authenticate(signed(now, body, old), []byte(body), lockbox.KindService)
	assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err), "revoked webhook key")
	_, err = after.Authenticate(bearer(t, c, old), nil, lockbox.KindUser)
	assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err), "revoked token key")
}
