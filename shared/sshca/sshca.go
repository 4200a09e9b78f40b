// Package sshca is Lockbox's SSH certificate authority: it signs OpenSSH
// user certificates for the engineers holding a live grant
// (lockbox-credential), with the first of its Ed25519 keys, and publishes
// the public key of every one of them for sshd's TrustedUserCAKeys, so that
// a key can be rotated in before it signs and kept trusted until the
// certificates it signed have expired.
package sshca

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// CA signs user certificates with its first key.
type CA struct {
	signers []ssh.Signer
}

// Parse reads the CA's keys from the secret lockbox-ssh-ca-key: one or more
// OpenSSH private keys ("-----BEGIN OPENSSH PRIVATE KEY-----", as
// `ssh-keygen -t ed25519 -N ”` writes them), the one that signs first.
// Only unencrypted Ed25519 keys are accepted. Every problem is reported.
func Parse(secret []byte) (*CA, error) {
	var ca CA
	var errs []error
	rest := secret
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "OPENSSH PRIVATE KEY" {
			errs = append(errs, fmt.Errorf("key %d is a %q block, not an OpenSSH private key", n, block.Type))
			continue
		}
		key, err := ssh.ParseRawPrivateKey(pem.EncodeToMemory(block))
		if err != nil {
			errs = append(errs, fmt.Errorf("key %d: %w", n, err))
			continue
		}
		ed, ok := key.(*ed25519.PrivateKey)
		if !ok {
			errs = append(errs, fmt.Errorf("key %d is a %T, not an Ed25519 key", n, key))
			continue
		}
		signer, err := ssh.NewSignerFromKey(*ed)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %d: %w", n, err))
			continue
		}
		ca.signers = append(ca.signers, signer)
	}
	if strings.TrimSpace(string(rest)) != "" {
		errs = append(errs, errors.New("the secret holds something other than OpenSSH private keys"))
	}
	if len(ca.signers) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("the secret holds no key: generate one with ssh-keygen -t ed25519 -N ''"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("lockbox-ssh-ca-key: %w", err)
	}
	return &ca, nil
}

// NewKey returns a new CA key as the secret holds it (an OpenSSH private
// key in PEM), for make run and tests.
func NewKey(comment string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(block), nil
}

// PublicKeys returns the authorized_keys line of every key, the signing
// one first, one a line: what sshd's TrustedUserCAKeys file holds.
func (ca *CA) PublicKeys() string {
	var b strings.Builder
	for _, s := range ca.signers {
		b.Write(ssh.MarshalAuthorizedKey(s.PublicKey()))
	}
	return b.String()
}

// Request is what a certificate states.
type Request struct {
	// PublicKey is the engineer's key the certificate is for.
	PublicKey ssh.PublicKey
	Serial    uint64
	KeyID     string
	// Principals are the names the certificate is valid for: the grant's
	// resource ids, each VM's AuthorizedPrincipalsFile listing its own.
	Principals              []string
	ValidAfter, ValidBefore time.Time
	// Extensions are the certificate's permissions, e.g. "permit-pty".
	Extensions []string
}

// Sign returns the user certificate r describes, signed with the first
// key, as an authorized_keys line ("<type>-cert-v01@openssh.com <base64>
// <comment>").
func (ca *CA) Sign(r Request) (*ssh.Certificate, error) {
	if r.PublicKey == nil {
		return nil, errors.New("sign certificate: no public key")
	}
	if _, isCert := r.PublicKey.(*ssh.Certificate); isCert {
		return nil, errors.New("sign certificate: the key is a certificate itself")
	}
	ext := make(map[string]string, len(r.Extensions))
	for _, e := range r.Extensions {
		ext[e] = ""
	}
	cert := &ssh.Certificate{
		Key: r.PublicKey, Serial: r.Serial, CertType: ssh.UserCert, KeyId: r.KeyID, ValidPrincipals: r.Principals,
		ValidAfter: unix(r.ValidAfter), ValidBefore: unix(r.ValidBefore), Permissions: ssh.Permissions{Extensions: ext},
	}
	if err := cert.SignCert(rand.Reader, ca.signers[0]); err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return cert, nil
}

// unix is t as a certificate's time: seconds since 1970, 0 before it.
func unix(t time.Time) uint64 {
	sec := t.Unix()
	if sec < 0 {
		return 0
	}
	return uint64(sec) // #nosec G115 -- not negative: checked above
}

// ParseUserKey reads an engineer's public key from its authorized_keys
// line ("ssh-ed25519 AAAA… comment"). Ed25519, ECDSA, the security-key
// variants of both, and RSA of at least 3072 bits are accepted; a
// certificate is not.
func ParseUserKey(line string) (ssh.PublicKey, error) {
	if len(line) > 16<<10 || strings.ContainsAny(line, "\r\n") {
		return nil, errors.New("publicKey must be one authorized_keys line")
	}
	key, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	switch {
	case err != nil:
		return nil, errors.New("publicKey is not an OpenSSH public key line, e.g. \"ssh-ed25519 AAAA… you@laptop\"")
	case len(options) > 0 || len(rest) > 0:
		return nil, errors.New("publicKey must be one key, without options")
	}
	switch key.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256:
		return key, nil
	case ssh.KeyAlgoRSA:
		if ck, ok := key.(ssh.CryptoPublicKey); ok {
			if rsaKey, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rsaKey.Size()*8 >= 3072 {
				return key, nil
			}
		}
		return nil, errors.New("publicKey: an RSA key must have at least 3072 bits; an Ed25519 key is better")
	}
	return nil, fmt.Errorf("publicKey: keys of type %s are not accepted; use an Ed25519 key", key.Type())
}
