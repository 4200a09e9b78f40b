// Package config reads a function's configuration: plain values from its
// environment (set in stack.yml, OpenFaaS lower_snake style) and secrets from
// files under secret_mount_path, never from environment variables.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisclient"
)

// Secret names (OpenFaaS secrets, one file each). These are file names, not
// secrets: gosec's G101 is suppressed on them for that reason.
const (
	SecretWebhook       = "lockbox-webhook-secret"    // #nosec G101 -- a file name
	SecretJWT           = "lockbox-jwt-secret"        // #nosec G101 -- a file name
	SecretRedisPassword = "redis-password"            // #nosec G101 -- a file name
	SecretRedisSentinel = "redis-sentinel-password"   // #nosec G101 -- a file name
	SecretAuditSigning  = "lockbox-audit-signing-key" // #nosec G101 -- a file name
	SecretSMTPPassword  = "smtp-password"             // #nosec G101 -- a file name
	SecretNotifyWebhook = "notify-webhook-secret"     // #nosec G101 -- a file name
	SecretS3AccessKey   = "s3-access-key"             // #nosec G101 -- a file name
	SecretS3SecretKey   = "s3-secret-key"             // #nosec G101 -- a file name
	SecretIntake        = "lockbox-intake-config"     // #nosec G101 -- a file name
	SecretOIDCClient    = "oidc-client-secret"        // #nosec G101 -- a file name: the portal's OIDC client secret
	SecretPortalKey     = "lockbox-portal-key"        // #nosec G101 -- a file name: the key sealing the portal's OIDC sign-in state
)

// DefaultSecretMountPath is where OpenFaaS mounts secrets.
const DefaultSecretMountPath = "/var/openfaas/secrets" // #nosec G101 -- a directory

// minSecretLen is the shortest HMAC key accepted (128 bits as hex or text).
const minSecretLen = 16

// Needs says which secrets a function cannot run without.
type Needs struct {
	Webhook bool // verifies signed webhooks (create, list)
	JWT     bool // verifies bearer tokens
	S3      bool // reads or writes the audit archive
	// AuditKey: signs the archive's checkpoints (lockbox-audit).
	AuditKey bool
	// Notify: sends notifications (lockbox-notify).
	Notify bool
	// Intake: takes ticketing systems' webhooks (lockbox-intake).
	Intake bool
}

// Notify configures the sending of notifications (lockbox-notify).
type Notify struct {
	// SMTPURL (smtp_url: smtp://[user@]host:port, STARTTLS when offered,
	// or smtps://) and SMTPPassword (secret smtp-password) send mail; with
	// no SMTPURL no mail is sent. MailFrom is mail_from.
	SMTPURL, SMTPPassword, MailFrom string
	// PortalURL (portal_url) is the portal's public base URL, for links.
	PortalURL string
	// WebhookURL (notify_webhook_url) and WebhookSecret (secret
	// notify-webhook-secret, "whsec_…") are the provider-wide webhook.
	WebhookURL, WebhookSecret string
}

// S3 locates the audit archive.
type S3 struct {
	Endpoint  string // s3_endpoint
	Region    string // s3_region, default us-east-1
	Bucket    string // s3_bucket, default lockbox-audit
	PathStyle bool   // s3_path_style, true for MinIO
	AccessKey string // secret s3-access-key
	SecretKey string // secret s3-secret-key
	// ObjectLockDays, when positive, retains every exported object that
	// long (s3_object_lock_days); ObjectLockMode is GOVERNANCE or
	// COMPLIANCE (s3_object_lock_mode, default COMPLIANCE).
	ObjectLockDays int
	ObjectLockMode string
	// AuditBatch is the most events one exported object holds (audit_batch).
	AuditBatch int
}

