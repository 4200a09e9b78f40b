package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// Header names of the vendors' webhooks.
const (
	HeaderJiraSignature     = "X-Hub-Signature"
	HeaderJiraDelivery      = "X-Atlassian-Webhook-Identifier"
	HeaderGitHubSignature   = "X-Hub-Signature-256"
	HeaderGitHubDelivery    = "X-GitHub-Delivery"
	HeaderGitHubEvent       = "X-GitHub-Event"
	HeaderZendeskSignature  = "X-Zendesk-Webhook-Signature"
	HeaderZendeskTimestamp  = "X-Zendesk-Webhook-Signature-Timestamp"
	HeaderZendeskInvocation = "X-Zendesk-Webhook-Invocation-Id"
	HeaderZendeskWebhook    = "X-Zendesk-Webhook-Id"
	headerAuthorization     = "Authorization"
)

// MaxSkew is how far a Zendesk signature's timestamp may be from now,
// either way.
const MaxSkew = 5 * time.Minute

// Bounds of what a verifier reads from headers.
const (
	maxDeliveryIDLen = 128
	maxTimestampLen  = 64
	hexPrefix        = "sha256="
)

// Delivery identifies a verified delivery, for de-duplication.
type Delivery struct {
	// ID is the vendor's delivery id (X-Atlassian-Webhook-Identifier,
	// X-GitHub-Delivery, X-Zendesk-Webhook-Invocation-Id, a ServiceNow
	// source's deliveryHeader), or, when the delivery carries none, one
	// derived from it (Derived): the hex SHA-256 of the verified signature,
	// or of the body for basic auth.
	ID      string
	Derived bool
	// SignatureHash is the hex SHA-256 of the verified MAC ("" for basic
	// auth): the same signed bytes seen again have the same hash, whatever
	// their delivery id says (lockbox.CreateOptions.SignatureHash).
	SignatureHash string
}

// Principal is who a delivery of the source, verified as d, acts as: the
// service "intake:<source>", asserting the source's kind as its work item
// source (lockbox.Request.FiledAs).
func (s *Source) Principal(d Delivery) lockbox.Principal {
	return lockbox.Principal{Kind: lockbox.KindService, Subject: lockbox.IntakePrefix + s.Name, Source: string(s.Kind),
		SignatureHash: d.SignatureHash}
}

// secret is a configured secret. It never prints.
type secret []byte

// String hides the secret from fmt.
func (secret) String() string { return "[redacted]" }

// GoString hides the secret from fmt's %#v.
func (secret) GoString() string { return "[redacted]" }

var unauthorized = lockbox.Unauthorizedf

// errNoMatch is the one answer to a well-formed signature that no secret
// produced: it says nothing of which secret, or why.
func errNoMatch() error { return unauthorized("signature does not match") }

// Verify checks the delivery's signature exactly as its vendor documents
// it, before anything of the body is parsed, against every secret of the
// source (in constant time, each one tried whichever matches). It returns
// the delivery's identity. Errors: KindUnauthorized.
func (s *Source) Verify(h http.Header, body []byte, now time.Time) (Delivery, error) {
	switch s.Kind {
	case KindJira:
		return s.verifyHex(h, body, HeaderJiraSignature, HeaderJiraDelivery)
	case KindGitHub:
		return s.verifyHex(h, body, HeaderGitHubSignature, HeaderGitHubDelivery)
	case KindZendesk:
		return s.verifyZendesk(h, body, now)
	case KindServiceNow:
		if s.ServiceNow != nil && s.ServiceNow.Auth == AuthBasic {
			return s.verifyBasic(h, body)
		}
		return s.verifyServiceNowHMAC(h, body)
	}
	return Delivery{}, lockbox.Internal("verify an intake delivery", fmt.Errorf("source %q has no kind", s.Name))
}

// verifyHex checks sigHeader: sha256=<hex HMAC-SHA256(secret, body)>, in
// lower-case hex only (as the vendors send it, and like the rest of
// Lockbox), so that one delivery has one signature.
func (s *Source) verifyHex(h http.Header, body []byte, sigHeader, idHeader string) (Delivery, error) {
	v, err := single(h, sigHeader)
	if err != nil {
		return Delivery{}, err
	}
	hexSig, ok := strings.CutPrefix(v, hexPrefix)
	got, decErr := hex.DecodeString(hexSig)
	if !ok || decErr != nil || len(got) != sha256.Size || hex.EncodeToString(got) != hexSig {
		return Delivery{}, unauthorized("%s must be sha256=<64 lower-case hex digits>", sigHeader)
	}
	if !s.matches(got, func(k secret) []byte { return sum(k, body) }) {
		return Delivery{}, errNoMatch()
	}
	return delivery(h, idHeader, got), nil
}

// verifyZendesk checks X-Zendesk-Webhook-Signature:
// base64(HMAC-SHA256(secret, timestamp + body)), the timestamp
// (X-Zendesk-Webhook-Signature-Timestamp, RFC 3339) within MaxSkew of now.
func (s *Source) verifyZendesk(h http.Header, body []byte, now time.Time) (Delivery, error) {
	sig, err := single(h, HeaderZendeskSignature)
	if err != nil {
		return Delivery{}, err
	}
	ts, err := single(h, HeaderZendeskTimestamp)
	if err != nil {
		return Delivery{}, err
	}
	got, err := decodeBase64MAC(sig, HeaderZendeskSignature)
	if err != nil {
		return Delivery{}, err
	}
	if err := checkTimestamp(ts, now); err != nil {
		return Delivery{}, err
	}
	if !s.matches(got, func(k secret) []byte { return sum(k, []byte(ts), body) }) {
		return Delivery{}, errNoMatch()
	}
	return delivery(h, HeaderZendeskInvocation, got), nil
}

