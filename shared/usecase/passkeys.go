package usecase

import (
	"context"
	"time"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/passkey"
)

// The passkey use cases: a decider registers, lists and removes their
// passkeys (the portal), anyone who may read a tenant's settings exports
// its public keys (for auditverify), and Decide and Revoke verify a
// decision's assertion (signed).

// AuthorizePasskeys decides whether p may hold passkeys: whoever may
// approve, deny or revoke (an approver or admin, never a requester or
// operator).
func AuthorizePasskeys(p lockbox.Principal) error {
	if lockbox.AuthorizeDecide(p) == nil || lockbox.AuthorizeRevoke(p) == nil {
		return nil
	}
	return lockbox.Forbiddenf("passkeys sign decisions: they need role %s or %s", lockbox.RoleApprover, lockbox.RoleAdmin)
}

// passkeysOn answers whether passkeys work here: a relying party configured
// and a store of passkeys linked.
func (s *Service) passkeysOn() error {
	if s.RP == nil || s.Passkeys == nil {
		return lockbox.ErrPasskeyRefused("passkeys are not configured on this deployment (portal_url or passkey_rp_id)")
	}
	return nil
}

// passkeyUser is p as the relying party sees them, with their live
// passkeys.
func (s *Service) passkeyUser(ctx context.Context, p lockbox.Principal) (passkey.User, error) {
	if err := AuthorizePasskeys(p); err != nil {
		return passkey.User{}, err
	}
	if err := s.passkeysOn(); err != nil {
		return passkey.User{}, err
	}
	list, err := s.Passkeys.Passkeys(ctx, p.TenantID, p.Key())
	if err != nil {
		return passkey.User{}, err
	}
	return passkey.User{Tenant: p.TenantID, Subject: p.Subject, Key: p.Key(), Passkeys: list}, nil
}

// MyPasskeys returns p's live passkeys in their tenant, and the options
// with which their browser signs a statement with one of them (nil when
// they hold none). Errors: KindForbidden, KindUnavailable.
func (s *Service) MyPasskeys(ctx context.Context, p lockbox.Principal) ([]lockbox.Passkey, map[string]any, error) {
	u, err := s.passkeyUser(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	if len(u.Passkeys) == 0 {
		return u.Passkeys, nil, nil
	}
	return u.Passkeys, s.RP.AssertionOptions(u), nil
}

// BeginPasskeyRegistration starts registering a passkey for p: the options
// for navigator.credentials.create and the ceremony's state, which the
// caller keeps where only p's session reads it.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, p lockbox.Principal) (options, state []byte, err error) {
	u, err := s.passkeyUser(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	return s.RP.BeginRegistration(u)
}

// FinishPasskeyRegistration verifies the authenticator's answer to the
// ceremony state began and stores the passkey, named name, recording
// RegisterLockboxPasskey. Errors: KindInvalid, KindForbidden, KindConflict
// (registered already), KindTooMany, KindUnavailable.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, p lockbox.Principal, state, response []byte, name string) (lockbox.Passkey, error) {
	if !lockbox.ValidPasskeyName(name) {
		return lockbox.Passkey{}, lockbox.Invalidf("name the passkey: 1..64 printable characters, e.g. \"YubiKey 5C\"")
	}
	u, err := s.passkeyUser(ctx, p)
	if err != nil {
		return lockbox.Passkey{}, err
	}
	pk, err := s.RP.FinishRegistration(u, state, response, name, s.now())
	if err != nil {
		return lockbox.Passkey{}, err
	}
	if err := s.Passkeys.AddPasskey(ctx, p.TenantID, pk); err != nil {
		return lockbox.Passkey{}, err
	}
	s.changed(p.TenantID)
	s.Log.Info("passkey registered", "tenantId", p.TenantID, "by", p.Subject, "credentialId", pk.ID)
	return pk, nil
}

// RemovePasskey removes p's passkey id (it signs nothing more; its public
// key stays in the export), recording RemoveLockboxPasskey.
// Errors: KindForbidden, KindNotFound, KindUnavailable.
func (s *Service) RemovePasskey(ctx context.Context, p lockbox.Principal, id string) error {
	if _, err := s.passkeyUser(ctx, p); err != nil {
		return err
	}
	if err := s.Passkeys.RemovePasskey(ctx, p.TenantID, p.Key(), id, s.now()); err != nil {
		return err
	}
	s.changed(p.TenantID)
	s.Log.Info("passkey removed", "tenantId", p.TenantID, "by", p.Subject, "credentialId", id)
	return nil
}

// PasskeyExport returns every passkey registered in the tenant p names (""
// for their own), removed ones included, with the relying party: what
// auditverify -passkeys verifies signatures against. Whoever may read the
// tenant's settings may export it. Errors: KindInvalid, KindForbidden,
// KindUnavailable.
func (s *Service) PasskeyExport(ctx context.Context, p lockbox.Principal, tenantID string) (passkey.Export, error) {
	tenant, err := lockbox.AuthorizeSettings(p, tenantID, false)
	if err != nil {
		return passkey.Export{}, err
	}
	if err := s.passkeysOn(); err != nil {
		return passkey.Export{}, err
	}
	all, err := s.Passkeys.AllPasskeys(ctx, tenant)
	if err != nil {
		return passkey.Export{}, err
	}
	return passkey.Export{Version: passkey.ExportVersion, TenantID: tenant, RPID: s.RP.ID, Origins: s.RP.Origins,
		ExportedAt: s.now().UTC().Truncate(time.Millisecond), Passkeys: all}, nil
}

// signed verifies the passkey assertion of a decision by p, if it carries
// one, and returns what the store keeps of it. Whether the tenant requires
// one is the store's to check, in the decision's own atomic step.
func (s *Service) signed(ctx context.Context, p lockbox.Principal, a lockbox.Action, in lockbox.DecisionInput) (*lockbox.PasskeyEvidence, error) {
	if in.Passkey == nil {
		return nil, nil
	}
	now := s.now()
	at, err := time.Parse(lockbox.StatementTimeFormat, in.Passkey.Time)
	if err != nil {
		return nil, lockbox.Invalidf("passkey.time must be the statement's time in UTC with milliseconds")
	}
	if d := now.Sub(at); d > lockbox.StatementMaxAge || d < -lockbox.StatementMaxAge {
		return nil, lockbox.ErrPasskeyRefused("the statement's time is more than 5 minutes from the server's clock: sign it again")
	}
	u, err := s.passkeyUser(ctx, p)
	if err != nil {
		return nil, err
	}
	id, _ := lockbox.DecodeB64URL(in.Passkey.CredentialID)
	var pk *lockbox.Passkey
	for i := range u.Passkeys {
		if b, _ := lockbox.DecodeB64URL(u.Passkeys[i].ID); string(b) == string(id) {
			pk = &u.Passkeys[i]
		}
	}
	if pk == nil {
		return nil, lockbox.ErrPasskeyRefused("the passkey is not one you registered in this tenant")
	}
	st := lockbox.Statement{TenantID: p.TenantID, RequestID: in.RequestID, Action: a, Duration: in.Duration, Reason: in.Reason, Time: at}
	count, err := s.RP.Verify(st.Digest(), *in.Passkey, *pk, u)
	if err != nil {
		return nil, err
	}
	sig := lockbox.NewPasskeySignature(st, p.Subject, *in.Passkey, count, now)
	return &lockbox.PasskeyEvidence{Signature: sig, UserKey: p.Key(), SignCount: count}, nil
}
