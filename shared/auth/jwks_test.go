package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

// idp is an identity provider of the test's own: signing keys generated
// here, their public halves served as a JWKS.
type idp struct {
	t    *testing.T
	mu   sync.Mutex
	keys map[string]signer // by kid, as currently published
	srv  *httptest.Server
	hits int
}

type signer struct {
	method jwt.SigningMethod
	key    crypto.Signer
	alg    jwkset.ALG
}

func newIDP(t *testing.T) *idp {
	p := &idp{t: t, keys: map[string]signer{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.hits++
		set := jwkset.JWKSMarshal{}
		for kid, s := range p.keys {
			jwk, err := jwkset.NewJWKFromKey(s.key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: s.alg, USE: jwkset.UseSig}})
			require.NoError(t, err)
			set.Keys = append(set.Keys, jwk.Marshal())
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) publish(kid string, s signer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[kid] = s
}

func (p *idp) withdraw(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, kid)
}

func rsaSigner(t *testing.T) signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return signer{jwt.SigningMethodRS256, k, jwkset.AlgRS256}
}

func ecSigner(t *testing.T) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signer{jwt.SigningMethodES256, k, jwkset.AlgES256}
}

func edSigner(t *testing.T) signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return signer{jwt.SigningMethodEdDSA, k, jwkset.AlgEdDSA}
}

const (
	issuer   = "https://login.contoso.example/"
	audience = "api://lockbox"
)

func claims(mut ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "tid": "contoso", "roles": []string{"lockbox.approver"},
		"iss": issuer, "aud": audience, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	for _, m := range mut {
		m(c)
	}
	return c
}

func sign(t *testing.T, s signer, kid string, c jwt.MapClaims) http.Header {
	tok := jwt.NewWithClaims(s.method, c)
	tok.Header["kid"] = kid
	str, err := tok.SignedString(s.key)
	require.NoError(t, err)
	return http.Header{"Authorization": {"Bearer " + str}}
}

func oidcVerifier(t *testing.T, p *idp, o auth.Options) *auth.Verifier {
	o.JWKSURL, o.Issuer, o.Audience, o.Now = p.srv.URL, issuer, audience, func() time.Time { return now }
	v, err := auth.New(t.Context(), o)
	require.NoError(t, err)
	return v
}

func TestJWKSAlgorithms(t *testing.T) {
	p := newIDP(t)
	signers := map[string]signer{"rsa-1": rsaSigner(t), "ec-1": ecSigner(t), "ed-1": edSigner(t)}
	for kid, s := range signers {
		p.publish(kid, s)
	}
	v := oidcVerifier(t, p, auth.Options{})
	for kid, s := range signers {
		got, err := v.Authenticate(sign(t, s, kid, claims()), nil, lockbox.KindUser)
		require.NoError(t, err, kid)
		assert.Equal(t, lockbox.Principal{Kind: lockbox.KindUser, Subject: "alice", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleApprover},
			Issuer: issuer}, got, kid)
	}
}

