package redisstore

import (
	"context"
	"fmt"
	"time"

	"lockbox.dev/shared/lockbox"
)

// Emergency access (break-glass) lives in the request's record: the
// customer's review window (emergency, ms) from its filing, the review's
// deadline (reviewDueMs) once provider-approvers made it live, and the
// review (reviewVerdict, reviewBy, reviewReason, reviewMs). While it awaits
// the customer's review its id is in the tenant's sorted set unreviewed,
// and its deadline is a timer ("review:<id>") that escalates it.

// reviewScript records the customer's review (lua/review.lua).
var reviewScript = loadScript[reviewArgs]("review.lua")

// reviewArgs are the review script's arguments.
type reviewArgs struct {
	Prefix    string `lua:"prefix"`
	ID        string `lua:"id"`
	Verdict   string `lua:"verdict"` // lockbox.VerdictAcknowledge or VerdictDispute
	Op        string `lua:"op"`      // the verdict's audit operation
	ActorKind string `lua:"actorKind"`
	ActorID   string `lua:"actorId"`
	Principal string `lua:"principal"` // the reviewer's key (Principal.Key)
	Reason    string `lua:"reason"`
	NowMs     int64  `lua:"nowMs"`
}

func (a reviewArgs) args() []any {
	return []any{a.Prefix, a.ID, a.Verdict, a.Op, a.ActorKind, a.ActorID, a.Principal, a.Reason, a.NowMs}
}

// ReviewEmergency implements lockbox.EmergencyStore in one script.
func (s *Store) ReviewEmergency(ctx context.Context, tenant string, in lockbox.ReviewInput, actor lockbox.Actor, principal string,
	now time.Time) (lockbox.Request, error) {
	k := keysFor(tenant)
	res, err := reviewScript.Run(ctx, s.rdb, []string{k.req(in.RequestID)}, reviewArgs{Prefix: string(k), ID: in.RequestID,
		Verdict: in.Verdict, Op: in.Op(), ActorKind: string(actor.Kind), ActorID: actor.ID, Principal: principal, Reason: in.Reason,
		NowMs: ms(now)}).Slice()
	if err != nil {
		return lockbox.Request{}, classify("review emergency access", err)
	}
	if isRefusal(res) {
		return lockbox.Request{}, refusal(res, in.RequestID, now)
	}
	if len(res) != 3 || res[0] != "ok" {
		return lockbox.Request{}, lockbox.Internal("review emergency access", fmt.Errorf("unexpected script reply %v", res))
	}
	rec, err := pairs(res[1])
	if err != nil {
		return lockbox.Request{}, lockbox.Internal("review emergency access", err)
	}
	live, _ := res[2].(int64)
	return decode(rec, false, live == 1)
}

// MaxUnreviewed bounds the emergency access Unreviewed returns.
const MaxUnreviewed = 100

// Unreviewed implements lockbox.EmergencyStore: the tenant's emergency
// access awaiting review, newest first, at most MaxUnreviewed, in two round
// trips.
func (s *Store) Unreviewed(ctx context.Context, tenant string) ([]lockbox.Request, error) {
	ids, err := s.rdb.ZRevRange(ctx, keysFor(tenant).of("unreviewed", ""), 0, MaxUnreviewed-1).Result()
	if err != nil {
		return nil, classify("read unreviewed emergency access", err)
	}
	got, _, err := s.getMany(ctx, tenant, ids) // an id pruned meanwhile is left out
	return got, err
}
