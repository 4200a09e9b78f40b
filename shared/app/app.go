// Package app is the one place where a function's dependencies are built:
// once per process, from its configuration (those of the functions that
// link more — object storage, mail, the portal — in the subpackages
// auditapp, activityapp, notifyapp and portalapp, each starting from Open or
// Connect). The watchdog keeps the process alive between calls, so
// everything built here is reused by every call.
// Nothing else in the shared module constructs clients or stores; the other
// packages declare what they need and are handed it here.
package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/netguard"
	"lockbox.dev/shared/nudge"
	"lockbox.dev/shared/passkey"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisstore"
	"lockbox.dev/shared/usecase"
)

// Lazy builds a value on first use and keeps it, or keeps the error that
// stopped it (a misconfigured function stays misconfigured until
// redeployed). Before handing the value out it asks the guard, if any, which
// may refuse for a while (Redis evicting keys) without being kept.
type Lazy[T any] struct {
	once  sync.Once
	build func() (T, redis.UniversalClient, error)
	v     T
	g     *redisclient.Guard
	err   error
}

// NewLazy returns a Lazy that builds its value with build, which also
// returns the Redis client the value uses: until that Redis is known never
// to evict keys, the value is not handed out (see redisclient.Guard).
func NewLazy[T any](build func() (T, redis.UniversalClient, error)) *Lazy[T] {
	return &Lazy[T]{build: build}
}

// Fixed returns a Lazy that always hands out v, for tests.
func Fixed[T any](v T) *Lazy[T] {
	return &Lazy[T]{build: func() (T, redis.UniversalClient, error) { return v, nil, nil }}
}

// Get returns the value, building it the first time.
func (l *Lazy[T]) Get() (T, error) {
	l.once.Do(func() {
		var rdb redis.UniversalClient
		l.v, rdb, l.err = l.build()
		if rdb != nil {
			l.g = redisclient.NewGuard(rdb, recheckEvery, retryEvery)
		}
		if l.err != nil {
			slog.Error("function is misconfigured", "err", l.err)
			l.err = lockbox.Internal("configuration", l.err)
		}
	})
	if l.err != nil {
		return l.v, l.err
	}
	if err := refusal(l.g.Check()); err != nil {
		var zero T
		return zero, err
	}
	return l.v, nil
}

// Parts are what every function's wiring starts from: its configuration,
// the Redis client, the store on it and the credential verifier.
type Parts struct {
	Config   config.Config
	Redis    redis.UniversalClient
	Store    *redisstore.Store
	Verifier *auth.Verifier
}

// Open reads the configuration (the process environment and the secrets
// needs names) and connects the parts to it.
func Open(needs config.Needs) (Parts, error) {
	cfg, err := config.Load(os.Getenv, needs)
	if err != nil {
		return Parts{}, err
	}
	return Connect(cfg)
}

// Connect builds the parts on a configuration already read.
func Connect(cfg config.Config) (Parts, error) {
	rdb, err := redisclient.New(cfg.Redis)
	if err != nil {
		return Parts{}, err
	}
	verifier, err := Verifier(cfg)
	if err != nil {
		return Parts{}, err
	}
	return Parts{Config: cfg, Redis: rdb, Store: Store(rdb, cfg), Verifier: verifier}, nil
}

// Cases are the use cases on p: the store for requests, settings,
// lockdowns, marks, deliveries and passkeys, the URL check of webhooks, the
// nudge of lockbox-notify, the provider's policy and the passkeys' relying
// party (none without one configured). The functions that read the
// activity log set its ActivityLog.
func (p Parts) Cases() *usecase.Service {
	cfg := p.Config
	svc := &usecase.Service{Store: p.Store, SettingsStore: p.Store, Lockdowns: p.Store, Emergencies: p.Store, DeliveryLog: p.Store, Marks: p.Store,
		URLs: netguard.Guard{AllowPrivate: cfg.WebhookAllowPrivate}, AllowPlainHTTP: cfg.WebhookAllowPrivate,
		Notifier: nudge.New(cfg.NotifyURL, slog.Default()), Policy: cfg.ProviderPolicy, Now: time.Now, Log: slog.Default(), Passkeys: p.Store}
	if cfg.Passkey.RPID != "" {
		rp, err := passkey.New(cfg.Passkey.RPID, cfg.Passkey.Origins)
		if err != nil {
			slog.Error("passkeys are off: the relying party is misconfigured", "err", err)
		}
		svc.RP = rp
	}
	return svc
}

