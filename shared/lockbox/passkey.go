package lockbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PasskeyRequirement is a tenant's requirePasskey setting: which decisions
// (approve, deny, revoke) need a WebAuthn assertion from a passkey the
// decider registered. In JSON it is true (every request), false or absent
// (none), or a list of access levels (the requests filed for one of them,
// compared without case; a request that states no level matches none).
type PasskeyRequirement struct {
	All    bool
	Levels []string
}

// MarshalJSON writes true, false or the list of levels.
func (p PasskeyRequirement) MarshalJSON() ([]byte, error) {
	if len(p.Levels) > 0 && !p.All {
		return json.Marshal(p.Levels)
	}
	return json.Marshal(p.All)
}

// UnmarshalJSON reads true, false, null or a list of access levels.
func (p *PasskeyRequirement) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*p = PasskeyRequirement{}
		return nil
	case len(b) > 0 && b[0] == '[':
		var levels []string
		if err := json.Unmarshal(b, &levels); err != nil {
			return Invalidf("requirePasskey must be true, false or a list of access levels")
		}
		*p = PasskeyRequirement{Levels: levels}
		return nil
	}
	var all bool
	if err := json.Unmarshal(b, &all); err != nil {
		return Invalidf("requirePasskey must be true, false or a list of access levels")
	}
	*p = PasskeyRequirement{All: all}
	return nil
}

// Off reports whether no decision needs a passkey.
func (p *PasskeyRequirement) Off() bool { return p == nil || (!p.All && len(p.Levels) == 0) }

// Applies reports whether decisions on a request of accessLevel need a
// passkey.
func (p *PasskeyRequirement) Applies(accessLevel string) bool {
	if p.Off() {
		return false
	}
	if p.All {
		return true
	}
	return accessLevel != "" && slices.ContainsFunc(p.Levels, func(l string) bool { return strings.EqualFold(l, accessLevel) })
}

// Stored is the requirement as the store's scripts read it: "" (off), "*"
// (every request) or the lowercased levels each between newlines
// ("\nwrite\nadmin\n").
func (p *PasskeyRequirement) Stored() string {
	switch {
	case p.Off():
		return ""
	case p.All:
		return "*"
	}
	var b strings.Builder
	b.WriteByte('\n')
	for _, l := range p.Levels {
		b.WriteString(strings.ToLower(l))
		b.WriteByte('\n')
	}
	return b.String()
}

func (p *PasskeyRequirement) validate() error {
	if p == nil {
		return nil
	}
	if len(p.Levels) > maxMatchValues {
		return Invalidf("requirePasskey: at most %d access levels", maxMatchValues)
	}
	for i, l := range p.Levels {
		if !tokenPattern.MatchString(l) {
			return Invalidf("requirePasskey[%d] must be an access level: 1..128 characters of [A-Za-z0-9._-]", i)
		}
		if slices.IndexFunc(p.Levels, func(o string) bool { return strings.EqualFold(o, l) }) != i {
			return Invalidf("requirePasskey[%d] repeats %q", i, l)
		}
	}
	return nil
}

// String describes the requirement in words (a settings change's reason).
func (p *PasskeyRequirement) String() string {
	switch {
	case p.Off():
		return "off"
	case p.All:
		return "every decision"
	}
	return "decisions on " + strings.Join(p.Levels, ", ")
}

// StatementVersion starts every decision statement.
const StatementVersion = "lockbox-decision-v1"

// StatementMaxAge is how far a decision statement's time may be from the
// server's clock, either way; a statement is accepted once, so it is
// remembered for twice as long.
const StatementMaxAge = 5 * time.Minute

// StatementTimeFormat is the statement's time: RFC 3339 in UTC with
// milliseconds, what JavaScript's Date.prototype.toISOString writes.
const StatementTimeFormat = "2006-01-02T15:04:05.000Z"

// Statement is what a passkey signs for a decision: the tenant, the
// request, the action (approve, deny, revoke), the hours granted (nil when
// the approver does not shorten the request's duration, and for deny and
// revoke), the reason and the time the decider made it.
type Statement struct {
	TenantID  string
	RequestID string
	Action    Action
	Duration  *int
	Reason    string
	Time      time.Time
}

