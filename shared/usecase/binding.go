package usecase

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/sshca"
)

// Check answers a proxy's forward-authentication call (lockbox-check): may
// the engineer p reach in.ResourceID of in.TenantID at in.AccessLevel? Yes
// exactly while a grant of theirs naming the resource, at a level covering
// the one asked, is live: an approval, an expiry or a revoke is seen by the
// next check, nothing cached. An allowed check counts toward the grant's
// usage in the same atomic step. Errors: KindInvalid, KindForbidden (with
// the refusal's code), KindUnavailable (the proxy must then refuse: fail
// closed).
func (s *Service) Check(ctx context.Context, p lockbox.Principal, in lockbox.CheckInput) (lockbox.CheckResult, error) {
	if err := lockbox.AuthorizeCheck(p); err != nil {
		return lockbox.CheckResult{}, err
	}
	if err := in.Validate(); err != nil {
		return lockbox.CheckResult{}, err
	}
	res, err := s.Store.Check(ctx, in.TenantID, p.Subject, in, s.now())
	if err != nil {
		return lockbox.CheckResult{}, err
	}
	if !res.Allowed {
		e := lockbox.ErrRefused(res)
		return res, e
	}
	return res, nil
}

// CredentialConfig configures the SSH certificates lockbox-credential
// issues.
type CredentialConfig struct {
	CA *sshca.CA
	// TTL bounds a certificate's life (ssh_cert_ttl, default 1h): it ends at
	// the earlier of the grant's end and TTL from now.
	TTL time.Duration
	// Extensions are the certificate's permissions (default permit-pty).
	Extensions []string
}

// DefaultCertTTL is ssh_cert_ttl's default.
const DefaultCertTTL = time.Hour

// Credential is an SSH certificate lockbox-credential issued.
type Credential struct {
	// Certificate is the certificate's authorized_keys line, to be saved
	// as <key>-cert.pub next to the engineer's key.
	Certificate string    `json:"certificate"`
	Serial      uint64    `json:"serial"`
	KeyID       string    `json:"keyId"`
	Principals  []string  `json:"principals"`
	ValidAfter  time.Time `json:"validAfter"`
	ValidBefore time.Time `json:"validBefore"`
}

// IssueCredential issues an OpenSSH user certificate for in.PublicKey
// under the live grant of in.RequestID (lockbox-credential): only to the
// request's requester, only while its grant lives. Its principals are the
// grant's resource ids (each VM's AuthorizedPrincipalsFile lists its own
// id), its key id "<tenant>/<requestId>/<engineer>", and it is valid from a
// minute ago (clock skew) until the earlier of the grant's end and the TTL
// from now; the issue is recorded (IssueLockboxCredential) and counted in
// the grant's usage in one atomic step before the certificate is signed.
// A certificate already issued stays valid until its validBefore: a revoke
// stops renewals, not a certificate. Errors: KindInvalid, KindForbidden
// (not live: ErrGrantNotLive), KindNotFound (not the caller's request),
// KindUnavailable.
func (s *Service) IssueCredential(ctx context.Context, p lockbox.Principal, cfg CredentialConfig, in lockbox.CredentialInput) (Credential, error) {
	if err := lockbox.AuthorizeCredential(p); err != nil {
		return Credential{}, err
	}
	if err := in.Validate(); err != nil {
		return Credential{}, err
	}
	key, err := sshca.ParseUserKey(in.PublicKey)
	if err != nil {
		return Credential{}, lockbox.Invalidf("%v", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	serial := binary.BigEndian.Uint64(b[:]) >> 1
	now := s.now().UTC().Truncate(time.Second)
	r, err := s.Store.IssueCredential(ctx, in.TenantID, in.RequestID, p.Subject,
		lockbox.Credential{Serial: serial, Fingerprint: ssh.FingerprintSHA256(key)}, now)
	if err != nil {
		return Credential{}, err
	}
	ttl := cfg.TTL
	if ttl <= 0 {
		ttl = DefaultCertTTL
	}
	until := now.Add(ttl)
	if r.AccessExpirationDateTime != nil && r.AccessExpirationDateTime.Before(until) {
		until = *r.AccessExpirationDateTime
	}
	ext := cfg.Extensions
	if len(ext) == 0 {
		ext = []string{"permit-pty"}
	}
	c := Credential{Serial: serial, KeyID: in.TenantID + "/" + r.RequestID + "/" + p.Subject, Principals: r.ResourceIDs,
		ValidAfter: now.Add(-time.Minute), ValidBefore: until.UTC().Truncate(time.Second)}
	cert, err := cfg.CA.Sign(sshca.Request{PublicKey: key, Serial: serial, KeyID: c.KeyID, Principals: c.Principals,
		ValidAfter: c.ValidAfter, ValidBefore: c.ValidBefore, Extensions: ext})
	if err != nil {
		return Credential{}, lockbox.Internal("sign a certificate", err)
	}
	c.Certificate = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert))) + " " + c.KeyID
	s.Log.Info("lockbox credential issued", "tenantId", in.TenantID, "requestId", r.RequestID, "serial", serial, "by", p.Subject,
		"validBefore", c.ValidBefore)
	return c, nil
}
