package lockbox_test

import (
	"testing"

	"lockbox.dev/shared/lockbox"
)

// A token's amr (a list, or a space-separated string), iss and true claims
// are kept on the principal, for the provider's policy; a claim that is not
// the boolean true is not one.
func TestUserFromClaimsKeepsTheSignInFacts(t *testing.T) {
	p, err := lockbox.UserFromClaims("eng-7", map[string]any{"tid": "provider", "roles": []any{"lockbox.requester"},
		"amr": []any{"pwd", "mfa", 7}, "iss": "https://isolated.example", "lockbox_isolated": true, "other": "true", "off": false},
		"tid", "roles")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.AMR) != 2 || p.AMR[0] != "pwd" || p.AMR[1] != "mfa" || p.Issuer != "https://isolated.example" ||
		len(p.TrueClaims) != 1 || p.TrueClaims[0] != "lockbox_isolated" {
		t.Fatalf("got %+v", p)
	}
	ids := lockbox.DefaultIdentityChecks
	if !ids.HasMFA(p) || !ids.IsIsolated(p) {
		t.Fatalf("mfa %v isolated %v", ids.HasMFA(p), ids.IsIsolated(p))
	}
	p, _ = lockbox.UserFromClaims("eng-7", map[string]any{"tid": "provider", "amr": "pwd otp"}, "tid", "roles")
	if !ids.HasMFA(p) || ids.IsIsolated(p) {
		t.Fatalf("amr as a string: %+v", p)
	}
	ids.IsolatedClaim = ""
	ids.IsolatedIssuers = []string{"https://isolated.example"}
	p, _ = lockbox.UserFromClaims("eng-7", map[string]any{"tid": "provider", "iss": "https://isolated.example"}, "tid", "roles")
	if ids.HasMFA(p) || !ids.IsIsolated(p) {
		t.Fatalf("isolated by issuer: %+v", p)
	}
	svc := lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook", AMR: []string{"mfa"}}
	if ids.HasMFA(svc) {
		t.Fatal("a signed system never shows a person's MFA")
	}
}
