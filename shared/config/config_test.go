package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/config"
	"lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/sshca"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeSecret(t *testing.T, dir, name, value string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600))
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, config.SecretWebhook, "webhook-secret-0123456789\n")
	writeSecret(t, dir, config.SecretJWT, "jwt-secret-0123456789abcdef")
	writeSecret(t, dir, config.SecretRedisPassword, "hunter2\n")

	c, err := config.Load(env(map[string]string{
		"redis_url": "redis://127.0.0.1:6379/0", "secret_mount_path": dir,
		"pending_ttl": "2m", "max_access_ttl": "30s", "jwt_issuer": "https://idp.example",
	}), config.Needs{Webhook: true, JWT: true})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("webhook-secret-0123456789")}, c.WebhookSecrets, "trailing newline trimmed")
	assert.Equal(t, "hunter2", c.Redis.Password)
	assert.Equal(t, 2*time.Minute, c.Limits.PendingTTL)
	assert.Equal(t, 8*time.Hour, c.Limits.AccessTTL, "default")
	assert.Equal(t, 30*time.Second, c.Limits.MaxAccessTTL)
	assert.Equal(t, "https://idp.example", c.JWTIssuer)
}

// Every problem is reported at once, so one deploy fixes them all.
func TestLoadReportsEverything(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, config.SecretJWT, "short")
	_, err := config.Load(env(map[string]string{"secret_mount_path": dir, "access_ttl": "eight hours", "pending_ttl": "-1h"}),
		config.Needs{Webhook: true, JWT: true})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"redis_url is not set", "access_ttl", "pending_ttl", "lockbox-webhook-secret", "lockbox-jwt-secret: key 1 is shorter"} {
		assert.Contains(t, msg, want)
	}
	assert.Equal(t, 5, strings.Count(msg, "\n")+1, msg)
}

// Secrets come from files only: an environment variable of the same name is
// ignored.
func TestSecretsNeverFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	_, err := config.Load(env(map[string]string{
		"redis_url": "redis://x", "secret_mount_path": dir,
		"lockbox-webhook-secret": "from-env-0123456789", "lockbox_webhook_secret": "from-env-0123456789",
	}), config.Needs{Webhook: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lockbox-webhook-secret")
}

func TestOptionalRedisPassword(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(env(map[string]string{"redis_url": "redis://x", "secret_mount_path": dir}), config.Needs{})
	require.NoError(t, err)
	assert.Empty(t, c.Redis.Password)
}

func TestLoadS3(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, config.SecretS3AccessKey, "minioadmin\n")
	writeSecret(t, dir, config.SecretS3SecretKey, "minio-secret")
	c, err := config.Load(env(map[string]string{
		"redis_url": "redis://x", "secret_mount_path": dir, "s3_endpoint": "http://127.0.0.1:9000",
		"s3_path_style": "true", "s3_object_lock_days": "30",
	}), config.Needs{S3: true})
	require.NoError(t, err)
	assert.Equal(t, config.S3{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", Bucket: "lockbox-audit", PathStyle: true,
		AccessKey: "minioadmin", SecretKey: "minio-secret", ObjectLockDays: 30, ObjectLockMode: "COMPLIANCE", AuditBatch: 5000}, c.S3)

	_, err = config.Load(env(map[string]string{"redis_url": "redis://x", "secret_mount_path": t.TempDir(),
		"s3_path_style": "yes", "s3_object_lock_mode": "STRICT", "audit_batch": "0"}), config.Needs{S3: true})
	require.Error(t, err)
	for _, want := range []string{"s3_endpoint", "s3_path_style", "s3_object_lock_mode", "audit_batch", "s3-access-key", "s3-secret-key"} {
		assert.Contains(t, err.Error(), want)
	}
}