// Service is the service of the request functions on p.
func (p Parts) Service() *api.Service {
	return &api.Service{Cases: p.Cases(), Auth: p.Verifier, Intake: p.Config.Intake}
}

// API returns the service of the request functions, built from the process
// environment and the secrets needs names.
func API(needs config.Needs) *Lazy[*api.Service] {
	return NewLazy(func() (*api.Service, redis.UniversalClient, error) {
		p, err := Open(needs)
		if err != nil {
			return nil, nil, err
		}
		return p.Service(), p.Redis, nil
	})
}

// Credentials returns lockbox-credential's service: the request functions'
// with the SSH CA (the secret lockbox-ssh-ca-key) and what its
// certificates allow.
func Credentials() *Lazy[*api.Service] {
	return NewLazy(func() (*api.Service, redis.UniversalClient, error) {
		p, err := Open(config.Needs{JWT: true, SSHCA: true})
		if err != nil {
			return nil, nil, err
		}
		svc := p.Service()
		svc.Credentials = usecase.CredentialConfig{CA: p.Config.SSH.CA, TTL: p.Config.SSH.CertTTL, Extensions: p.Config.SSH.Extensions}
		return svc, p.Redis, nil
	})
}

// Store returns the store on rdb configured by cfg.
func Store(rdb redis.UniversalClient, cfg config.Config) *redisstore.Store {
	s := redisstore.New(rdb, cfg.Limits)
	s.Caps = redisstore.Caps{MaxPendingPerTenant: cfg.MaxPendingPerTenant, MaxPendingPerRequester: cfg.MaxPendingPerRequester,
		MaxActiveGrantsPerRequester: cfg.MaxActiveGrantsPerRequester}
	s.DefaultEnabled = cfg.DefaultEnabled
	return s
}

// Verifier returns the credential verifier configured by cfg. Without the
// secrets a function does not need, the matching credentials are refused.
func Verifier(cfg config.Config) (*auth.Verifier, error) {
	return auth.New(context.Background(), auth.Options{
		WebhookSecrets: cfg.WebhookSecrets, JWTSecrets: cfg.JWTSecrets, JWKSURL: cfg.JWTJWKSURL,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TenantClaim: cfg.JWTTenantClaim, RolesClaim: cfg.JWTRolesClaim,
		MaxLifetime: cfg.MaxTokenLifetime,
	})
}

// How often a function checks its Redis's maxmemory-policy again while the
// check passes and while it does not (see redisclient.Guard); tests shorten
// them.
var recheckEvery, retryEvery = redisclient.RecheckEvery, redisclient.RetryEvery

// refusal is the answer to a call the guard refused for err (nil: it did
// not): 503, saying why.
func refusal(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redisclient.ErrEvictionPolicy), errors.Is(err, redisclient.ErrPolicyUnknown):
		// Checked first: on a cluster, one node may evict while another is
		// down, and the misconfiguration is what an operator must fix.
		return &lockbox.Error{Kind: lockbox.KindUnavailable, Code: "ServiceUnavailable",
			Message: "Redis may evict keys; Lockbox refuses to serve until its maxmemory-policy is noeviction", Err: err}
	default:
		// Unreachable, failing over, or a TLS error: its text says which.
		return lockbox.Unavailable("check maxmemory-policy", err)
	}
}
