// Package config reads a function's configuration: plain values from its
// environment (set in stack.yml, OpenFaaS lower_snake style) and secrets from
// files under secret_mount_path, never from environment variables.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/sshca"
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
	SecretSSHCA         = "lockbox-ssh-ca-key"        // #nosec G101 -- a file name: lockbox-credential's SSH CA keys
	SecretMetricsToken  = "metrics-token"             // #nosec G101 -- a file name: the bearer token of lockbox-metrics' scrapes
	// SecretProviderPolicy is the provider's optional JIT policy (YAML).
	SecretProviderPolicy = "lockbox-provider-policy" // #nosec G101 -- a file name
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
	// SSHCA: signs SSH certificates (lockbox-credential).
	SSHCA bool
}

// SSH configures the certificates lockbox-credential signs.
type SSH struct {
	// CA is the secret lockbox-ssh-ca-key, parsed: the first key signs,
	// all are published.
	CA *sshca.CA
	// CertTTL (ssh_cert_ttl, default 1h) bounds a certificate's life.
	CertTTL time.Duration
	// Extensions (ssh_cert_extensions, comma-separated, default
	// permit-pty) are a certificate's permissions.
	Extensions []string
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
	SSH             SSH // set when Needs.SSHCA
	// ProviderPolicy is the optional secret lockbox-provider-policy,
	// parsed, with the identity checks of mfa_amr_values,
	// isolated_issuers and isolated_identity_claim; nil without the secret
	// (nothing is required at filing).
	ProviderPolicy *lockbox.ProviderPolicy
	// Passkey is the WebAuthn relying party that passkey-signed decisions
	// are verified for (docs/passkeys.md).
	Passkey Passkey
}

// Passkey is the WebAuthn relying party: its id (passkey_rp_id, default
// the host of portal_url) and the origins whose ceremonies it accepts
// (passkey_origins, comma-separated, default the origin of portal_url).
// Empty RPID: no portal_url (or one on an IP address, which WebAuthn
// refuses) and no passkey_rp_id, passkeys are off (a decision that needs
// one is refused, with a message saying why).
type Passkey struct {
	RPID    string
	Origins []string
}

// passkey reads the relying party of passkey-signed decisions.
func (r *reader) passkey() Passkey {
	pk := Passkey{RPID: r.getenv("passkey_rp_id")}
	for _, o := range strings.Split(r.getenv("passkey_origins"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" {
				r.fail(fmt.Errorf("passkey_origins: %q is not an origin such as https://portal.example", o))
				continue
			}
			pk.Origins = append(pk.Origins, o)
		}
	}
	if net.ParseIP(pk.RPID) != nil {
		r.fail(fmt.Errorf("passkey_rp_id %q is an IP address: a WebAuthn relying party id is a domain (localhost for a local portal)", pk.RPID))
	}
	if raw := r.getenv("portal_url"); raw != "" {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			if pk.RPID == "" && net.ParseIP(u.Hostname()) == nil { // a portal on an IP address has no passkeys
				pk.RPID = u.Hostname()
			}
			if len(pk.Origins) == 0 {
				pk.Origins = []string{u.Scheme + "://" + u.Host}
			}
		}
	}
	if pk.RPID == "" {
		pk.Origins = nil
	}
	if pk.RPID != "" && len(pk.Origins) == 0 {
		r.fail(errors.New("passkey_origins is not set (needed with passkey_rp_id when portal_url is not set)"))
	}
	return pk
}

// Load reads the configuration through getenv (os.Getenv in production) and
// the secret files. It reports every missing or malformed value at once:
// each part below reads its own values and records its problems in one
// list, and no part stops another.
func Load(getenv func(string) string, needs Needs) (Config, error) {
	dir := getenv("secret_mount_path")
	if dir == "" {
		dir = DefaultSecretMountPath
	}
	r := &reader{getenv: getenv, dir: dir}
	c := Config{
		Redis:               r.redis(),
		Limits:              r.limits(),
		NotifyURL:           getenv("notify_url"),
		DefaultEnabled:      r.boolean("default_enabled", true),
		WebhookAllowPrivate: r.boolean("webhook_allow_private", false),
	}
	r.tokens(&c)
	r.caps(&c)
	c.ProviderPolicy = r.providerPolicy()
	r.keys(&c, needs)
	if needs.AuditKey {
		c.AuditSigningKey = r.secret(SecretAuditSigning)
	}
	if needs.Notify {
		c.Notify = r.notify()
	}
	if needs.Intake {
		c.Intake = r.intake()
	}
	if needs.S3 {
		c.S3 = r.s3()
	}
	if needs.SSHCA {
		c.SSH = r.ssh()
	}
	c.Passkey = r.passkey()
	return c, errors.Join(r.errs...)
}

// reader reads one function's configuration: its environment through
// getenv, its secrets from the files under dir. Every problem it meets is
// recorded in errs, and a default stands in for the bad value, so that the
// reading goes on and Load reports them all.
type reader struct {
	getenv func(string) string
	dir    string
	errs   []error
}

func (r *reader) fail(err error) { r.errs = append(r.errs, err) }

