package lockbox_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"lockbox.dev/shared/lockbox"
)

// A policy rule's emergency: 1..3 approvals, a maxDuration of 1..720
// hours, never on a deny rule; each problem named by its place.
func TestEmergencyRuleValidate(t *testing.T) {
	rule := func(e *lockbox.EmergencyRule, deny string) lockbox.ProviderPolicy {
		return lockbox.ProviderPolicy{Rules: []lockbox.ProviderRule{{Name: "r", Emergency: e, Deny: deny}}}
	}
	for _, c := range []struct {
		p    lockbox.ProviderPolicy
		want string // "" for valid
	}{
		{rule(&lockbox.EmergencyRule{Approvals: 2, MaxDuration: 2}, ""), ""},
		{rule(&lockbox.EmergencyRule{Approvals: 0, MaxDuration: 2}, ""), "rules[0].emergency.approvals: must be 1..3"},
		{rule(&lockbox.EmergencyRule{Approvals: 4, MaxDuration: 2}, ""), "rules[0].emergency.approvals: must be 1..3"},
		{rule(&lockbox.EmergencyRule{Approvals: 1}, ""), "rules[0].emergency.maxDuration: must be 1..720 hours"},
		{rule(&lockbox.EmergencyRule{Approvals: 1, MaxDuration: 721}, ""), "rules[0].emergency.maxDuration"},
		{rule(&lockbox.EmergencyRule{Approvals: 1, MaxDuration: 1}, "no"), "a rule either denies or allows emergency access"},
	} {
		var got []string
		for _, err := range c.p.Validate() {
			got = append(got, err.Error())
		}
		if c.want == "" {
			assert.Empty(t, got)
			continue
		}
		assert.True(t, strings.Contains(strings.Join(got, "\n"), c.want), "want %q in %q", c.want, got)
	}
}

// A review needs a request id, a known verdict and a reason.
func TestReviewInputValidate(t *testing.T) {
	id := lockbox.NewID()
	assert.NoError(t, lockbox.ReviewInput{RequestID: id, Verdict: "acknowledge", Reason: "asked for it"}.Validate())
	assert.NoError(t, lockbox.ReviewInput{RequestID: id, Verdict: "dispute", Reason: "nobody asked"}.Validate())
	for _, in := range []lockbox.ReviewInput{
		{RequestID: "", Verdict: "acknowledge", Reason: "x"},
		{RequestID: id, Verdict: "Acknowledge", Reason: "x"},
		{RequestID: id, Verdict: "dispute"},
		{RequestID: id, Verdict: "dispute", Reason: "a\x00b"},
		{RequestID: id, Verdict: "dispute", Reason: strings.Repeat("x", 4097)},
	} {
		assert.Equal(t, lockbox.KindInvalid, lockbox.KindOf(in.Validate()), "%+v", in)
	}
	assert.Equal(t, lockbox.OpDisputeEmergency, lockbox.ReviewInput{Verdict: "dispute"}.Op())
	assert.Equal(t, lockbox.OpAcknowledgeEmergency, lockbox.ReviewInput{Verdict: "acknowledge"}.Op())
}

// breakGlass is "allow" or "deny" (absent: allow); "deny" refuses emergency
// filings only; a change is named in the audit reason.
func TestBreakGlassSetting(t *testing.T) {
	s := lockbox.DefaultSettings(true)
	for _, v := range []string{"", "allow", "deny"} {
		s.BreakGlass = v
		assert.NoError(t, s.Validate(false), v)
	}
	s.BreakGlass = "Deny"
	assert.Equal(t, lockbox.KindInvalid, lockbox.KindOf(s.Validate(false)))

	emergency := lockbox.Request{TenantID: "contoso", Emergency: &lockbox.Emergency{Incident: "INC-1", Reason: "outage"}}
	s.BreakGlass = "deny"
	err := s.Admit(emergency)
	assert.Equal(t, lockbox.KindForbidden, lockbox.KindOf(err))
	assert.NoError(t, s.Admit(lockbox.Request{TenantID: "contoso"}), "an ordinary request is not break-glass")
	s.BreakGlass = ""
	assert.NoError(t, s.Admit(emergency))

	prev := lockbox.DefaultSettings(true)
	next := prev
	next.BreakGlass = "deny"
	assert.Contains(t, next.Changes(prev), "breakGlass allow → deny")
	prev.BreakGlass = "allow"
	next.BreakGlass = ""
	assert.NotContains(t, next.Changes(prev), "breakGlass", "absent is allow")
}

// Reviewing emergency access is the tenant's approver's or admin's, never
// the provider's, an engineer's or a reader's.
func TestAuthorizeReview(t *testing.T) {
	user := func(roles ...lockbox.Role) lockbox.Principal {
		return lockbox.Principal{Kind: lockbox.KindUser, Subject: "p", TenantID: "contoso", Roles: roles}
	}
	assert.NoError(t, lockbox.AuthorizeReview(user(lockbox.RoleApprover)))
	assert.NoError(t, lockbox.AuthorizeReview(user(lockbox.RoleAdmin)))
	for _, p := range []lockbox.Principal{
		user(lockbox.RoleReader), user(lockbox.RoleRequester), user(lockbox.RoleOperator), user(lockbox.RoleProviderApprover),
		user(lockbox.RoleApprover, lockbox.RoleProviderApprover), user(lockbox.RoleApprover, lockbox.RoleRequester),
		user(lockbox.RoleAdmin, lockbox.RoleOperator), {Kind: lockbox.KindService, Subject: "webhook"},
	} {
		assert.Equal(t, lockbox.KindForbidden, lockbox.KindOf(lockbox.AuthorizeReview(p)), "%+v", p)
	}
}
