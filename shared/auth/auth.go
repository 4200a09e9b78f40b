// Package auth authenticates callers: systems by an HMAC signature over the
// raw request (webhooks), people and tools by an HS256 bearer token. Both are
// checked before anything of the request is parsed, and every comparison of
// secret material is constant-time.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"lockbox.dev/shared/lockbox"
)

// Header names of the webhook signature scheme.
const (
	HeaderTimestamp = "X-Lockbox-Timestamp"
	HeaderSignature = "X-Lockbox-Signature"
)

// MaxSkew is how far a signature's timestamp may be from now, either way.
const MaxSkew = 5 * time.Minute

// maxTokenLen bounds the bearer tokens we are willing to parse.
const maxTokenLen = 8 << 10

// Leeway is the clock skew allowed on a token's exp, nbf and iat.
const Leeway = 30 * time.Second

// Options configure a Verifier.
type Options struct {
	// WebhookSecrets verify signatures and JWTSecrets HS256 tokens: the
	// current key and, during a rotation, the previous ones. None disables
	// the method (its credentials are refused).
	WebhookSecrets [][]byte
	JWTSecrets     [][]byte
	// JWKSURL, when set, makes RS256, ES256 and EdDSA tokens of the
	// customer's identity provider verify against its published keys
	// (cached, refreshed hourly and when a token names an unknown kid).
	JWKSURL string
	// Issuer and Audience are enforced when set (always, with JWKSURL).
	Issuer, Audience string
	// TenantClaim and RolesClaim name the claims with the tenant and the
	// roles (default "tid" and "roles"; identity providers differ).
	TenantClaim, RolesClaim string
	// MaxLifetime bounds a token's lifetime: exp may be at most this long
	// after iat (or after now, for a token without iat). Default
	// DefaultMaxLifetime.
	MaxLifetime time.Duration
	Now         func() time.Time
}

// DefaultMaxLifetime is the longest token lifetime accepted unless
// configured otherwise (max_token_lifetime).
const DefaultMaxLifetime = 24 * time.Hour

// Verifier checks credentials.
type Verifier struct {
	o      Options
	jwks   keyfunc.Keyfunc // nil without JWKSURL
	algs   []string
	parser *jwt.Parser
	// verified remembers the HS256 tokens accepted (tokencache.go).
	verified verifiedTokens
	// match finds which configured key gives a MAC: everyKey, which tries
	// them all whatever matches. Tests count the keys it is handed.
	match func(keys [][]byte, want []byte, macOf func(key []byte) []byte) int
}

// New returns a verifier for o. ctx bounds the JWKS refresh goroutine.
func New(ctx context.Context, o Options) (*Verifier, error) {
	if o.TenantClaim == "" {
		o.TenantClaim = "tid"
	}
	if o.RolesClaim == "" {
		o.RolesClaim = "roles"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = DefaultMaxLifetime
	}
	v := &Verifier{o: o, match: everyKey}
	if len(o.JWTSecrets) > 0 {
		v.algs = append(v.algs, jwt.SigningMethodHS256.Alg())
	}
	if o.JWKSURL != "" {
		if o.Issuer == "" || o.Audience == "" {
			return nil, errors.New("jwt_jwks_url needs jwt_issuer and jwt_audience")
		}
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{o.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("jwks %s: %w", o.JWKSURL, err)
		}
		v.jwks = kf
		v.algs = append(v.algs, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg())
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs), // pinned: never "none", never what the token merely claims
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), // an iat in the future is refused
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(o.Now),
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// NewVerifier returns a verifier of webhook signatures and HS256 tokens
// only (no JWKS), which cannot fail.
func NewVerifier(webhookSecrets, jwtSecrets [][]byte, issuer, audience string, now func() time.Time) *Verifier {
	v, _ := New(context.Background(), Options{WebhookSecrets: webhookSecrets, JWTSecrets: jwtSecrets, Issuer: issuer, Audience: audience, Now: now})
	return v
}

var unauthorized = lockbox.Unauthorizedf

// Authenticate identifies the caller of a request with headers h: a signed
// system (lockbox.KindService) or a person or tool with a bearer token
// (lockbox.KindUser). Only principals of the kinds in accept are accepted.
// payload is what a webhook signature covers: the raw body, or for a request
// without a body (GET) the raw query string. Errors: KindUnauthorized.
func (v *Verifier) Authenticate(h http.Header, payload []byte, accept ...lockbox.PrincipalKind) (lockbox.Principal, error) {
	authz, sig := h.Get("Authorization"), h.Get(HeaderSignature)
	acceptsService, acceptsUser := slices.Contains(accept, lockbox.KindService), slices.Contains(accept, lockbox.KindUser)
	switch {
	case authz != "" && sig != "":
		return lockbox.Principal{}, unauthorized("send either a signature or a bearer token, not both")
	case sig != "" && acceptsService && len(v.o.WebhookSecrets) > 0:
		mac, err := v.verifySignature(h.Get(HeaderTimestamp), sig, payload)
		if err != nil {
			return lockbox.Principal{}, err
		}
		// Replays are recognised by the MAC itself, not by how it was spelt.
		sum := sha256.Sum256(mac)
		return lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook", SignatureHash: hex.EncodeToString(sum[:])}, nil
	case authz != "" && acceptsUser && len(v.algs) > 0:
		return v.verifyToken(authz)
	case sig != "" || authz != "":
		return lockbox.Principal{}, unauthorized("this function does not accept that kind of credential")
	}
	return lockbox.Principal{}, lockbox.ErrNoCredentials(fmt.Sprintf("missing credentials: send %s and %s, or Authorization: Bearer", HeaderTimestamp, HeaderSignature))
}

