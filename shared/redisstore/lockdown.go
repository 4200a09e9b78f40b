package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"lockbox.dev/shared/lockbox"
)

// A tenant's lockdown lives in its slot (lb:{t}:lockdown: since, until,
// reason, by) while it is in force: the lockdown script ends the tenant's
// live grants and waiting requests and records it in one step, and the
// create script reads it before filing anything. An until is compared by
// the scripts with the caller's clock; the key also expires a day after it
// (lockdownKeep, a TTL relative to the caller's now, so that a difference
// between the caller's and Redis's clocks cannot end it early), so that an
// ended lockdown does not stay in Redis.

// lockdownKeep is how long after its until a lockdown's key is kept:
// beyond any clock difference between callers and Redis.
const lockdownKeep = 24 * time.Hour

var (
	// lockdownScript locks a tenant down (lua/lockdown.lua).
	lockdownScript = loadScript[lockdownArgs]("lockdown.lua")
	// liftScript lifts a tenant's lockdown (lua/lift_lockdown.lua).
	liftScript = loadScript[liftArgs]("lift_lockdown.lua")
)

// lockdownArgs are the lockdown script's arguments.
type lockdownArgs struct {
	Prefix      string            `lua:"prefix"`
	NowMs       int64             `lua:"nowMs"`
	UntilMs     string            `lua:"untilMs"` // when it ends by itself ("" when lifted by hand)
	KeepMs      int64             `lua:"keepMs"`  // how long Redis keeps the key (until - now + lockdownKeep)
	Reason      string            `lua:"reason"`
	AuditReason string            `lua:"auditReason"` // the event's reason: the reason and the until
	ActorKind   string            `lua:"actorKind"`
	ActorID     string            `lua:"actorId"`
	Op          string            `lua:"op"`   // LockdownTenant
	Note        string            `lua:"note"` // the tenant's notification
	Ends        []lockdownEndArgs // lockbox.LockdownEnds
}

// lockdownEndArgs are one status a lockdown ends and the action that ends
// it.
type lockdownEndArgs struct {
	Status string `lua:"status"`
	Action string `lua:"action"`
}

func (a lockdownArgs) args() []any {
	out := []any{a.Prefix, a.NowMs, a.UntilMs, a.KeepMs, a.Reason, a.AuditReason, a.ActorKind, a.ActorID, a.Op, a.Note}
	for _, e := range a.Ends {
		out = append(out, e.Status, e.Action)
	}
	return out
}

// liftArgs are the lift script's arguments.
type liftArgs struct {
	Prefix    string `lua:"prefix"`
	NowMs     int64  `lua:"nowMs"`
	Reason    string `lua:"reason"`
	ActorKind string `lua:"actorKind"`
	ActorID   string `lua:"actorId"`
	Op        string `lua:"op"`   // LiftTenantLockdown
	Note      string `lua:"note"` // the tenant's notification
}

func (a liftArgs) args() []any {
	return []any{a.Prefix, a.NowMs, a.Reason, a.ActorKind, a.ActorID, a.Op, a.Note}
}

