// Package passkeytest is a software authenticator for tests: it answers
// WebAuthn registration and assertion ceremonies the way a platform
// authenticator does (a fresh ES256 key per credential, "none"
// attestation, the user present and verified, a counter that moves on),
// built here byte by byte from the specification (WebAuthn Level 2 §6.1
// authenticator data, §6.5 attestation object, §5.8.1 client data), so
// that the relying party's checks run against real ceremonies.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"lockbox.dev/shared/lockbox"
)

// Authenticator holds one credential once Register ran.
type Authenticator struct {
	Origin  string // the origin the "browser" reports
	RPID    string // the relying party id it signs for
	Key     *ecdsa.PrivateKey
	CredID  []byte
	Handle  []byte // the user handle it registered with
	Counter uint32
	// UV false leaves the user-verified flag off (a bare security key
	// touch).
	UV bool
}

// New returns an authenticator in a browser at origin, for rpID.
func New(origin, rpID string) *Authenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &Authenticator{Origin: origin, RPID: rpID, Key: key, CredID: id, UV: true}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// flags: UP (0x01), UV (0x04), AT (0x40).
func (a *Authenticator) flags(attested bool) byte {
	f := byte(0x01)
	if a.UV {
		f |= 0x04
	}
	if attested {
		f |= 0x40
	}
	return f
}

// authData is rpIdHash ‖ flags ‖ signCount (big-endian), then, when
// registering, the attested credential data: AAGUID (zero), the id's
// length (2 bytes), the id and the COSE public key.
func (a *Authenticator) authData(attested bool) []byte {
	h := sha256.Sum256([]byte(a.RPID))
	out := append([]byte{}, h[:]...)
	out = append(out, a.flags(attested))
	out = binary.BigEndian.AppendUint32(out, a.Counter)
	if attested {
		out = append(out, make([]byte, 16)...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.CredID))) // #nosec G115 -- 32 bytes
		out = append(out, a.CredID...)
		out = append(out, a.COSEKey()...)
	}
	return out
}

// COSEKey is the credential's public key as a COSE_Key (EC2, P-256, ES256).
func (a *Authenticator) COSEKey() []byte {
	raw, err := a.Key.PublicKey.Bytes() // 0x04 ‖ x ‖ y
	if err != nil {
		panic(err)
	}
	b, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		panic(err)
	}
	return b
}

func (a *Authenticator) clientData(typ string, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// Register answers navigator.credentials.create with options (the
// "publicKey" member as JSON) and returns the PublicKeyCredential as JSON.
func (a *Authenticator) Register(options []byte) []byte {
	var o struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		panic(fmt.Sprintf("registration options: %v", err))
	}
	a.Handle, _ = lockbox.DecodeB64URL(o.User.ID)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(true)})
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(map[string]any{"id": b64(a.CredID), "rawId": b64(a.CredID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(a.clientData("webauthn.create", o.Challenge)), "attestationObject": b64(att)}})
	return out
}

// Sign answers navigator.credentials.get with challenge: the counter moves
// on, and the assertion signs authenticatorData ‖ SHA-256(clientDataJSON).
func (a *Authenticator) Sign(challenge [32]byte) (authData, clientData, signature []byte) {
	a.Counter++
	authData = a.authData(false)
	clientData = a.clientData("webauthn.get", b64(challenge[:]))
	ch := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), ch[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.Key, digest[:])
	if err != nil {
		panic(err)
	}
	return authData, clientData, sig
}

// Assert signs st as made at st.Time and returns the passkey part of the
// decision's body.
func (a *Authenticator) Assert(st lockbox.Statement) *lockbox.PasskeyAssertion {
	ad, cd, sig := a.Sign(st.Digest())
	return &lockbox.PasskeyAssertion{Time: st.Time.UTC().Format(lockbox.StatementTimeFormat), CredentialID: b64(a.CredID),
		AuthenticatorData: b64(ad), ClientDataJSON: b64(cd), Signature: b64(sig), UserHandle: b64(a.Handle)}
}