// duration reads a positive Go duration, def when unset.
func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(fmt.Errorf("%s=%q is not a positive Go duration", name, v))
		return def
	}
	return d
}

// number reads a whole number of at least least, def when unset.
func (r *reader) number(name string, def, least int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		r.fail(fmt.Errorf("%s=%q is not a whole number of at least %d", name, v, least))
		return def
	}
	return n
}

// boolean reads true or false, def when unset.
func (r *reader) boolean(name string, def bool) bool {
	switch v := r.getenv(name); v {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	default:
		r.fail(fmt.Errorf("%s=%q must be true or false", name, v))
		return def
	}
}

// secret reads a secret that must be there and not be empty.
func (r *reader) secret(name string) []byte {
	b, err := ReadSecret(r.dir, name)
	if err != nil {
		r.fail(err)
		return nil
	}
	return b
}

// optional reads a secret whose absence, or emptiness, means "none".
func (r *reader) optional(name string) string {
	return optionalSecret(r.dir, name, &r.errs)
}

// hmacKeys reads a secret of HMAC keys, one per line (a rotation lists the
// current key first), each at least minSecretLen bytes.
func (r *reader) hmacKeys(name string) [][]byte {
	ks, err := ReadSecretLines(r.dir, name)
	if err != nil {
		r.fail(err)
		return nil
	}
	for i, k := range ks {
		if len(k) < minSecretLen {
			r.fail(fmt.Errorf("secret %s: key %d is shorter than %d bytes", name, i+1, minSecretLen))
			return nil
		}
	}
	return ks
}

// redis reads how to reach Redis: redis_url, redis_mode, redis_ca_file and
// the optional redis-password and redis-sentinel-password secrets.
func (r *reader) redis() redisclient.Config {
	c, err := redisclient.FromEnv(r.getenv, r.optional(SecretRedisPassword), r.optional(SecretRedisSentinel))
	if err != nil {
		r.fail(err)
	}
	return c
}

// limits reads the lifetimes: the approval window, the default grant, the
// longest one, the provider's internal review and the customer's review of
// emergency access.
func (r *reader) limits() lockbox.Limits {
	return lockbox.Limits{
		PendingTTL:         r.duration("pending_ttl", lockbox.DefaultLimits.PendingTTL),
		AccessTTL:          r.duration("access_ttl", lockbox.DefaultLimits.AccessTTL),
		MaxAccessTTL:       r.duration("max_access_ttl", lockbox.DefaultLimits.MaxAccessTTL),
		InternalReviewTTL:  r.duration("internal_review_ttl", lockbox.DefaultLimits.InternalReviewTTL),
		EmergencyReviewTTL: r.duration("review_ttl", lockbox.DefaultLimits.EmergencyReviewTTL),
	}
}

// tokens reads how bearer tokens are checked into c: issuer, audience, the
// identity provider's JWKS, the claims' names and the longest lifetime.
func (r *reader) tokens(c *Config) {
	c.JWTIssuer, c.JWTAudience, c.JWTJWKSURL = r.getenv("jwt_issuer"), r.getenv("jwt_audience"), r.getenv("jwt_jwks_url")
	c.JWTTenantClaim, c.JWTRolesClaim = r.getenv("jwt_tenant_claim"), r.getenv("jwt_roles_claim")
	if c.JWTJWKSURL != "" && (c.JWTIssuer == "" || c.JWTAudience == "") {
		r.fail(errors.New("jwt_jwks_url needs jwt_issuer and jwt_audience"))
	}
	c.MaxTokenLifetime = r.duration("max_token_lifetime", 24*time.Hour)
}

// caps reads the usage caps into c.
func (r *reader) caps(c *Config) {
	c.MaxPendingPerTenant = r.number("max_pending_per_tenant", 1000, 1)
	c.MaxPendingPerRequester = r.number("max_pending_per_requester", 50, 1)
	c.MaxActiveGrantsPerRequester = r.number("max_active_grants_per_requester", 5, 1)
}

// keys reads the HMAC keys needs asks for into c: the webhook secret, and
// the JWT secret unless the tokens come from jwt_jwks_url alone (no
// lockbox-jwt-secret file beside it). It runs after tokens.
func (r *reader) keys(c *Config, needs Needs) {
	if needs.Webhook {
		c.WebhookSecrets = r.hmacKeys(SecretWebhook)
	}
	if needs.JWT {
		if _, err := os.Stat(filepath.Join(r.dir, SecretJWT)); err == nil || c.JWTJWKSURL == "" {
			c.JWTSecrets = r.hmacKeys(SecretJWT)
		}
	}
}

