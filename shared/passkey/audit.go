package passkey

import (
	"encoding/json"
	"fmt"
	"strings"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/lockbox"
)

// AuditChecker verifies, offline, the passkey signatures in a tenant's
// audit archive against an export of its passkeys: each
// SignLockboxDecision event must follow the decision it signs (the same
// request, decider and reason, the operation of its action), its statement
// must name the archive's tenant and hash to its digest, and a passkey of
// the export registered by the decider must have signed that digest for
// the export's relying party. Give its Check to audit.Verifier.Check.
type AuditChecker struct {
	Keys Export
	// Verified counts the signatures checked.
	Verified int
	prev     *audit.Record
}

// Check checks rec, one record of the archive in seq order.
func (c *AuditChecker) Check(rec audit.Record) error {
	prev := c.prev
	c.prev = &rec
	if rec.OperationName != lockbox.OpSignDecision {
		return nil
	}
	if c.Keys.TenantID != rec.TenantID {
		return fmt.Errorf("the passkeys export is of tenant %s, not %s", c.Keys.TenantID, rec.TenantID)
	}
	var sig lockbox.PasskeySignature
	dec := json.NewDecoder(strings.NewReader(rec.Reason))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sig); err != nil {
		return fmt.Errorf("passkey signature cannot be read: %w", err)
	}
	st, err := lockbox.DecodeStatement([]byte(sig.Statement))
	if err != nil {
		return fmt.Errorf("passkey signature: %w", err)
	}
	tr, ok := lockbox.Transitions[st.Action]
	switch {
	case !ok:
		return fmt.Errorf("passkey signature of an unknown action %q", st.Action)
	case st.TenantID != rec.TenantID || st.RequestID != rec.RequestID:
		return fmt.Errorf("passkey signature's statement names tenant %s request %s, the event %s %s", st.TenantID, st.RequestID,
			rec.TenantID, rec.RequestID)
	case sig.By != rec.Actor.ID:
		return fmt.Errorf("passkey signature by %s recorded for %s", sig.By, rec.Actor.ID)
	case prev == nil || prev.OperationName != tr.Op || prev.RequestID != rec.RequestID || prev.Actor.ID != rec.Actor.ID ||
		prev.Reason != st.Reason:
		return fmt.Errorf("passkey signature does not follow the %s it signs (same request, decider and reason)", tr.Op)
	}
	pk, ok := c.Keys.Find(sig.CredentialID)
	if !ok {
		return fmt.Errorf("passkey %s is not in the export", sig.CredentialID)
	}
	if !lockbox.SameIdentity(pk.Subject, sig.By) {
		return fmt.Errorf("passkey %s was registered by %s, not by %s", pk.ID, pk.Subject, sig.By)
	}
	if err := VerifySignature(sig, pk, c.Keys.RPID, c.Keys.Origins); err != nil {
		return fmt.Errorf("passkey signature does not verify: %w", err)
	}
	c.Verified++
	return nil
}
