// Package auth authenticates callers: systems by an HMAC signature over the
// raw request (webhooks), people and tools by an HS256 bearer token. Both are
// checked before anything of the request is parsed, and every comparison of
// secret material is constant-time.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

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

// Methods is a set of authentication methods a function accepts.
type Methods uint8

// The methods.
const (
	HMAC   Methods = 1 << iota // X-Lockbox-Signature over timestamp + "." + payload
	Bearer                     // Authorization: Bearer <HS256 JWT>
)

// Verifier checks credentials.
type Verifier struct {
	webhookSecrets [][]byte
	jwtSecrets     [][]byte
	issuer         string
	audience       string
	now            func() time.Time
}

// NewVerifier returns a verifier. Each method accepts any of its keys (the
// current one and, during a rotation, the previous ones); no keys disables the
// method (its credentials are refused). issuer and audience are enforced when
// not empty.
func NewVerifier(webhookSecrets, jwtSecrets [][]byte, issuer, audience string, now func() time.Time) *Verifier {
	return &Verifier{webhookSecrets: webhookSecrets, jwtSecrets: jwtSecrets, issuer: issuer, audience: audience, now: now}
}

func unauthorized(format string, args ...any) error {
	return lockbox.Errorf(lockbox.KindUnauthorized, "Unauthorized", format, args...)
}

// Authenticate identifies the caller of a request with headers h. payload is
// what a webhook signature covers: the raw body, or for a request without a
// body (GET) the raw query string. Only the methods in allow are accepted.
// Errors: KindUnauthorized.
func (v *Verifier) Authenticate(h http.Header, payload []byte, allow Methods) (lockbox.Principal, error) {
	authz, sig := h.Get("Authorization"), h.Get(HeaderSignature)
	switch {
	case authz != "" && sig != "":
		return lockbox.Principal{}, unauthorized("send either a signature or a bearer token, not both")
	case sig != "" && allow&HMAC != 0 && len(v.webhookSecrets) > 0:
		if err := v.verifySignature(h.Get(HeaderTimestamp), sig, payload); err != nil {
			return lockbox.Principal{}, err
		}
		return lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook"}, nil
	case authz != "" && allow&Bearer != 0 && len(v.jwtSecrets) > 0:
		return v.verifyToken(authz)
	case sig != "" || authz != "":
		return lockbox.Principal{}, unauthorized("this function does not accept that kind of credential")
	}
	return lockbox.Principal{}, unauthorized("missing credentials: send %s and %s, or Authorization: Bearer", HeaderTimestamp, HeaderSignature)
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

func (v *Verifier) verifySignature(tsHeader, sigHeader string, payload []byte) error {
	if len(tsHeader) == 0 || len(tsHeader) > 12 || strings.TrimLeft(tsHeader, "0123456789") != "" {
		return unauthorized("%s must be unix seconds", HeaderTimestamp)
	}
	ts, _ := strconv.ParseInt(tsHeader, 10, 64)
	if skew := v.now().Sub(time.Unix(ts, 0)); skew > MaxSkew || skew < -MaxSkew {
		return unauthorized("signature timestamp is more than 5 minutes away from now")
	}
	hexSig, ok := strings.CutPrefix(sigHeader, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return unauthorized("%s must be sha256=<64 hex digits>", HeaderSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return unauthorized("%s must be sha256=<64 hex digits>", HeaderSignature)
	}
	// Every key is tried, so the time taken does not depend on which matched.
	matched := false
	for _, secret := range v.webhookSecrets {
		matched = hmac.Equal(got, mac(secret, tsHeader, payload)) || matched
	}
	if !matched {
		return unauthorized("signature does not match")
	}
	return nil
}

// Claims are the token claims Lockbox reads.
type Claims struct {
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles"`
	jwt.RegisteredClaims
}

func (v *Verifier) verifyToken(authz string) (lockbox.Principal, error) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || tok == "" || len(tok) > maxTokenLen {
		return lockbox.Principal{}, unauthorized("Authorization must be Bearer <token>")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.now),
	}
	if v.issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.issuer))
	}
	if v.audience != "" {
		opts = append(opts, jwt.WithAudience(v.audience))
	}
	var c Claims
	keys := jwt.VerificationKeySet{}
	for _, k := range v.jwtSecrets {
		keys.Keys = append(keys.Keys, k)
	}
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return keys, nil }, opts...)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return lockbox.Principal{}, unauthorized("token has expired")
	case err != nil:
		return lockbox.Principal{}, unauthorized("token is not valid")
	case !lockbox.ValidRequesterID(c.Subject):
		return lockbox.Principal{}, unauthorized("token has no valid sub claim")
	case !lockbox.ValidTenantID(c.TenantID):
		return lockbox.Principal{}, unauthorized("token has no valid tid claim")
	}
	p := lockbox.Principal{Kind: lockbox.KindUser, Subject: c.Subject, TenantID: c.TenantID}
	for _, r := range c.Roles {
		switch role := lockbox.Role(r); role {
		case lockbox.RoleApprover, lockbox.RoleReader, lockbox.RoleRequester, lockbox.RoleOperator:
			p.Roles = append(p.Roles, role)
		}
	}
	return p, nil
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