// Sign returns the X-Lockbox-Signature value for payload sent at unix time ts.
func Sign(secret []byte, ts int64, payload []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts, 10), payload))
}

func mac(secret []byte, ts string, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// verifySignature checks a signature header and returns the MAC it carries.
// Only the canonical spelling (lower-case hex) is accepted, so that one
// delivery has one signature.
func (v *Verifier) verifySignature(tsHeader, sigHeader string, payload []byte) ([]byte, error) {
	if len(tsHeader) == 0 || len(tsHeader) > 12 || strings.TrimLeft(tsHeader, "0123456789") != "" {
		return nil, unauthorized("%s must be unix seconds", HeaderTimestamp)
	}
	ts, _ := strconv.ParseInt(tsHeader, 10, 64)
	if skew := v.o.Now().Sub(time.Unix(ts, 0)); skew > MaxSkew || skew < -MaxSkew {
		return nil, unauthorized("signature timestamp is more than 5 minutes away from now")
	}
	hexSig, ok := strings.CutPrefix(sigHeader, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return nil, unauthorized("%s must be sha256=<64 lower-case hex digits>", HeaderSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || hex.EncodeToString(got) != hexSig {
		return nil, unauthorized("%s must be sha256=<64 lower-case hex digits>", HeaderSignature)
	}
	if v.match(v.o.WebhookSecrets, got, func(secret []byte) []byte { return mac(secret, tsHeader, payload) }) < 0 {
		return nil, unauthorized("signature does not match")
	}
	return got, nil
}

// everyKey returns the index of the first of keys whose MAC (macOf) is want,
// or -1. It computes and compares (hmac.Equal, constant-time) the MAC of
// every key whatever matches, so that the time taken does not tell which
// key, if any, matched.
func everyKey(keys [][]byte, want []byte, macOf func(key []byte) []byte) int {
	found := -1
	for i, key := range keys {
		if hmac.Equal(want, macOf(key)) && found < 0 {
			found = i
		}
	}
	return found
}

// Claims are the token claims Lockbox reads.
type Claims struct {
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles"`
	// AMR (how the person signed in) and Isolated (the default
	// isolated_identity_claim) are what the provider's policy checks.
	AMR      []string `json:"amr,omitempty"`
	Isolated bool     `json:"lockbox_isolated,omitempty"`
	jwt.RegisteredClaims
}

func (v *Verifier) verifyToken(authz string) (lockbox.Principal, error) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || tok == "" || len(tok) > maxTokenLen {
		return lockbox.Principal{}, unauthorized("Authorization must be Bearer <token>")
	}
	now := v.o.Now()
	sum := sha256.Sum256([]byte(tok))
	if p, ok := v.verified.get(sum, now); ok {
		return p, nil
	}
	claims := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(tok, claims, v.key)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return lockbox.Principal{}, unauthorized("token has expired")
	case err != nil:
		return lockbox.Principal{}, unauthorized("token is not valid")
	}
	if err := v.checkLifetime(claims); err != nil {
		return lockbox.Principal{}, err
	}
	sub, _ := claims.GetSubject()
	p, err := lockbox.UserFromClaims(sub, claims, v.o.TenantClaim, v.o.RolesClaim)
	if err != nil {
		return lockbox.Principal{}, err
	}
	if exp, _ := claims.GetExpirationTime(); exp != nil && t.Method.Alg() == jwt.SigningMethodHS256.Alg() {
		v.verified.put(sum, p, exp.Time, now)
	}
	return p, nil
}

// checkLifetime refuses a token that lives longer than MaxLifetime: from its
// iat, or from now when it has none (the parser already refused an iat in
// the future and a missing or past exp).
func (v *Verifier) checkLifetime(claims jwt.MapClaims) error {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return unauthorized("token has no valid exp claim")
	}
	from := v.o.Now()
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		from = iat.Time
	}
	if exp.Sub(from) > v.o.MaxLifetime+Leeway {
		return unauthorized("token lives longer than %s (max_token_lifetime)", v.o.MaxLifetime)
	}
	return nil
}

// key picks the keys a token may be checked with by its (already pinned)
// algorithm: an HS256 token only ever meets the HMAC secrets, an asymmetric
// one only the identity provider's public keys, so a public key can never be
// used as an HMAC secret.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if t.Method.Alg() == jwt.SigningMethodHS256.Alg() {
		return v.hmacKey(t)
	}
	if v.jwks == nil {
		return nil, errors.New("no identity provider keys configured")
	}
	return v.jwks.Keyfunc(t)
}

// hmacKey returns the secret that signed an HS256 token, found by trying
// every secret whatever matches (a jwt.VerificationKeySet would stop at the
// first that does); the parser then checks the signature with it.
func (v *Verifier) hmacKey(t *jwt.Token) (any, error) {
	dot := strings.LastIndexByte(t.Raw, '.')
	if dot < 0 {
		return nil, errors.New("token is not signed")
	}
	signed := t.Raw[:dot]
	i := v.match(v.o.JWTSecrets, t.Signature, func(secret []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(signed))
		return m.Sum(nil)
	})
	if i < 0 {
		return nil, errors.New("signature does not match")
	}
	return v.o.JWTSecrets[i], nil
}

// NewClaims returns the claims of a token for sub in tenant tid with roles,
// valid for ttl from now.
func NewClaims(sub, tid string, roles []string, now time.Time, ttl time.Duration) Claims {
	return Claims{TenantID: tid, Roles: roles, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
}

// Mint signs c as an HS256 token. The project's helpers and tests use it;
// production tokens come from the customer's identity provider.
func Mint(secret []byte, c Claims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
