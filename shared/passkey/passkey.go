// Package passkey is the WebAuthn relying party of Lockbox's
// passkey-signed decisions, over github.com/go-webauthn/webauthn: the
// registration ceremony of an approver's passkey, the verification of an
// assertion over a decision statement (lockbox.Statement) when the decision
// is made, and the same verification offline, from a kept
// lockbox.PasskeySignature and an export of the registered public keys
// (auditverify -passkeys).
//
// Every ceremony requires user verification (the authenticator's PIN or
// biometrics): a passkey signature says that the person holding the
// authenticator approved exactly the statement.
package passkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/webauthn"

	"lockbox.dev/shared/lockbox"
)

// RP is the relying party: its id (a host name, e.g. the portal's) and the
// origins its pages run on.
type RP struct {
	ID      string
	Origins []string
	wa      *webauthn.WebAuthn
}

// New returns the relying party rpID with origins.
func New(rpID string, origins []string) (*RP, error) {
	wa, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Lockbox", RPOrigins: origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationRequired}})
	if err != nil {
		return nil, fmt.Errorf("passkey relying party %q: %w", rpID, err)
	}
	return &RP{ID: rpID, Origins: origins, wa: wa}, nil
}

// User is a person registering or using passkeys in a tenant.
type User struct {
	Tenant, Subject, Key string
	Passkeys             []lockbox.Passkey
}

// Handle is the WebAuthn user handle of the person with key in tenant: the
// SHA-256 of both, never shown.
func Handle(tenant, key string) []byte {
	h := sha256.Sum256([]byte("lockbox passkey user\n" + tenant + "\n" + key))
	return h[:]
}

type waUser struct{ u User }

func (w waUser) WebAuthnID() []byte          { return Handle(w.u.Tenant, w.u.Key) }
func (w waUser) WebAuthnName() string        { return w.u.Subject }
func (w waUser) WebAuthnDisplayName() string { return w.u.Subject + " (" + w.u.Tenant + ")" }
func (w waUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(w.u.Passkeys))
	for _, pk := range w.u.Passkeys {
		id, _ := lockbox.DecodeB64URL(pk.ID)
		key, _ := lockbox.DecodeB64URL(pk.PublicKey)
		out = append(out, webauthn.Credential{ID: id, PublicKey: key})
	}
	return out
}

// BeginRegistration starts registering a passkey for u: the options for
// navigator.credentials.create (the "publicKey" member, JSON) and the
// ceremony's state, to be handed back to FinishRegistration (the caller
// keeps it where only u's session can read it).
func (rp *RP) BeginRegistration(u User) (options, state []byte, err error) {
	creation, sess, err := rp.wa.BeginRegistration(waUser{u},
		webauthn.WithExclusions(webauthn.Credentials(waUser{u}.WebAuthnCredentials()).CredentialDescriptors()),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationRequired}))
	if err != nil {
		return nil, nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	if options, err = json.Marshal(creation.Response); err != nil {
		return nil, nil, err
	}
	if state, err = json.Marshal(sess); err != nil {
		return nil, nil, err
	}
	return options, state, nil
}

// FinishRegistration checks the authenticator's answer (the
// PublicKeyCredential as JSON, its binary members base64url) against the
// ceremony's state and returns the passkey to store, named name.
// Errors: KindInvalid (the answer does not verify, or the state expired).
func (rp *RP) FinishRegistration(u User, state, response []byte, name string, now time.Time) (lockbox.Passkey, error) {
	var sess webauthn.SessionData
	if err := json.Unmarshal(state, &sess); err != nil {
		return lockbox.Passkey{}, lockbox.Invalidf("the registration expired: start again")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return lockbox.Passkey{}, lockbox.Invalidf("the authenticator's answer cannot be read: %s", detail(err))
	}
	cred, err := rp.wa.CreateCredential(waUser{u}, sess, parsed)
	if err != nil {
		return lockbox.Passkey{}, lockbox.Invalidf("the passkey was not registered: %s", detail(err))
	}
	alg := int64(0)
	if parsed.Response.AttestationObject.AuthData.AttData.CredentialPublicKey != nil {
		var k struct {
			Alg int64 `cbor:"3,keyasint"`
		}
		_ = webauthncbor.Unmarshal(parsed.Response.AttestationObject.AuthData.AttData.CredentialPublicKey, &k)
		alg = k.Alg
	}
	pk := lockbox.Passkey{ID: b64(cred.ID), PublicKey: b64(cred.PublicKey), Algorithm: alg, Name: name, Subject: u.Subject,
		UserKey: u.Key, SignCount: cred.Authenticator.SignCount, Created: now.UTC().Truncate(time.Millisecond)}
	if len(cred.Authenticator.AAGUID) == 16 && !bytes.Equal(cred.Authenticator.AAGUID, make([]byte, 16)) {
		a := cred.Authenticator.AAGUID
		pk.AAGUID = fmt.Sprintf("%x-%x-%x-%x-%x", a[0:4], a[4:6], a[6:8], a[8:10], a[10:16])
	}
	return pk, nil
}