// Config is everything a function is configured with.
type Config struct {
	// Redis is how to reach Redis (redis_url, redis_mode, redis_ca_file and
	// the redis-password and redis-sentinel-password secrets).
	Redis  redisclient.Config
	Limits lockbox.Limits

	JWTIssuer   string // checked when set
	JWTAudience string // checked when set
	// JWTJWKSURL, when set, verifies RS256/ES256/EdDSA tokens of the
	// customer's identity provider; the lockbox-jwt-secret (HS256) is then
	// optional. Needs JWTIssuer and JWTAudience.
	JWTJWKSURL string
	// JWTTenantClaim and JWTRolesClaim name the token's tenant and roles
	// claims (default tid and roles).
	JWTTenantClaim, JWTRolesClaim string
	// MaxTokenLifetime bounds a token's exp after its iat
	// (max_token_lifetime, default 24h).
	MaxTokenLifetime time.Duration

	// DefaultEnabled is whether Lockbox is on for a tenant that never saved
	// settings (default_enabled, default true).
	DefaultEnabled bool
	// WebhookAllowPrivate lets tenants' webhooks reach private and loopback
	// addresses, over plain http too (webhook_allow_private, default false;
	// make run sets it for local receivers).
	WebhookAllowPrivate bool
	// NotifyURL (notify_url) is where a change nudges lockbox-notify: the
	// gateway's /async-function/lockbox-notify; "" for no nudge.
	NotifyURL string
	Notify    Notify // set when Needs.Notify

	// Usage caps: live pending requests per tenant and per engineer, live
	// grants per engineer.
	MaxPendingPerTenant         int
	MaxPendingPerRequester      int
	MaxActiveGrantsPerRequester int

	// WebhookSecrets and JWTSecrets hold every key of their secret file,
	// one per line, current first: during a rotation the previous key still
	// verifies.
	WebhookSecrets [][]byte
	JWTSecrets     [][]byte

	S3 S3 // set when Needs.S3
	// Intake is the secret lockbox-intake-config, parsed (set when
	// Needs.Intake): the ticketing sources lockbox-intake takes.
	Intake *intake.Config
	// AuditSigningKey is the secret lockbox-audit-signing-key (set when
	// Needs.AuditKey): the key that signs the archive's checkpoints, and
	// during a rotation the previous ones after it (audit.ParseSigningKeys).
	AuditSigningKey []byte
}

