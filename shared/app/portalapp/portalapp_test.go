package portalapp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/config"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Config{JWTTenantClaim: "org", JWTRolesClaim: "groups", WebhookAllowPrivate: true}

	pc, err := Config(env(map[string]string{"portal_url": "https://gw.example/function/lockbox-portal"}), cfg)
	require.NoError(t, err)
	assert.True(t, pc.TokenLogin, "the token form is on by default")
	assert.Empty(t, pc.OIDC.Issuer)

	require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretOIDCClient), []byte("s3cret\n"), 0o600))
	pc, err = Config(env(map[string]string{"portal_url": "https://gw.example/function/lockbox-portal", "portal_token_login": "false",
		"oidc_issuer": "https://idp.example", "oidc_client_id": "lockbox", "secret_mount_path": dir}), cfg)
	require.NoError(t, err)
	assert.False(t, pc.TokenLogin)
	assert.Equal(t, "s3cret", pc.OIDC.ClientSecret)
	assert.Equal(t, "org", pc.OIDC.TenantClaim)
	assert.Equal(t, "groups", pc.OIDC.RolesClaim)

	// Without the secret's file: a public client.
	pc, err = Config(env(map[string]string{"portal_url": "https://gw.example/p", "oidc_issuer": "https://idp.example",
		"oidc_client_id": "lockbox", "secret_mount_path": t.TempDir()}), cfg)
	require.NoError(t, err)
	assert.Empty(t, pc.OIDC.ClientSecret)

	// Every problem at once.
	_, err = Config(env(map[string]string{"portal_token_login": "no", "oidc_issuer": "https://idp.example", "secret_mount_path": dir}), cfg)
	require.Error(t, err)
	for _, want := range []string{"portal_url is not set", `portal_token_login="no"`, "oidc_client_id is not set"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = Config(env(map[string]string{"portal_url": "https://gw.example/p", "portal_token_login": "false"}), cfg)
	assert.ErrorContains(t, err, "no way to sign in")
}

// The activity log is the archive's reader when object storage is
// configured, none without.
func TestActivityLog(t *testing.T) {
	assert.Nil(t, ActivityLog(nil, config.Config{}))
	assert.NotNil(t, ActivityLog(nil, config.Config{S3: config.S3{Endpoint: "http://127.0.0.1:9000", Bucket: "lockbox-audit", Region: "us-east-1"}}))
}
