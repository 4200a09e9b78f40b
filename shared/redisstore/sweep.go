package redisstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// SweepResult counts what a sweep recorded.
type SweepResult struct {
	Expired   int `json:"expired"`
	Completed int `json:"completed"`
}

// Tenants returns every tenant that has filed a request.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	var out []string
	iter := s.rdb.SScan(ctx, TenantsKey, 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, classify("list tenants", err)
	}
	return out, nil
}

// Sweep records, for one tenant, every expiry and grant completion due by
// now: one ExpireLockboxRequest or CompleteLockboxRequest event each, each in
// one atomic step with its state change. It reads the deadline index in
// batches of batch entries (O(log N + due) in all) and runs a batch's steps in
// one pipeline. A step decides from the TTL keys, so a request approved in the
// same instant is never also expired; entries whose key still lives (clocks a
// little apart) are left for the next sweep.
func (s *Store) Sweep(ctx context.Context, tenant string, now time.Time, batch int) (SweepResult, error) {
	var res SweepResult
	k := keysFor(tenant)
	skip := int64(0) // entries seen as not yet due stay at the head of the index
	for {
		due, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: k.due(), Start: "-inf", Stop: fmt.Sprint(ms(now)), ByScore: true, Offset: skip, Count: int64(batch),
		}).Result()
		if err != nil {
			return res, classify("read deadlines", err)
		}
		if len(due) == 0 {
			return res, nil
		}
		cmds := make([]*redis.Cmd, len(due))
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, member := range due {
				id := member[2:]
				cmds[i] = settleScript.EvalSha(ctx, p, []string{k.req(id), k.pending(id), k.grant(id),
					k.status(lockbox.StatusPending), k.status(lockbox.StatusApproved), k.status(lockbox.StatusExpired),
					k.status(lockbox.StatusCompleted), k.due(), EventsKey(tenant), k.livePending()}, id, ms(now))
			}
			return nil
		})
		if err != nil && redis.HasErrorPrefix(cmds[0].Err(), "NOSCRIPT") {
			if err := settleScript.Load(ctx, s.rdb).Err(); err != nil {
				return res, classify("load sweep script", err)
			}
			continue
		}
		if err != nil {
			return res, classify("sweep", err)
		}
		for _, c := range cmds {
			out, err := c.StringSlice()
			if err != nil {
				return res, lockbox.Internal("sweep", err)
			}
			switch strings.Join(out, "") {
			case string(lockbox.StatusExpired):
				res.Expired++
			case string(lockbox.StatusCompleted):
				res.Completed++
			case "notdue":
				skip++
			}
		}
		if len(due) < batch {
			return res, nil
		}
	}
}
