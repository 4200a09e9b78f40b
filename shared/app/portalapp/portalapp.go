// Package portalapp builds lockbox-portal's dependencies, as package app
// does for the request functions: the store (requests, settings,
// deliveries and the portal's sessions), the token verifier, the activity
// log (lockbox-activity's, package app/activityapp), the nudge of
// lockbox-notify, and the portal's own configuration.
package portalapp

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/app/activityapp"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
	"lockbox.dev/shared/redisstore"
)

// Portal returns lockbox-portal, built from the process environment on its
// first call.
func Portal() *app.Lazy[*portal.Portal] {
	return app.NewLazy(func() (*portal.Portal, redis.UniversalClient, error) {
		// The activity page reads the audit archive when object storage
		// is configured (s3_endpoint and the s3-* secrets).
		cfg, err := config.Load(os.Getenv, config.Needs{JWT: true, S3: os.Getenv("s3_endpoint") != ""})
		pcfg, perr := Config(os.Getenv, cfg)
		if err := errors.Join(err, perr); err != nil {
			return nil, nil, err
		}
		parts, err := app.Connect(cfg)
		if err != nil {
			return nil, nil, err
		}
		cases := parts.Cases()
		cases.ActivityLog = ActivityLog(parts.Store, cfg)
		deps := portal.Deps{Cases: cases, Sessions: parts.Store.PortalKV(), Auth: parts.Verifier, Now: time.Now, Log: slog.Default()}
		p, err := portal.New(pcfg, deps)
		if err != nil {
			return nil, nil, err
		}
		return p, parts.Redis, nil
	})
}

// ActivityLog is the activity log the portal reads: lockbox-activity's
// (the archive in object storage, the events not yet exported in store)
// when s3_endpoint is configured; nil without, and the activity page then
// says the log is unavailable.
func ActivityLog(store *redisstore.Store, cfg config.Config) lockbox.ActivityLog {
	if cfg.S3.Endpoint == "" {
		return nil
	}
	return activityapp.Log(store, cfg)
}

// Config reads the portal's configuration: portal_url (required),
// portal_token_login (default true), oidc_issuer and oidc_client_id with
// the secrets oidc-client-secret (optional: a public client) and
// lockbox-portal-key (required with oidc_issuer; see Keys), and the token
// claims the API reads (jwt_tenant_claim, jwt_roles_claim), already in
// cfg. It reports every problem at once.
func Config(getenv func(string) string, cfg config.Config) (portal.Config, error) {
	var errs []error
	pc := portal.Config{PublicURL: getenv("portal_url"), TokenLogin: true,
		OIDC: portal.OIDCConfig{Issuer: getenv("oidc_issuer"), ClientID: getenv("oidc_client_id"),
			TenantClaim: cfg.JWTTenantClaim, RolesClaim: cfg.JWTRolesClaim}}
	if pc.PublicURL == "" {
		errs = append(errs, errors.New("portal_url is not set: the portal's public base URL, e.g. https://gateway.example/function/lockbox-portal"))
	}
	switch v := getenv("portal_token_login"); v {
	case "", "true":
	case "false":
		pc.TokenLogin = false
	default:
		errs = append(errs, fmt.Errorf("portal_token_login=%q must be true or false", v))
	}
	if pc.OIDC.Issuer != "" {
		dir := getenv("secret_mount_path")
		if dir == "" {
			dir = config.DefaultSecretMountPath
		}
		// #nosec G304 -- the function's own secret file, as config.ReadSecret reads it.
		b, err := os.ReadFile(filepath.Join(dir, config.SecretOIDCClient))
		switch {
		case errors.Is(err, os.ErrNotExist): // a public client: PKCE alone
		case err != nil:
			errs = append(errs, fmt.Errorf("secret %s: %w", config.SecretOIDCClient, err))
		default:
			pc.OIDC.ClientSecret = strings.TrimSpace(string(b))
		}
		if pc.OIDC.ClientID == "" {
			errs = append(errs, errors.New("oidc_client_id is not set (needed with oidc_issuer)"))
		}
		keys, err := Keys(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w (needed with oidc_issuer)", err))
		}
		pc.Keys = keys
	}
	if !pc.TokenLogin && pc.OIDC.Issuer == "" {
		errs = append(errs, errors.New("no way to sign in to the portal: set oidc_issuer, or leave portal_token_login true"))
	}
	return pc, errors.Join(errs...)
}

// Keys reads the secret lockbox-portal-key under dir: one key a line, each
// 32 random bytes as hex (64 digits) or base64 (standard or URL-safe,
// padded or not); the first seals, every one opens, so that a rotation
// puts the new key first and removes the old one once the sign-ins it
// sealed have ended (10 minutes). Generate one with `openssl rand -hex 32`.
func Keys(dir string) ([][]byte, error) {
	lines, err := config.ReadSecretLines(dir, config.SecretPortalKey)
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, 0, len(lines))
	for i, line := range lines {
		k, ok := decodeKey(string(line))
		if !ok {
			return nil, fmt.Errorf("secret %s: key %d is not %d bytes as hex or base64", config.SecretPortalKey, i+1, portal.KeySize)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// decodeKey reads a portal key written as hex or base64.
func decodeKey(s string) ([]byte, bool) {
	if k, err := hex.DecodeString(s); err == nil {
		return k, len(k) == portal.KeySize
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			return k, len(k) == portal.KeySize
		}
	}
	return nil, false
}