// Encode returns the canonical encoding of st: the line
// "lockbox-decision-v1", then one line per field, in the order tenant,
// request, action, duration, reason, time, each written as
// "<name>=<length in bytes of value>:<value>\n". The length makes the
// encoding unambiguous whatever the reason holds (new lines included);
// duration is the decimal hours or empty, time is StatementTimeFormat.
func (st Statement) Encode() []byte {
	dur := ""
	if st.Duration != nil {
		dur = strconv.Itoa(*st.Duration)
	}
	var b bytes.Buffer
	b.WriteString(StatementVersion + "\n")
	for _, f := range [][2]string{{"tenant", st.TenantID}, {"request", st.RequestID}, {"action", string(st.Action)},
		{"duration", dur}, {"reason", st.Reason}, {"time", st.Time.UTC().Format(StatementTimeFormat)}} {
		fmt.Fprintf(&b, "%s=%d:%s\n", f[0], len(f[1]), f[1])
	}
	return b.Bytes()
}

// Digest is the SHA-256 of the statement's encoding: the WebAuthn challenge
// the passkey signs.
func (st Statement) Digest() [32]byte { return sha256.Sum256(st.Encode()) }

// Challenge is Digest in base64url without padding, as clientDataJSON's
// challenge holds it.
func (st Statement) Challenge() string {
	d := st.Digest()
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// DecodeStatement parses an encoded statement, as Encode writes it, and
// only that: Encode of the result gives b back.
func DecodeStatement(b []byte) (Statement, error) {
	rest, ok := bytes.CutPrefix(b, []byte(StatementVersion+"\n"))
	if !ok {
		return Statement{}, fmt.Errorf("statement does not start with %s", StatementVersion)
	}
	vals := make([]string, 0, 6)
	for _, name := range []string{"tenant", "request", "action", "duration", "reason", "time"} {
		var ok bool
		if rest, ok = bytes.CutPrefix(rest, []byte(name+"=")); !ok {
			return Statement{}, fmt.Errorf("statement lacks %s", name)
		}
		i := bytes.IndexByte(rest, ':')
		if i < 1 || i > 6 {
			return Statement{}, fmt.Errorf("statement's %s has no length", name)
		}
		n, err := strconv.Atoi(string(rest[:i]))
		if err != nil || n < 0 || i+1+n >= len(rest) || rest[i+1+n] != '\n' || strconv.Itoa(n) != string(rest[:i]) {
			return Statement{}, fmt.Errorf("statement's %s has a wrong length", name)
		}
		vals = append(vals, string(rest[i+1:i+1+n]))
		rest = rest[i+2+n:]
	}
	if len(rest) != 0 {
		return Statement{}, fmt.Errorf("statement has trailing bytes")
	}
	st := Statement{TenantID: vals[0], RequestID: vals[1], Action: Action(vals[2]), Reason: vals[4]}
	if vals[3] != "" {
		d, err := strconv.Atoi(vals[3])
		if err != nil {
			return Statement{}, fmt.Errorf("statement's duration %q", vals[3])
		}
		st.Duration = &d
	}
	t, err := time.Parse(StatementTimeFormat, vals[5])
	if err != nil {
		return Statement{}, fmt.Errorf("statement's time %q", vals[5])
	}
	st.Time = t
	if !bytes.Equal(st.Encode(), b) {
		return Statement{}, fmt.Errorf("statement is not in canonical form")
	}
	return st, nil
}

// PasskeyAssertion is the passkey part of a decision's body: the time the
// decider made the statement (StatementTimeFormat) and the WebAuthn
// assertion over it, each binary value in base64url (padding optional),
// as navigator.credentials.get returns them.
type PasskeyAssertion struct {
	Time              string `json:"time"`
	CredentialID      string `json:"credentialId"`
	AuthenticatorData string `json:"authenticatorData"`
	ClientDataJSON    string `json:"clientDataJSON"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

// maxAssertionField bounds each base64url field of an assertion.
const maxAssertionField = 4096

// Validate checks the assertion's shape (not its signature).
func (a PasskeyAssertion) Validate() error {
	if _, err := time.Parse(StatementTimeFormat, a.Time); err != nil {
		return Invalidf("passkey.time must be the statement's time in UTC with milliseconds, e.g. 2026-12-07T09:00:00.000Z")
	}
	for name, v := range map[string]string{"credentialId": a.CredentialID, "authenticatorData": a.AuthenticatorData,
		"clientDataJSON": a.ClientDataJSON, "signature": a.Signature} {
		if _, err := DecodeB64URL(v); err != nil || v == "" || len(v) > maxAssertionField {
			return Invalidf("passkey.%s must be base64url of at most %d characters", name, maxAssertionField)
		}
	}
	if _, err := DecodeB64URL(a.UserHandle); err != nil || len(a.UserHandle) > maxAssertionField {
		return Invalidf("passkey.userHandle must be base64url")
	}
	return nil
}

// DecodeB64URL decodes base64url with or without padding.
func DecodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// PasskeySignature is a decision's passkey signature as kept with the
// request and in its audit event (SignLockboxDecision): the statement it
// signed, in full and as its digest, and the assertion, so that anyone with
// the registered public key can verify it offline.
type PasskeySignature struct {
	Action       Action    `json:"action"`
	By           string    `json:"by"`
	DateTime     time.Time `json:"dateTime"`
	Statement    string    `json:"statement"`
	Digest       string    `json:"statementSha256"` // hex
	CredentialID string    `json:"credentialId"`    // base64url, no padding
	// AuthenticatorData, ClientDataJSON and Signature are the assertion's,
	// in base64url without padding.
	AuthenticatorData string `json:"authenticatorData"`
	ClientDataJSON    string `json:"clientDataJSON"`
	Signature         string `json:"signature"`
	SignCount         uint32 `json:"signCount"`
}

// NewPasskeySignature records assertion a over st by the approver by.
func NewPasskeySignature(st Statement, by string, a PasskeyAssertion, signCount uint32, at time.Time) PasskeySignature {
	d := st.Digest()
	norm := func(s string) string {
		b, _ := DecodeB64URL(s)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return PasskeySignature{Action: st.Action, By: by, DateTime: at.UTC(), Statement: string(st.Encode()), Digest: hex.EncodeToString(d[:]),
		CredentialID: norm(a.CredentialID), AuthenticatorData: norm(a.AuthenticatorData), ClientDataJSON: norm(a.ClientDataJSON),
		Signature: norm(a.Signature), SignCount: signCount}
}

// JSON is the signature's JSON without HTML escaping: what the store keeps
// and the audit event's reason holds.
func (s PasskeySignature) JSON() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// PasskeyEvidence is what a decision signed with a passkey hands the store:
// the signature to keep with the request and in the audit event, and what
// the store checks and updates in the same step.
type PasskeyEvidence struct {
	Signature PasskeySignature
	// UserKey is the decider's key (Principal.Key): whose passkeys.
	UserKey string
	// SignCount is the authenticator's counter in the assertion; the
	// store refuses it unless it is above the one stored (both 0: an
	// authenticator without a counter).
	SignCount uint32
}

// ErrPasskeyRequired refuses a decision without a passkey assertion in a
// tenant whose settings require one.
func ErrPasskeyRequired() *Error {
	return Errorf(KindForbidden, "PasskeyRequired",
		"this tenant requires decisions to be signed with a passkey: register one in the portal and sign the decision with it (the passkey field)")
}

// ErrPasskeyRefused refuses an assertion that does not verify, or a
// statement already used; why is safe to show.
func ErrPasskeyRefused(why string) *Error {
	return Errorf(KindForbidden, "PasskeyInvalid", "the passkey signature is not accepted: %s", why)
}

// Passkey is a WebAuthn credential a person registered (in the portal) to
// sign their decisions in a tenant. A removed passkey signs nothing more,
// but its public key stays in the export, so that what it signed before can
// still be verified.
type Passkey struct {
	ID        string     `json:"credentialId"` // base64url, no padding
	PublicKey string     `json:"publicKey"`    // COSE_Key, base64url, no padding
	Algorithm int64      `json:"algorithm"`    // COSE algorithm, e.g. -7 (ES256)
	Name      string     `json:"name"`
	Subject   string     `json:"subject"` // the token's sub that registered it
	UserKey   string     `json:"userKey"` // Principal.Key of that person
	AAGUID    string     `json:"aaguid,omitempty"`
	SignCount uint32     `json:"signCount"`
	Created   time.Time  `json:"created"`
	Removed   *time.Time `json:"removed,omitempty"`
}

// MaxPasskeys is how many passkeys one person may hold in a tenant.
const MaxPasskeys = 10

// ValidPasskeyName reports whether s may name a passkey: 1..64 printable
// characters.
func ValidPasskeyName(s string) bool { return text(s, 1, 64, false) }

// PasskeyStore keeps the passkeys people registered (redisstore
// implements it).
type PasskeyStore interface {
	// AddPasskey stores pk for pk.UserKey in tenant; a person holds at most
	// MaxPasskeys (KindTooMany beyond), and a credential id once
	// (KindConflict). Errors: KindUnavailable.
	AddPasskey(ctx context.Context, tenant string, pk Passkey) error
	// Passkeys returns the live passkeys of userKey in tenant, oldest
	// first, with their counters.
	Passkeys(ctx context.Context, tenant, userKey string) ([]Passkey, error)
	// RemovePasskey marks passkey id of userKey removed at now; KindNotFound
	// when there is no such live passkey.
	RemovePasskey(ctx context.Context, tenant, userKey, id string, now time.Time) error
	// AllPasskeys returns every passkey ever registered in tenant, removed
	// ones included, for the export.
	AllPasskeys(ctx context.Context, tenant string) ([]Passkey, error)
}
