package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// PortalKV keeps the portal's short-lived values — sessions, sign-in states
// — under "lb:portal:<key>", each with its lifetime as TTL. They belong to
// no tenant (a sign-in starts before the tenant is known), and each
// operation touches one key, so Redis Cluster serves them like any other.
type PortalKV struct {
	rdb redis.UniversalClient
}

// PortalKV returns the portal's key-value store on the store's Redis.
func (s *Store) PortalKV() PortalKV { return PortalKV{rdb: s.rdb} }

func portalKey(key string) string { return "lb:portal:" + key }

// Put stores value under key for ttl, replacing any value.
func (kv PortalKV) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := kv.rdb.Set(ctx, portalKey(key), value, ttl).Err(); err != nil {
		return classify("store portal value", err)
	}
	return nil
}

// Get returns the value under key; ok is false when there is none (or it
// expired).
func (kv PortalKV) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
	b, err := kv.rdb.Get(ctx, portalKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify("read portal value", err)
	}
	return b, true, nil
}

// Take returns the value under key and deletes it in one step, so that only
// one caller ever gets it (a sign-in state is used once).
func (kv PortalKV) Take(ctx context.Context, key string) (value []byte, ok bool, err error) {
	b, err := kv.rdb.GetDel(ctx, portalKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify("take portal value", err)
	}
	return b, true, nil
}

// Delete removes the value under key.
func (kv PortalKV) Delete(ctx context.Context, key string) error {
	if err := kv.rdb.Del(ctx, portalKey(key)).Err(); err != nil {
		return classify("delete portal value", err)
	}
	return nil
}