// Lockdown implements lockbox.LockdownStore in one script (lockdownScript).
func (s *Store) Lockdown(ctx context.Context, tenant string, in lockbox.LockdownInput, actor lockbox.Actor, now time.Time) (lockbox.LockdownResult, error) {
	k := keysFor(tenant)
	a := lockdownArgs{Prefix: string(k), NowMs: ms(now), Reason: in.Reason, AuditReason: in.Reason, ActorKind: string(actor.Kind),
		ActorID: actor.ID, Op: lockbox.OpLockdown, Note: string(lockbox.NoteLockdown)}
	if in.Until != nil {
		a.UntilMs = strconv.FormatInt(ms(*in.Until), 10)
		a.KeepMs = (in.Until.Sub(now) + lockdownKeep).Milliseconds()
		a.AuditReason = in.Reason + " (until " + in.Until.UTC().Format(time.RFC3339) + ")"
	}
	for _, e := range lockbox.LockdownEnds {
		a.Ends = append(a.Ends, lockdownEndArgs{Status: string(e.Status), Action: string(e.Action)})
	}
	key := k.of("lockdown", "")
	res, err := lockdownScript.Run(ctx, s.rdb, []string{key}, a).Slice()
	if err != nil {
		return lockbox.LockdownResult{}, classify("lock tenant down", err)
	}
	if err := s.join(ctx, tenant); err != nil {
		return lockbox.LockdownResult{}, err
	}
	if len(res) != 2 || res[0] != "ok" {
		return lockbox.LockdownResult{}, lockbox.Internal("lock tenant down", fmt.Errorf("unexpected script reply %v", res))
	}
	out := lockbox.LockdownResult{Lockdown: lockdownOf(tenant, map[string]string{"since": strconv.FormatInt(a.NowMs, 10),
		"until": a.UntilMs, "reason": in.Reason, "by": actor.ID}, now), Revoked: []string{}, Canceled: []string{}}
	groups, _ := res[1].([]any)
	for _, g := range groups {
		pair, _ := g.([]any)
		if len(pair) != 2 {
			return lockbox.LockdownResult{}, lockbox.Internal("lock tenant down", fmt.Errorf("unexpected script reply %v", res))
		}
		ids, _ := pair[1].([]any)
		for _, id := range ids {
			switch lockbox.Transitions[lockbox.Action(str(pair[0]))].To {
			case lockbox.StatusRevoked:
				out.Revoked = append(out.Revoked, str(id))
			default:
				out.Canceled = append(out.Canceled, str(id))
			}
		}
	}
	return out, nil
}

// LiftLockdown implements lockbox.LockdownStore in one script (liftScript).
func (s *Store) LiftLockdown(ctx context.Context, tenant string, actor lockbox.Actor, reason string, now time.Time) (lockbox.Lockdown, error) {
	k := keysFor(tenant)
	res, err := liftScript.Run(ctx, s.rdb, []string{k.of("lockdown", "")}, liftArgs{Prefix: string(k), NowMs: ms(now), Reason: reason,
		ActorKind: string(actor.Kind), ActorID: actor.ID, Op: lockbox.OpLiftLockdown, Note: string(lockbox.NoteLockdownLifted)}).Slice()
	if err != nil {
		return lockbox.Lockdown{}, classify("lift lockdown", err)
	}
	if isRefusal(res) {
		return lockbox.Lockdown{}, refusal(res, "", now)
	}
	return lockbox.Lockdown{TenantID: tenant}, s.join(ctx, tenant)
}

// join adds tenant to TenantsKey after a script that appended its events
// and notifications, so that the audit run exports them and the notify run
// sends them even for a tenant pruned as idle (after the script: see Prune).
// It is a round trip of its own rather than pipelined with the script,
// whose resending by a cluster pipeline would record a second lockdown.
func (s *Store) join(ctx context.Context, tenant string) error {
	if err := s.rdb.SAdd(ctx, TenantsKey, tenant).Err(); err != nil {
		return classify("join the tenants", err)
	}
	return nil
}

// LockdownState implements lockbox.LockdownStore: one HGETALL.
func (s *Store) LockdownState(ctx context.Context, tenant string, now time.Time) (lockbox.Lockdown, error) {
	rec, err := s.rdb.HGetAll(ctx, keysFor(tenant).of("lockdown", "")).Result()
	if err != nil {
		return lockbox.Lockdown{}, classify("read lockdown", err)
	}
	return lockdownOf(tenant, rec, now), nil
}

// lockdownOf is the lockdown recorded as rec ({} for none), as of now: one
// whose until passed is no longer in force, and is shown as none.
func lockdownOf(tenant string, rec map[string]string, now time.Time) lockbox.Lockdown {
	l := lockbox.Lockdown{TenantID: tenant}
	if rec["since"] == "" {
		return l
	}
	if u := rec["until"]; u != "" {
		until := fromMs(u)
		if !until.After(now) {
			return l
		}
		l.Until = &until
	}
	since := fromMs(rec["since"])
	l.Active, l.Since, l.Reason, l.By = true, &since, rec["reason"], rec["by"]
	return l
}