// AssertionOptions are the options for navigator.credentials.get that sign
// a statement with one of u's passkeys (the page fills in the challenge,
// the statement's digest, when the decider has written it).
func (rp *RP) AssertionOptions(u User) map[string]any {
	allow := make([]map[string]any, 0, len(u.Passkeys))
	for _, pk := range u.Passkeys {
		allow = append(allow, map[string]any{"type": "public-key", "id": pk.ID})
	}
	return map[string]any{"rpId": rp.ID, "allowCredentials": allow, "userVerification": "required", "timeout": 120000}
}

// Verify checks assertion a, by passkey pk of u, over challenge (a
// statement's digest), and returns the authenticator's counter.
// Errors: KindForbidden (ErrPasskeyRefused).
func (rp *RP) Verify(challenge [32]byte, a lockbox.PasskeyAssertion, pk lockbox.Passkey, u User) (uint32, error) {
	if a.UserHandle != "" {
		h, _ := lockbox.DecodeB64URL(a.UserHandle)
		if !bytes.Equal(h, Handle(u.Tenant, u.Key)) {
			return 0, lockbox.ErrPasskeyRefused("the passkey belongs to someone else")
		}
	}
	return verify(rp.ID, rp.Origins, challenge, pk, a.CredentialID, a.AuthenticatorData, a.ClientDataJSON, a.Signature)
}

// VerifySignature checks a kept signature offline: that its statement
// parses and hashes to its digest, and that the registered passkey pk
// (from the export) signed that digest for relying party rpID on one of
// origins, with the person verified.
func VerifySignature(sig lockbox.PasskeySignature, pk lockbox.Passkey, rpID string, origins []string) error {
	st, err := lockbox.DecodeStatement([]byte(sig.Statement))
	if err != nil {
		return err
	}
	d := st.Digest()
	if fmt.Sprintf("%x", d) != sig.Digest {
		return errors.New("the statement does not hash to the recorded digest")
	}
	if sig.CredentialID != pk.ID {
		return errors.New("the signature names another passkey")
	}
	if _, err := verify(rpID, origins, d, pk, sig.CredentialID, sig.AuthenticatorData, sig.ClientDataJSON, sig.Signature); err != nil {
		return err
	}
	return nil
}

// verify is the assertion check both Verify and VerifySignature make, by
// go-webauthn's §7.2 steps: clientDataJSON's type, challenge and origin,
// the authenticator data's rpIdHash and UP and UV flags, and the signature
// over authenticatorData ‖ SHA-256(clientDataJSON) with pk's public key.
func verify(rpID string, origins []string, challenge [32]byte, pk lockbox.Passkey, credID, authData, clientData, signature string) (uint32, error) {
	body, err := json.Marshal(map[string]any{"id": credID, "rawId": credID, "type": "public-key",
		"response": map[string]string{"authenticatorData": authData, "clientDataJSON": clientData, "signature": signature}})
	if err != nil {
		return 0, lockbox.ErrPasskeyRefused("the assertion cannot be read")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return 0, lockbox.ErrPasskeyRefused("the assertion cannot be read: " + detail(err))
	}
	if b64(parsed.RawID) != pk.ID {
		return 0, lockbox.ErrPasskeyRefused("the assertion names another passkey")
	}
	key, err := lockbox.DecodeB64URL(pk.PublicKey)
	if err != nil {
		return 0, lockbox.ErrPasskeyRefused("the registered public key cannot be read")
	}
	if err := parsed.Verify(base64.RawURLEncoding.EncodeToString(challenge[:]), rpID, "", origins, nil, nil,
		protocol.TopOriginExplicitVerificationMode, false, true, true, key, protocol.SignaturePolicy{}); err != nil {
		return 0, lockbox.ErrPasskeyRefused(detail(err))
	}
	return parsed.Response.AuthenticatorData.Counter, nil
}

// detail is what a go-webauthn error says, for the caller.
func detail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.DevInfo != "" {
			return pe.Details + " (" + pe.DevInfo + ")"
		}
		return pe.Details
	}
	return err.Error()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// ExportVersion names the export's layout.
const ExportVersion = "lockbox-passkeys-v1"

// Export is a tenant's registered passkeys, removed ones included, and the
// relying party they were registered with: the keys file auditverify
// -passkeys reads.
type Export struct {
	Version    string            `json:"version"`
	TenantID   string            `json:"tenantId"`
	RPID       string            `json:"rpId"`
	Origins    []string          `json:"origins"`
	ExportedAt time.Time         `json:"exportedAt"`
	Passkeys   []lockbox.Passkey `json:"passkeys"`
}

// Find returns the passkey of the export with credential id, if any.
func (e Export) Find(id string) (lockbox.Passkey, bool) {
	for _, pk := range e.Passkeys {
		if pk.ID == id {
			return pk, true
		}
	}
	return lockbox.Passkey{}, false
}