// A rotation: the file holds the new key and the previous one.
func TestSecretRotationLines(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, config.SecretWebhook, "new-webhook-secret-0123456789\n\n  old-webhook-secret-0123456789  \n")
	writeSecret(t, dir, config.SecretJWT, "new-jwt-secret-0123456789abcdef\nshort\n")
	_, err := config.Load(env(map[string]string{"redis_url": "redis://x", "secret_mount_path": dir}), config.Needs{Webhook: true, JWT: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lockbox-jwt-secret: key 2 is shorter")

	c, err := config.Load(env(map[string]string{"redis_url": "redis://x", "secret_mount_path": dir}), config.Needs{Webhook: true})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("new-webhook-secret-0123456789"), []byte("old-webhook-secret-0123456789")}, c.WebhookSecrets)
}

// An empty redis-password secret (what make run writes for an external Redis
// without a password) means "no password", as an absent one does.
func TestEmptyRedisPasswordMeansNone(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"absent": {}, "empty": {config.SecretRedisPassword: ""}, "blank line": {config.SecretRedisPassword: "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for k, v := range files {
				writeSecret(t, dir, k, v)
			}
			c, err := config.Load(env(map[string]string{"redis_url": "redis://127.0.0.1:6379/0", "secret_mount_path": dir}), config.Needs{})
			require.NoError(t, err)
			assert.Empty(t, c.Redis.Password)
		})
	}
}

// lockbox-intake's sources come from the secret lockbox-intake-config; its
// problems are reported with every other one, each named by its place.
func TestLoadIntake(t *testing.T) {
	dir := t.TempDir()
	vars := env(map[string]string{"redis_url": "redis://127.0.0.1:6379/0", "secret_mount_path": dir})
	_, err := config.Load(vars, config.Needs{Intake: true})
	require.ErrorContains(t, err, config.SecretIntake, "required")

	writeSecret(t, dir, config.SecretIntake, string(fixtures.Config()))
	c, err := config.Load(vars, config.Needs{Intake: true})
	require.NoError(t, err)
	assert.Contains(t, c.Intake.Names(), "jira")

	writeSecret(t, dir, config.SecretIntake, "sources:\n  jira:\n    kind: bugzilla\n    secrets: [short]\n")
	_, err = config.Load(env(map[string]string{"secret_mount_path": dir}), config.Needs{Intake: true})
	require.Error(t, err)
	for _, want := range []string{"redis_url is not set", "sources.jira.kind", "sources.jira.secrets[0]", "sources.jira.actions"} {
		assert.Contains(t, err.Error(), want)
	}
}

// Each part of the configuration (Redis, lifetimes, caps, switches, tokens,
// HMAC keys, the audit key, notifications, intake, S3) reads its own
// values; a problem in one stops none of the others, and all are reported
// together.
func TestLoadReportsEveryPartTogether(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, config.SecretWebhook, "short")
	writeSecret(t, dir, config.SecretIntake, "sources:\n  jira:\n    kind: bugzilla\n")
	_, err := config.Load(env(map[string]string{
		"secret_mount_path":      dir,
		"redis_url":              "redis://127.0.0.1:6379/0",
		"redis_mode":             "replicated",
		"max_access_ttl":         "forever",
		"max_pending_per_tenant": "0",
		"default_enabled":        "yes",
		"jwt_jwks_url":           "https://idp.example/jwks",
		"smtp_url":               "smtp://mail.example:587",
		"s3_endpoint":            "http://127.0.0.1:9000",
		"s3_object_lock_mode":    "STRICT",
	}), config.Needs{Webhook: true, JWT: true, AuditKey: true, Notify: true, Intake: true, S3: true})
	require.Error(t, err)
	msg := err.Error()
	want := []string{
		"redis_mode",                    // Redis
		"max_access_ttl",                // lifetimes
		"max_pending_per_tenant",        // caps
		"default_enabled",               // switches
		"jwt_jwks_url needs jwt_issuer", // tokens
		"lockbox-webhook-secret: key 1", // HMAC keys
		config.SecretAuditSigning,       // the audit key
		"mail_from is not set",          // notifications
		"sources.jira.kind",             // intake
		"s3_object_lock_mode",           // S3
		config.SecretS3AccessKey,        //
		config.SecretS3SecretKey,        //
	}
	for _, w := range want {
		assert.Contains(t, msg, w)
	}
	t.Log(msg)
}

