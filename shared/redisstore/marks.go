package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mark implements usecase.Marks: it records value under name in tenant's
// slot (lb:{t}:mark:<name>) for ttl unless a value is there already, in one
// command (SET NX GET), and returns the value found.
func (s *Store) Mark(ctx context.Context, tenant, name, value string, ttl time.Duration) (string, bool, error) {
	prev, err := s.rdb.SetArgs(ctx, keysFor(tenant).of("mark", name), value, redis.SetArgs{Mode: "NX", Get: true, TTL: ttl}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, classify("mark", err)
	}
	return prev, true, nil
}

// SetMark implements usecase.Marks: it replaces the value under name in
// tenant's slot, for ttl.
func (s *Store) SetMark(ctx context.Context, tenant, name, value string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, keysFor(tenant).of("mark", name), value, ttl).Err(); err != nil {
		return classify("set mark", err)
	}
	return nil
}
