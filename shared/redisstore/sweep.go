package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// Tenants implements lockbox.Sweeper: every tenant in TenantsKey.
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

// Sweep implements lockbox.Sweeper: it records, for one tenant, every expiry
// and grant completion due by now, one ExpireLockboxRequest or
// CompleteLockboxRequest event each, each in one atomic step with its state
// change. It reads two deadline indexes, the pending ids by window end
// (livePending, which the pending cap counts too) and the grants by end
// (due), in batches of SweepBatch entries (O(log N + due) in all), and runs
// a batch's steps in one pipeline. A step decides from the TTL keys, so a
// request approved in the same instant is never also expired; entries whose
// key still lives (clocks a little apart) are left for the next sweep.
func (s *Store) Sweep(ctx context.Context, tenant string, now time.Time) (lockbox.SweepResult, error) {
	var res lockbox.SweepResult
	k := keysFor(tenant)
	// due's members are "g:<id>".
	if err := s.sweepIndex(ctx, k, k.of("livePending", ""), func(m string) string { return m }, now, &res); err != nil {
		return res, err
	}
	return res, s.sweepIndex(ctx, k, k.of("due", ""), func(m string) string { return m[2:] }, now, &res)
}

// sweepIndex settles the requests of one deadline index that are due by
// now; idOf turns a member into its request id.
func (s *Store) sweepIndex(ctx context.Context, k keys, index string, idOf func(string) string, now time.Time, res *lockbox.SweepResult) error {
	batch := max(s.SweepBatch, 1)
	skip := int64(0) // entries seen as not yet due stay at the head of the index
	for {
		due, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: index, Start: "-inf", Stop: fmt.Sprint(ms(now)), ByScore: true, Offset: skip, Count: int64(batch),
		}).Result()
		if err != nil {
			return classify("read deadlines", err)
		}
		if len(due) == 0 {
			return nil
		}
		cmds := make([]*redis.Cmd, len(due))
		// Each command carries its own reply or error, read below.
		_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, member := range due {
				id := idOf(member)
				cmds[i] = settleScript.With(settleArgs{Prefix: string(k), ID: id, NowMs: ms(now)}).EvalSha(ctx, p, []string{k.req(id)})
			}
			return nil
		})
		// A run that finds the script missing loads it and reads the index
		// again. Settles of the same pipeline that ran (another sweep may load
		// the script between two of them) are counted first: the index no
		// longer lists them.
		reload := false
		for _, c := range cmds {
			out, err := c.StringSlice()
			switch {
			case redis.HasErrorPrefix(c.Err(), "NOSCRIPT"):
				reload = true
				continue
			case err != nil:
				return classify("sweep", err)
			}
			switch strings.Join(out, "") {
			case string(lockbox.ActionExpire), string(lockbox.ActionExpireReview):
				res.Expired++
			case string(lockbox.ActionComplete):
				res.Completed++
			case "notdue":
				skip++
			}
		}
		if reload {
			if err := settleScript.Load(ctx, s.rdb).Err(); err != nil {
				return classify("load sweep script", err)
			}
			continue
		}
		if len(due) < batch {
			return nil
		}
	}
}

// Prune removes tenant from TenantsKey when nothing of it is pending, live
// or unexported, so that the set a sweep walks does not only grow. It
// reports whether the tenant was removed.
//
// TenantsKey has no hash tag, so it cannot change in the same script as a
// tenant's keys. Prune therefore checks that the tenant is idle and reads
// the seq of its last audit event (pruneMarkScript), removes it from the
// set, then reads the seq again: a create or settings change in between
// appended an event, and the tenant is added back. A create adds the tenant
// to the set after its script, so a create running at any point of a prune
// leaves the tenant in the set.
func (s *Store) Prune(ctx context.Context, tenant string) (bool, error) {
	k := keysFor(tenant)
	seqKey := k.of("auditSeq", "")
	seq, err := pruneMarkScript.Run(ctx, s.rdb, []string{seqKey}, pruneArgs{Prefix: string(k)}).Text()
	if errors.Is(err, redis.Nil) {
		return false, nil // busy
	}
	if err != nil {
		return false, classify("prune tenant", err)
	}
	if err := s.rdb.SRem(ctx, TenantsKey, tenant).Err(); err != nil {
		return false, classify("prune tenant", err)
	}
	now, err := s.rdb.Get(ctx, seqKey).Result()
	if errors.Is(err, redis.Nil) {
		now, err = "0", nil
	}
	if err == nil && now == seq {
		return true, nil
	}
	// An event was appended meanwhile, or the check failed: the tenant rejoins.
	if err2 := s.rdb.SAdd(ctx, TenantsKey, tenant).Err(); err2 != nil {
		return false, classify("prune tenant", err2)
	}
	if err != nil {
		return false, classify("prune tenant", err)
	}
	return false, nil
}
