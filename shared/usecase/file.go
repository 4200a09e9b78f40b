package usecase

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"lockbox.dev/shared/lockbox"
)

// Filed is a filing's outcome: the request, and whether it was filed before
// (a retry under the same Idempotency-Key, or a delivery seen before), in
// which case nothing changed.
type Filed struct {
	Request  lockbox.Request
	Replayed bool
}

// MaxIdempotencyKey bounds an Idempotency-Key.
const MaxIdempotencyKey = 255

// File files the request in as p (lockbox-create): a signed service or an
// operator for any engineer, a requester for themself. idempotencyKey, when
// not empty, makes a retry with the same body get the request it filed.
// The request records who filed it and how (lockbox.Request.FiledAs): a
// workItemSource counts for the tenant's rules only when a signed
// integration asserts it. The provider's policy (Service.Policy) screens
// the filing first (lockbox.ProviderPolicy.Screen): a deny or a missing
// factor is KindForbidden, a scope beyond its rule KindUnprocessable, and a
// filing it sends to internal review is filed InternalReview.
// Errors: KindInvalid, KindForbidden, KindUnprocessable, KindUnauthorized (a replayed signed
// delivery), KindConflict (the key reused with another body), KindTooMany,
// KindUnavailable.
func (s *Service) File(ctx context.Context, p lockbox.Principal, in lockbox.CreateInput, idempotencyKey string) (Filed, error) {
	if err := in.Validate(); err != nil {
		return Filed{}, err
	}
	if err := lockbox.AuthorizeCreate(p, in); err != nil {
		return Filed{}, err
	}
	idem, err := idempotency(p, idempotencyKey, in)
	if err != nil {
		return Filed{}, err
	}
	return s.file(ctx, p, in, lockbox.CreateOptions{Idempotency: idem, SignatureHash: p.SignatureHash}, "")
}

// file files in as p with opts; action, for a ticketing source, names the
// source's action that mapped it (logged).
func (s *Service) file(ctx context.Context, p lockbox.Principal, in lockbox.CreateInput, opts lockbox.CreateOptions, action string) (Filed, error) {
	r := lockbox.NewRequest(in, lockbox.NewID(), s.now(), s.Store.Limits()).FiledAs(p)
	// The provider's policy screens the filing before anything is written:
	// a refusal leaves no trace but the log.
	r, err := s.Policy.Screen(r, p)
	if err != nil {
		s.Log.Info("lockbox filing refused by the provider's policy", "tenantId", r.TenantID, "via", r.FiledVia, "err", err)
		return Filed{}, err
	}
	r, replayed, err := s.Store.Create(ctx, r, opts)
	if err != nil {
		return Filed{}, err
	}
	if replayed {
		s.Log.Info("lockbox filing seen before", "tenantId", r.TenantID, "requestId", r.RequestID, "via", r.FiledVia)
		return Filed{Request: r, Replayed: true}, nil
	}
	s.changed(r.TenantID)
	s.Log.Info("lockbox request filed", "tenantId", r.TenantID, "requestId", r.RequestID, "supportRequest", r.SupportRequest,
		"via", r.FiledVia, "status", string(r.Status), "action", action)
	return Filed{Request: r}, nil
}

// idempotency identifies a create by the hash of the caller and its key and
// by the hash of its normalised body, so formatting differences between
// retries do not matter. The store keeps keys per tenant, so a key is
// scoped to (tenant, caller): another caller's or tenant's same key is
// another key.
func idempotency(p lockbox.Principal, key string, in lockbox.CreateInput) (*lockbox.Idempotency, error) {
	if key == "" {
		return nil, nil
	}
	if len(key) > MaxIdempotencyKey || !printableASCII(key) {
		return nil, lockbox.Invalidf("Idempotency-Key must be 1..255 printable ASCII characters")
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, lockbox.Internal("hash body", err)
	}
	k, b := sha256.Sum256([]byte(p.Key()+"\n"+key)), sha256.Sum256(body)
	return &lockbox.Idempotency{KeyHash: hex.EncodeToString(k[:]), BodyHash: hex.EncodeToString(b[:])}, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