// lockbox-credential's CA and its certificates' settings, every problem at
// once.
func TestLoadSSH(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, config.SecretJWT, "jwt-secret-0123456789abcdef")
	vars := map[string]string{"secret_mount_path": dir, "redis_url": "redis://127.0.0.1:6379/0", "ssh_cert_ttl": "48h", "ssh_cert_extensions": "permit-pty, permit-everything"}
	_, err := config.Load(env(vars), config.Needs{JWT: true, SSHCA: true})
	require.Error(t, err)
	for _, want := range []string{"lockbox-ssh-ca-key", "ssh_cert_ttl", "permit-everything"} {
		assert.ErrorContains(t, err, want)
	}

	key, err := sshca.NewKey("test")
	require.NoError(t, err)
	writeSecret(t, dir, config.SecretSSHCA, string(key))
	vars["ssh_cert_ttl"], vars["ssh_cert_extensions"] = "30m", "permit-pty,permit-port-forwarding"
	c, err := config.Load(env(vars), config.Needs{JWT: true, SSHCA: true})
	require.NoError(t, err)
	require.NotNil(t, c.SSH.CA)
	assert.Equal(t, 30*time.Minute, c.SSH.CertTTL)
	assert.Equal(t, []string{"permit-pty", "permit-port-forwarding"}, c.SSH.Extensions)

	delete(vars, "ssh_cert_ttl")
	delete(vars, "ssh_cert_extensions")
	c, err = config.Load(env(vars), config.Needs{JWT: true, SSHCA: true})
	require.NoError(t, err)
	assert.Equal(t, time.Hour, c.SSH.CertTTL)
	assert.Equal(t, []string{"permit-pty"}, c.SSH.Extensions)
}

// The passkey relying party follows portal_url unless told otherwise; a
// portal on an IP address has none (WebAuthn refuses IP addresses), and an
// IP address named as the id is a configuration error.
func TestPasskeyRelyingParty(t *testing.T) {
	load := func(env map[string]string) (config.Passkey, error) {
		env["secret_mount_path"], env["redis_url"] = t.TempDir(), "redis://127.0.0.1:6379/0"
		c, err := config.Load(func(k string) string { return env[k] }, config.Needs{})
		return c.Passkey, err
	}
	pk, err := load(map[string]string{"portal_url": "https://gw.example:8443/function/lockbox-portal"})
	require.NoError(t, err)
	assert.Equal(t, config.Passkey{RPID: "gw.example", Origins: []string{"https://gw.example:8443"}}, pk)
	pk, err = load(map[string]string{"portal_url": "http://127.0.0.1:8080/function/lockbox-portal"})
	require.NoError(t, err)
	assert.Equal(t, config.Passkey{}, pk, "no passkeys on an IP address")
	pk, err = load(map[string]string{"portal_url": "https://gw.example/p", "passkey_rp_id": "example", "passkey_origins": "https://a.example, https://b.example"})
	require.NoError(t, err)
	assert.Equal(t, config.Passkey{RPID: "example", Origins: []string{"https://a.example", "https://b.example"}}, pk)
	_, err = load(map[string]string{"passkey_rp_id": "10.0.0.1", "passkey_origins": "https://10.0.0.1"})
	assert.ErrorContains(t, err, "is an IP address")
	_, err = load(map[string]string{"passkey_rp_id": "portal.example"})
	assert.ErrorContains(t, err, "passkey_origins is not set")
	_, err = load(map[string]string{"passkey_rp_id": "portal.example", "passkey_origins": "https://portal.example/path"})
	assert.ErrorContains(t, err, "is not an origin")
}