func checkTimestamp(ts string, now time.Time) error {
	if len(ts) > maxTimestampLen {
		return unauthorized("%s must be an RFC 3339 time", HeaderZendeskTimestamp)
	}
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return unauthorized("%s must be an RFC 3339 time", HeaderZendeskTimestamp)
	}
	if skew := now.Sub(t); skew > MaxSkew || skew < -MaxSkew {
		return unauthorized("signature timestamp is more than 5 minutes away from now")
	}
	return nil
}

// verifyServiceNowHMAC checks the configured header: base64(HMAC-SHA256(
// secret, body)).
func (s *Source) verifyServiceNowHMAC(h http.Header, body []byte) (Delivery, error) {
	header := DefaultServiceNowHeader
	if s.ServiceNow != nil && s.ServiceNow.Header != "" {
		header = s.ServiceNow.Header
	}
	sig, err := single(h, header)
	if err != nil {
		return Delivery{}, err
	}
	got, err := decodeBase64MAC(sig, header)
	if err != nil {
		return Delivery{}, err
	}
	if !s.matches(got, func(k secret) []byte { return sum(k, body) }) {
		return Delivery{}, errNoMatch()
	}
	return delivery(h, s.deliveryHeader(), got), nil
}

// verifyBasic checks Authorization: Basic with the configured user name and
// one of the secrets as the password. Both are compared as SHA-256 digests,
// so that not even their lengths show in the time taken.
func (s *Source) verifyBasic(h http.Header, body []byte) (Delivery, error) {
	if _, err := single(h, headerAuthorization); err != nil {
		return Delivery{}, err
	}
	user, pass, ok := (&http.Request{Header: h}).BasicAuth()
	if !ok {
		return Delivery{}, unauthorized("Authorization must be Basic <base64 of user:password>")
	}
	userSum, wantUser := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(s.ServiceNow.Username))
	passSum := sha256.Sum256([]byte(pass))
	userOK := subtle.ConstantTimeCompare(userSum[:], wantUser[:])
	passOK := 0
	for _, k := range s.secrets {
		want := sha256.Sum256(k)
		passOK |= subtle.ConstantTimeCompare(passSum[:], want[:])
	}
	if userOK&passOK != 1 {
		return Delivery{}, unauthorized("user name or password does not match")
	}
	d := Delivery{}
	if id, ok := deliveryID(h, s.deliveryHeader()); ok {
		d.ID = id
	} else {
		b := sha256.Sum256(body)
		d.ID, d.Derived = hex.EncodeToString(b[:]), true
	}
	return d, nil
}

func (s *Source) deliveryHeader() string {
	if s.ServiceNow == nil {
		return ""
	}
	return s.ServiceNow.DeliveryHeader
}

// matches reports whether got is the MAC of one of the secrets, trying
// every secret whichever matches.
func (s *Source) matches(got []byte, mac func(secret) []byte) bool {
	ok := 0
	for _, k := range s.secrets {
		ok |= subtle.ConstantTimeCompare(got, mac(k))
	}
	return ok == 1
}

// sum is HMAC-SHA256(key, parts...).
func sum(key secret, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// decodeBase64MAC reads a base64 HMAC-SHA256 in its one canonical spelling
// (standard alphabet, padded).
func decodeBase64MAC(v, header string) ([]byte, error) {
	got, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(got) != sha256.Size || base64.StdEncoding.EncodeToString(got) != v {
		return nil, unauthorized("%s must be the base64 of an HMAC-SHA256 (44 characters)", header)
	}
	return got, nil
}

// single returns the one value of header name: missing, empty or repeated
// is refused.
func single(h http.Header, name string) (string, error) {
	vs := h.Values(name)
	switch {
	case len(vs) == 0 || (len(vs) == 1 && vs[0] == ""):
		return "", unauthorized("missing %s", name)
	case len(vs) > 1:
		return "", unauthorized("send %s once", name)
	}
	return vs[0], nil
}

// delivery identifies a delivery verified by mac: by the vendor's id in
// idHeader, else by the hash of mac.
func delivery(h http.Header, idHeader string, mac []byte) Delivery {
	b := sha256.Sum256(mac)
	d := Delivery{SignatureHash: hex.EncodeToString(b[:])}
	if id, ok := deliveryID(h, idHeader); ok {
		d.ID = id
	} else {
		d.ID, d.Derived = d.SignatureHash, true
	}
	return d
}

// deliveryID returns the delivery id in header name when there is exactly
// one of 1..128 printable ASCII characters; anything else counts as none.
func deliveryID(h http.Header, name string) (string, bool) {
	if name == "" {
		return "", false
	}
	vs := h.Values(name)
	if len(vs) != 1 || vs[0] == "" || len(vs[0]) > maxDeliveryIDLen || !printableASCII(vs[0]) {
		return "", false
	}
	return vs[0], true
}
