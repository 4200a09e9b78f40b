package portalapp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
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
	require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretPortalKey), []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
	pc, err = Config(env(map[string]string{"portal_url": "https://gw.example/function/lockbox-portal", "portal_token_login": "false",
		"oidc_issuer": "https://idp.example", "oidc_client_id": "lockbox", "secret_mount_path": dir}), cfg)
	require.NoError(t, err)
	assert.False(t, pc.TokenLogin)
	assert.Equal(t, "s3cret", pc.OIDC.ClientSecret)
	assert.Equal(t, "org", pc.OIDC.TenantClaim)
	assert.Equal(t, "groups", pc.OIDC.RolesClaim)
	assert.Equal(t, [][]byte{bytes.Repeat([]byte{0xab}, 32)}, pc.Keys)

	// Without the client secret's file: a public client.
	public := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(public, config.SecretPortalKey), []byte(strings.Repeat("ab", 32)), 0o600))
	pc, err = Config(env(map[string]string{"portal_url": "https://gw.example/p", "oidc_issuer": "https://idp.example",
		"oidc_client_id": "lockbox", "secret_mount_path": public}), cfg)
	require.NoError(t, err)
	assert.Empty(t, pc.OIDC.ClientSecret)

	// Without lockbox-portal-key, OIDC cannot be on.
	_, err = Config(env(map[string]string{"portal_url": "https://gw.example/p", "oidc_issuer": "https://idp.example",
		"oidc_client_id": "lockbox", "secret_mount_path": t.TempDir()}), cfg)
	assert.ErrorContains(t, err, "secret lockbox-portal-key")
	assert.ErrorContains(t, err, "needed with oidc_issuer")

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

// lockbox-portal-key holds one key a line, hex or base64: the first seals,
// all open.
func TestKeys(t *testing.T) {
	a, b, c := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{0xfe}, 32), bytes.Repeat([]byte{0xfb}, 32)
	dir := t.TempDir()
	write := func(s string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretPortalKey), []byte(s), 0o600))
	}
	write(hex.EncodeToString(a) + "\n\n  " + base64.StdEncoding.EncodeToString(b) + "\n" + base64.RawURLEncoding.EncodeToString(c) + "\n")
	keys, err := Keys(dir)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{a, b, c}, keys)

	for _, bad := range []string{hex.EncodeToString(a[:16]), base64.StdEncoding.EncodeToString(append(a, 1)), "not a key at all", strings.Repeat("z", 64)} {
		write(hex.EncodeToString(a) + "\n" + bad)
		_, err := Keys(dir)
		assert.ErrorContains(t, err, "key 2 is not 32 bytes as hex or base64", bad)
	}
	write("\n")
	_, err = Keys(dir)
	assert.ErrorContains(t, err, "empty")
	_, err = Keys(t.TempDir())
	assert.ErrorContains(t, err, config.SecretPortalKey)
}