// Load reads the configuration through getenv (os.Getenv in production) and
// the secret files. It reports every missing or malformed value at once.
func Load(getenv func(string) string, needs Needs) (Config, error) {
	var errs []error
	c := Config{
		NotifyURL:   getenv("notify_url"),
		JWTIssuer:   getenv("jwt_issuer"),
		JWTAudience: getenv("jwt_audience"),
		JWTJWKSURL:  getenv("jwt_jwks_url"),

		JWTTenantClaim: getenv("jwt_tenant_claim"),
		JWTRolesClaim:  getenv("jwt_roles_claim"),
	}
	if c.JWTJWKSURL != "" && (c.JWTIssuer == "" || c.JWTAudience == "") {
		errs = append(errs, errors.New("jwt_jwks_url needs jwt_issuer and jwt_audience"))
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q is not a positive Go duration", name, v))
			return def
		}
		return d
	}
	c.Limits = lockbox.Limits{
		PendingTTL:   duration("pending_ttl", lockbox.DefaultLimits.PendingTTL),
		AccessTTL:    duration("access_ttl", lockbox.DefaultLimits.AccessTTL),
		MaxAccessTTL: duration("max_access_ttl", lockbox.DefaultLimits.MaxAccessTTL),
	}
	c.MaxTokenLifetime = duration("max_token_lifetime", 24*time.Hour)

	dir := getenv("secret_mount_path")
	if dir == "" {
		dir = DefaultSecretMountPath
	}
	secret := func(name string, required bool) []byte {
		b, err := ReadSecret(dir, name)
		switch {
		case errors.Is(err, os.ErrNotExist) && !required:
			return nil
		case err != nil:
			errs = append(errs, err)
			return nil
		}
		return b
	}
	keys := func(name string) [][]byte {
		ks, err := ReadSecretLines(dir, name)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		for i, k := range ks {
			if len(k) < minSecretLen {
				errs = append(errs, fmt.Errorf("secret %s: key %d is shorter than %d bytes", name, i+1, minSecretLen))
				return nil
			}
		}
		return ks
	}
	if needs.Webhook {
		c.WebhookSecrets = keys(SecretWebhook)
	}
	if needs.JWT {
		if _, err := os.Stat(filepath.Join(dir, SecretJWT)); err == nil || c.JWTJWKSURL == "" {
			c.JWTSecrets = keys(SecretJWT)
		}
	}
	// number reads a whole number, at least least, or def when unset.
	number := func(name string, def, least int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < least {
			errs = append(errs, fmt.Errorf("%s=%q is not a whole number of at least %d", name, v, least))
			return def
		}
		return n
	}
	boolean := func(name string, def bool) bool {
		switch v := getenv(name); v {
		case "":
			return def
		case "true":
			return true
		case "false":
			return false
		default:
			errs = append(errs, fmt.Errorf("%s=%q must be true or false", name, v))
			return def
		}
	}
	c.DefaultEnabled = boolean("default_enabled", true)
	c.WebhookAllowPrivate = boolean("webhook_allow_private", false)
	c.MaxPendingPerTenant = number("max_pending_per_tenant", 1000, 1)
	c.MaxPendingPerRequester = number("max_pending_per_requester", 50, 1)
	c.MaxActiveGrantsPerRequester = number("max_active_grants_per_requester", 5, 1)
	redis, err := redisclient.FromEnv(getenv, optionalSecret(dir, SecretRedisPassword, &errs), optionalSecret(dir, SecretRedisSentinel, &errs))
	if err != nil {
		errs = append(errs, err)
	}
	c.Redis = redis
	if needs.AuditKey {
		c.AuditSigningKey = secret(SecretAuditSigning, true)
	}
	if needs.Notify {
		c.Notify = Notify{SMTPURL: getenv("smtp_url"), MailFrom: getenv("mail_from"), PortalURL: getenv("portal_url"),
			WebhookURL:   getenv("notify_webhook_url"),
			SMTPPassword: optionalSecret(dir, SecretSMTPPassword, &errs), WebhookSecret: optionalSecret(dir, SecretNotifyWebhook, &errs)}
		if c.Notify.SMTPURL != "" && c.Notify.MailFrom == "" {
			errs = append(errs, errors.New("mail_from is not set (needed with smtp_url)"))
		}
		if c.Notify.WebhookURL != "" && !lockbox.ValidWebhookSecret(c.Notify.WebhookSecret) {
			errs = append(errs, fmt.Errorf("secret %s must be whsec_ and the base64 of 24..64 bytes (needed with notify_webhook_url)", SecretNotifyWebhook))
		}
	}
	if needs.Intake {
		if doc := secret(SecretIntake, true); doc != nil {
			cfg, err := intake.Load(doc)
			if err != nil {
				errs = append(errs, fmt.Errorf("secret %s: %w", SecretIntake, err))
			}
			c.Intake = cfg
		}
	}
	if needs.S3 {
		c.S3 = S3{Endpoint: getenv("s3_endpoint"), Region: getenv("s3_region"), Bucket: getenv("s3_bucket"),
			ObjectLockMode: getenv("s3_object_lock_mode")}
		if c.S3.Endpoint == "" {
			errs = append(errs, errors.New("s3_endpoint is not set"))
		}
		if c.S3.Region == "" {
			c.S3.Region = "us-east-1"
		}
		if c.S3.Bucket == "" {
			c.S3.Bucket = "lockbox-audit"
		}
		c.S3.ObjectLockDays = number("s3_object_lock_days", 0, 0)
		c.S3.AuditBatch = number("audit_batch", 5_000, 1)
		switch c.S3.ObjectLockMode {
		case "":
			c.S3.ObjectLockMode = "COMPLIANCE"
		case "COMPLIANCE", "GOVERNANCE":
		default:
			errs = append(errs, fmt.Errorf("s3_object_lock_mode=%q must be COMPLIANCE or GOVERNANCE", c.S3.ObjectLockMode))
		}
		c.S3.PathStyle = boolean("s3_path_style", false)
		c.S3.AccessKey = string(secret(SecretS3AccessKey, true))
		c.S3.SecretKey = string(secret(SecretS3SecretKey, true))
	}
	return c, errors.Join(errs...)
}

// optionalSecret reads a secret that may be absent or empty, both meaning
// "none" (redis-password: a Redis without a password); other read errors
// are appended to errs.
func optionalSecret(dir, name string, errs *[]error) string {
	// #nosec G304 -- the function's own secret file, as in ReadSecret.
	b, err := os.ReadFile(filepath.Join(dir, name))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ""
	case err != nil:
		*errs = append(*errs, fmt.Errorf("secret %s: %w", name, err))
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ReadSecret returns the secret name under dir with surrounding white space
// (a trailing newline, typically) removed.
func ReadSecret(dir, name string) ([]byte, error) {
	// #nosec G304 -- the function's own secret file: secret_mount_path and a
	// secret name from this package, never input from a caller.
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("secret %s is empty", name)
	}
	return []byte(s), nil
}

// ReadSecretLines returns the keys of a secret file that holds one per line
// (the current key first, then the ones still accepted during a rotation),
// each with surrounding white space removed; blank lines are ignored.
func ReadSecretLines(dir, name string) ([][]byte, error) {
	b, err := ReadSecret(dir, name)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		if k := strings.TrimSpace(line); k != "" {
			keys = append(keys, []byte(k))
		}
	}
	return keys, nil
}