// notify reads how lockbox-notify sends: the mail server and sender, the
// portal's links and the provider-wide webhook.
func (r *reader) notify() Notify {
	n := Notify{SMTPURL: r.getenv("smtp_url"), MailFrom: r.getenv("mail_from"), PortalURL: r.getenv("portal_url"),
		WebhookURL:   r.getenv("notify_webhook_url"),
		SMTPPassword: r.optional(SecretSMTPPassword), WebhookSecret: r.optional(SecretNotifyWebhook)}
	if n.SMTPURL != "" && n.MailFrom == "" {
		r.fail(errors.New("mail_from is not set (needed with smtp_url)"))
	}
	if n.WebhookURL != "" && !lockbox.ValidWebhookSecret(n.WebhookSecret) {
		r.fail(fmt.Errorf("secret %s must be whsec_ and the base64 of 24..64 bytes (needed with notify_webhook_url)", SecretNotifyWebhook))
	}
	return n
}

// intake reads lockbox-intake's sources from their secret; every problem of
// the document is reported, each named by its place.
func (r *reader) intake() *intake.Config {
	doc := r.secret(SecretIntake)
	if doc == nil {
		return nil
	}
	cfg, err := intake.Load(doc)
	if err != nil {
		r.fail(fmt.Errorf("secret %s: %w", SecretIntake, err))
	}
	return cfg
}

// providerPolicy reads the optional secret lockbox-provider-policy and the
// identity checks its rules rely on. Every problem is reported at once:
// unknown keys and values of the wrong type (the YAML decoder collects
// them all), then each rule's.
func (r *reader) providerPolicy() *lockbox.ProviderPolicy {
	id := lockbox.IdentityChecks{MFAValues: r.list("mfa_amr_values", lockbox.DefaultIdentityChecks.MFAValues),
		IsolatedIssuers: r.list("isolated_issuers", nil), IsolatedClaim: r.getenv("isolated_identity_claim")}
	if id.IsolatedClaim == "" {
		id.IsolatedClaim = lockbox.DefaultIdentityChecks.IsolatedClaim
	}
	doc := r.optional(SecretProviderPolicy)
	if doc == "" {
		return nil
	}
	p, errs := ParseProviderPolicy([]byte(doc))
	for _, err := range errs {
		r.fail(fmt.Errorf("secret %s: %w", SecretProviderPolicy, err))
	}
	p.Identity = id
	return p
}

// ParseProviderPolicy parses the provider's policy document (YAML) and
// returns every problem it has: keys it does not know, values of the wrong
// type, and each rule's (lockbox.ProviderPolicy.Validate).
func ParseProviderPolicy(doc []byte) (*lockbox.ProviderPolicy, []error) {
	var p lockbox.ProviderPolicy
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return &p, []error{fmt.Errorf("not a YAML document: %w", err)}
		}
		for _, e := range te.Errors {
			errs = append(errs, errors.New(e))
		}
	}
	return &p, append(errs, p.Validate()...)
}

// list reads a comma-separated list, def when unset.
func (r *reader) list(name string, def []string) []string {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// sshExtensions are the certificate extensions ssh_cert_extensions may
// name (OpenSSH's).
var sshExtensions = []string{"permit-pty", "permit-port-forwarding", "permit-agent-forwarding", "permit-X11-forwarding", "permit-user-rc"}

// ssh reads lockbox-credential's CA and what its certificates allow.
func (r *reader) ssh() SSH {
	c := SSH{CertTTL: r.duration("ssh_cert_ttl", time.Hour), Extensions: []string{"permit-pty"}}
	if c.CertTTL < time.Minute || c.CertTTL > 24*time.Hour {
		r.fail(fmt.Errorf("ssh_cert_ttl=%s must be from 1m to 24h", c.CertTTL))
	}
	if v := r.getenv("ssh_cert_extensions"); v != "" {
		c.Extensions = nil
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if !slices.Contains(sshExtensions, e) {
				r.fail(fmt.Errorf("ssh_cert_extensions: %q is not one of %s", e, strings.Join(sshExtensions, ", ")))
				continue
			}
			c.Extensions = append(c.Extensions, e)
		}
	}
	if key := r.secret(SecretSSHCA); key != nil {
		ca, err := sshca.Parse(key)
		if err != nil {
			r.fail(err)
		}
		c.CA = ca
	}
	return c
}

// s3 reads where the audit archive is and how it is kept.
func (r *reader) s3() S3 {
	c := S3{Endpoint: r.getenv("s3_endpoint"), Region: r.getenv("s3_region"), Bucket: r.getenv("s3_bucket"),
		ObjectLockMode: r.getenv("s3_object_lock_mode")}
	if c.Endpoint == "" {
		r.fail(errors.New("s3_endpoint is not set"))
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Bucket == "" {
		c.Bucket = "lockbox-audit"
	}
	c.ObjectLockDays = r.number("s3_object_lock_days", 0, 0)
	c.AuditBatch = r.number("audit_batch", 5_000, 1)
	switch c.ObjectLockMode {
	case "":
		c.ObjectLockMode = "COMPLIANCE"
	case "COMPLIANCE", "GOVERNANCE":
	default:
		r.fail(fmt.Errorf("s3_object_lock_mode=%q must be COMPLIANCE or GOVERNANCE", c.ObjectLockMode))
	}
	c.PathStyle = r.boolean("s3_path_style", false)
	c.AccessKey = string(r.secret(SecretS3AccessKey))
	c.SecretKey = string(r.secret(SecretS3SecretKey))
	return c
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
