package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// A tenant's settings live in its slot (lb:{t}:settings: the document and its
// version), so that the create script can check that a request was decided
// under the current ones. The store keeps the last settings it saw of each
// tenant (settingsCache): filing is one round trip while they stay current.

// settingsCache holds, per tenant, the last settings the store saw and
// their version (0: the defaults, never saved).
type settingsCache struct {
	mu sync.Mutex
	m  map[string]cachedSettings
}

type cachedSettings struct {
	set     lockbox.Settings
	version int64
}

// maxCachedTenants bounds the cache; past it, it starts again empty (a
// tenant's next create then costs one round trip more).
const maxCachedTenants = 10_000

// cachedSettings returns the settings last seen of tenant, or the defaults
// with version 0.
func (s *Store) cachedSettings(tenant string) (lockbox.Settings, int64) {
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	if c, ok := s.settings.m[tenant]; ok {
		return c.set, c.version
	}
	return lockbox.DefaultSettings(s.DefaultEnabled), 0
}

// remember keeps set as the current settings of tenant.
func (s *Store) remember(tenant string, set lockbox.Settings) {
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	if s.settings.m == nil || len(s.settings.m) >= maxCachedTenants {
		s.settings.m = map[string]cachedSettings{}
	}
	s.settings.m[tenant] = cachedSettings{set: set, version: set.Version}
}

// decodeSettings reads a stored settings document of the given version;
// version "0" (or no document) is the defaults.
func (s *Store) decodeSettings(version, doc string) (lockbox.Settings, error) {
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return lockbox.Settings{}, lockbox.Internal("read settings", fmt.Errorf("version %q", version))
	}
	if v == 0 || doc == "" {
		return lockbox.DefaultSettings(s.DefaultEnabled), nil
	}
	var set lockbox.Settings
	if err := json.Unmarshal([]byte(doc), &set); err != nil {
		return lockbox.Settings{}, lockbox.Internal("read settings", err)
	}
	set.Version = v
	return set, nil
}

// Settings returns tenant's settings as stored, secrets included (the
// defaults, version 0, for a tenant that never saved any).
func (s *Store) Settings(ctx context.Context, tenant string) (lockbox.Settings, error) {
	m, err := s.rdb.HMGet(ctx, keysFor(tenant).of("settings", ""), "version", "doc").Result()
	if err != nil {
		return lockbox.Settings{}, classify("read settings", err)
	}
	version, _ := m[0].(string)
	doc, _ := m[1].(string)
	if version == "" {
		version = "0"
	}
	set, err := s.decodeSettings(version, doc)
	if err == nil {
		s.remember(tenant, set)
	}
	return set, err
}

// PutSettings stores next as tenant's settings if they are still of version
// ifVersion, as the next version, changed by actor at now; reason says what
// changed (the UpdateLockboxSettings event's). next must be validated and
// merged with the stored secrets (lockbox.Settings.Updated).
// Errors: KindPreconditionFailed (stale version), KindUnavailable.
func (s *Store) PutSettings(ctx context.Context, tenant string, next lockbox.Settings, ifVersion int64, actor lockbox.Actor,
	reason string, now time.Time) (lockbox.Settings, error) {
	now = now.UTC().Truncate(time.Millisecond)
	next.Version, next.UpdatedDateTime, next.UpdatedBy = ifVersion+1, &now, actor.ID
	doc, err := encodeJSON(next)
	if err != nil {
		return lockbox.Settings{}, lockbox.Internal("encode settings", err)
	}
	k := keysFor(tenant)
	keys := []string{k.of("settings", "")}
	call := putSettingsScript.With(settingsArgs{Prefix: string(k), Expected: ifVersion, Doc: doc, Version: next.Version,
		NowMs: ms(now), ActorKind: string(actor.Kind), ActorID: actor.ID, Reason: reason,
		Passkey: next.RequirePasskey.Stored(), BreakGlass: next.DeniesBreakGlass()})
	var out *redis.Cmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		out = call.EvalSha(ctx, p, keys)
		p.SAdd(ctx, TenantsKey, tenant) // its event must be exported
		return nil
	})
	if err != nil && redis.HasErrorPrefix(out.Err(), "NOSCRIPT") {
		out = call.Run(ctx, s.rdb, keys)
		if err = out.Err(); err == nil {
			err = s.rdb.SAdd(ctx, TenantsKey, tenant).Err()
		}
	}
	if err != nil {
		return lockbox.Settings{}, classify("store settings", err)
	}
	res, err := out.StringSlice()
	if err != nil || len(res) == 0 {
		return lockbox.Settings{}, lockbox.Internal("store settings", fmt.Errorf("reply %v: %v", res, err))
	}
	if res[0] != "ok" {
		return lockbox.Settings{}, lockbox.ErrStaleSettings()
	}
	s.remember(tenant, next)
	return next, nil
}
