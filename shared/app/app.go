// Package app wires a function's dependencies once per process: the
// configuration, one Redis client, the store and the credential verifier.
// The watchdog keeps the process alive between calls, so everything built
// here is reused by every call.
package app

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

// Deps are what a handler works with.
type Deps struct {
	Config config.Config
	Redis  redis.UniversalClient
	Store  *redisstore.Store
	Auth   *auth.Verifier
	Now    func() time.Time
	Log    *slog.Logger
}

// Lazy builds Deps on first use and keeps them, or keeps the error that
// stopped it (a misconfigured function stays misconfigured until redeployed).
type Lazy struct {
	once  sync.Once
	build func() (*Deps, error)
	deps  *Deps
	err   error
}

// FromEnv returns a Lazy that builds Deps from the process environment and
// the secrets the function needs.
func FromEnv(needs config.Needs) *Lazy {
	return &Lazy{build: func() (*Deps, error) {
		cfg, err := config.Load(os.Getenv, needs)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	}}
}

// Fixed returns a Lazy that always hands out d, for tests.
func Fixed(d *Deps) *Lazy { return &Lazy{build: func() (*Deps, error) { return d, nil }} }

// Get returns the dependencies, building them the first time.
func (l *Lazy) Get() (*Deps, error) {
	l.once.Do(func() {
		l.deps, l.err = l.build()
		if l.err != nil {
			slog.Error("function is misconfigured", "err", l.err)
			l.err = lockbox.Internal("configuration", l.err)
		}
	})
	return l.deps, l.err
}

// New builds Deps from cfg. The Redis client connects lazily; an unreachable
// Redis shows up as 503 on the calls that need it.
func New(cfg config.Config) (*Deps, error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	if cfg.RedisPassword != "" {
		opt.Password = cfg.RedisPassword
	}
	Tune(opt)
	rdb := redis.NewClient(opt)
	verifier, err := auth.New(context.Background(), auth.Options{
		WebhookSecrets: cfg.WebhookSecrets, JWTSecrets: cfg.JWTSecrets, JWKSURL: cfg.JWTJWKSURL,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TenantClaim: cfg.JWTTenantClaim, RolesClaim: cfg.JWTRolesClaim,
	})
	if err != nil {
		return nil, err
	}
	store := redisstore.New(rdb, cfg.Limits)
	store.Caps = redisstore.Caps{MaxPendingPerTenant: cfg.MaxPendingPerTenant, MaxActiveGrantsPerRequester: cfg.MaxActiveGrantsPerRequester}
	return &Deps{
		Config: cfg,
		Redis:  rdb,
		Store:  store,
		Auth:   verifier,
		Now:    time.Now,
		Log:    slog.Default(),
	}, nil
}

// Tune sets the client options Lockbox relies on: no automatic retries (a
// retried script could apply twice or report a false conflict; callers retry
// whole calls, with Idempotency-Key on create) and short timeouts, so that an
// unreachable Redis answers 503 quickly.
func Tune(opt *redis.Options) {
	opt.MaxRetries = -1
	opt.DialTimeout = 2 * time.Second
	opt.DialerRetries = 1
	opt.ReadTimeout = 3 * time.Second
	opt.WriteTimeout = 3 * time.Second
}
