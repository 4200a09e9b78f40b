package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
)

// ProviderPolicyExample is the policy of docs/provider.md.
const providerPolicyExample = `
rules:
  - name: no-production-admin
    match: {accessLevels: [Admin], tenants: [contoso-prod]}
    deny: production is never administered through Lockbox; open a change request
  - name: vm-admin
    match: {resourceTypes: [Microsoft.Compute/*], accessLevels: [Admin, Write]}
    require: {mfa: true, isolatedIdentity: true, internalApprovals: 1, maxResources: 3, maxDuration: 4}
  - name: everything-else
    match: {}
    require: {mfa: true, maxDuration: 8}
`

func TestLoadProviderPolicy(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, config.SecretProviderPolicy, providerPolicyExample)
	c, err := config.Load(env(map[string]string{"redis_url": "redis://x", "secret_mount_path": dir,
		"mfa_amr_values": "mfa, hwk", "isolated_issuers": "https://isolated.example", "internal_review_ttl": "2h"}), config.Needs{})
	require.NoError(t, err)
	p := c.ProviderPolicy
	require.NotNil(t, p)
	require.Len(t, p.Rules, 3)
	assert.Equal(t, lockbox.ProviderRequire{MFA: true, IsolatedIdentity: true, InternalApprovals: 1, MaxResources: 3, MaxDuration: 4}, p.Rules[1].Require)
	assert.Equal(t, []string{"mfa", "hwk"}, p.Identity.MFAValues)
	assert.Equal(t, []string{"https://isolated.example"}, p.Identity.IsolatedIssuers)
	assert.Equal(t, "lockbox_isolated", p.Identity.IsolatedClaim, "default")
	assert.Equal(t, "2h0m0s", c.Limits.InternalReviewTTL.String())
}

// Without the secret nothing changes: no policy.
func TestNoProviderPolicy(t *testing.T) {
	c, err := config.Load(env(map[string]string{"redis_url": "redis://x", "secret_mount_path": t.TempDir()}), config.Needs{})
	require.NoError(t, err)
	assert.Nil(t, c.ProviderPolicy)
	assert.Equal(t, lockbox.DefaultLimits.InternalReviewTTL, c.Limits.InternalReviewTTL)
}

// Every problem of the document is reported at once: unknown keys, wrong
// types and each rule's.
func TestProviderPolicyReportsEverything(t *testing.T) {
	_, errs := config.ParseProviderPolicy([]byte(`
rules:
  - name: a
    match: {resourceType: [x], tenants: ["con toso"]}
    require: {mfa: yes-please, internalApprovals: 4, maxDuration: 900}
    colour: blue
  - name: a
    deny: no
    require: {mfa: true}
`))
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	want := []string{`field resourceType not found`, `field colour not found`, `yes-please`, `rules[0].match.tenants[0]`,
		`rules[0].require.internalApprovals: must be 0..3`, `rules[0].require.maxDuration`, `rules[1].name: "a" is used by an earlier rule`,
		`rules[1]: a rule either denies or requires, not both`}
	for _, w := range want {
		found := false
		for _, m := range msgs {
			if strings.Contains(m, w) {
				found = true
			}
		}
		assert.True(t, found, "missing %q in %q", w, msgs)
	}
}