func TestJWKSRefusals(t *testing.T) {
	p := newIDP(t)
	rs := rsaSigner(t)
	p.publish("rsa-1", rs)
	hmacKey := []byte("hmac-secret-0123456789abcdef")
	v := oidcVerifier(t, p, auth.Options{JWTSecrets: [][]byte{hmacKey}})
	stranger := rsaSigner(t)

	// HS256 signed with the IdP's public key bytes: the classic confusion.
	pubDER, err := x509.MarshalPKIXPublicKey(rs.key.Public())
	require.NoError(t, err)
	confused := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
	confused.Header["kid"] = "rsa-1"
	confusedStr, err := confused.SignedString(pubDER)
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	ps256 := jwt.NewWithClaims(jwt.SigningMethodPS256, claims())
	ps256.Header["kid"] = "rsa-1"
	ps256Str, err := ps256.SignedString(rs.key)
	require.NoError(t, err)
	raw := func(s string) http.Header { return http.Header{"Authorization": {"Bearer " + s}} }

	cases := map[string]http.Header{
		"wrong issuer":                  sign(t, rs, "rsa-1", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" })),
		"no issuer":                     sign(t, rs, "rsa-1", claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong audience":                sign(t, rs, "rsa-1", claims(func(c jwt.MapClaims) { c["aud"] = "api://other" })),
		"expired beyond leeway":         sign(t, rs, "rsa-1", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"not yet valid beyond leeway":   sign(t, rs, "rsa-1", claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })),
		"no exp":                        sign(t, rs, "rsa-1", claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"unknown signer, known kid":     sign(t, stranger, "rsa-1", claims()),
		"unknown kid":                   sign(t, stranger, "rsa-9", claims()),
		"HS256 with the public key":     raw(confusedStr),
		"alg none":                      raw(none),
		"PS256 not allowed":             raw(ps256Str),
		"HMAC secret with wrong issuer": bearer(t, auth.NewClaims("alice", "contoso", nil, now, time.Hour), hmacKey),
	}
	for name, h := range cases {
		_, err := v.Authenticate(h, nil, lockbox.KindUser)
		assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err), name)
	}

	// Within the 30 s leeway a just-expired token still passes.
	_, err = v.Authenticate(sign(t, rs, "rsa-1", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() })), nil, lockbox.KindUser)
	assert.NoError(t, err)
	// HS256 with our own secret and the right iss/aud still works beside the IdP.
	hc := auth.NewClaims("alice", "contoso", []string{"lockbox.reader"}, now, time.Hour)
	hc.Issuer, hc.Audience = issuer, jwt.ClaimStrings{audience}
	_, err = v.Authenticate(bearer(t, hc, hmacKey), nil, lockbox.KindUser)
	assert.NoError(t, err)
}

// The IdP rotates: a token signed with a newly published key verifies at
// once (the unknown kid triggers a refresh).
func TestJWKSRotation(t *testing.T) {
	p := newIDP(t)
	p.publish("key-1", ecSigner(t))
	v := oidcVerifier(t, p, auth.Options{})
	next := ecSigner(t)
	p.publish("key-2", next)
	p.withdraw("key-1")
	_, err := v.Authenticate(sign(t, next, "key-2", claims()), nil, lockbox.KindUser)
	require.NoError(t, err, "the new key is fetched on first sight of its kid")
}

// Identity providers name the claims differently.
func TestClaimNames(t *testing.T) {
	p := newIDP(t)
	s := rsaSigner(t)
	p.publish("k", s)
	v := oidcVerifier(t, p, auth.Options{TenantClaim: "org", RolesClaim: "groups"})
	got, err := v.Authenticate(sign(t, s, "k", claims(func(c jwt.MapClaims) {
		delete(c, "tid")
		delete(c, "roles")
		c["org"] = "fabrikam"
		c["groups"] = "lockbox.reader lockbox.approver other"
	})), nil, lockbox.KindUser)
	require.NoError(t, err)
	assert.Equal(t, "fabrikam", got.TenantID)
	assert.ElementsMatch(t, []lockbox.Role{lockbox.RoleReader, lockbox.RoleApprover}, got.Roles)

	_, err = auth.New(t.Context(), auth.Options{JWKSURL: p.srv.URL})
	assert.Error(t, err, "a JWKS without issuer and audience is refused")
}

// Tokens of the identity provider's keys are not remembered: once the IdP
// withdraws a key (and a token of a new key makes the verifier refresh), a
// token of the withdrawn key is refused though it passed before.
func TestJWKSTokensAreNotRemembered(t *testing.T) {
	p := newIDP(t)
	old := ecSigner(t)
	p.publish("key-1", old)
	v := oidcVerifier(t, p, auth.Options{})
	h := sign(t, old, "key-1", claims())
	_, err := v.Authenticate(h, nil, lockbox.KindUser)
	require.NoError(t, err)
	next := ecSigner(t)
	p.publish("key-2", next)
	p.withdraw("key-1")
	_, err = v.Authenticate(sign(t, next, "key-2", claims()), nil, lockbox.KindUser)
	require.NoError(t, err, "the new key is fetched")
	_, err = v.Authenticate(h, nil, lockbox.KindUser)
	require.Error(t, err, "the withdrawn key's token is checked again, and refused")
}
