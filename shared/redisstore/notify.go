package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// The notifications' side of the store. Every change someone must hear about
// records a notification in the tenant's outbox (lb:{t}:outbox) in the same
// script as the change, and the time-based ones (reminders, escalation, a
// grant's end notice) as timers (lb:{t}:timers) that fall due. lockbox-notify
// turns due timers into notifications (FireTimers), expands each
// notification into one delivery per recipient and channel (Expand, which
// drops it from the outbox in the same step), claims due deliveries under a
// lease (Claim) and records each attempt's outcome (Delivered, Failed).

// DeliveryRetention is how long a finished delivery (sent, or failed for
// good) stays readable, for its request's delivery records and the dead
// letters; then Redis drops it.
const DeliveryRetention = 30 * 24 * time.Hour

// outboxField is the one field of an outbox entry: type, requestId, time
// (Unix ms), actorKind, actorId and reason as netstrings.
const outboxField = "n"

var (
	// fireTimersScript turns due timers into notifications
	// (lua/fire_timers.lua).
	fireTimersScript = loadScript[timerArgs]("fire_timers.lua")
	// expandScript creates the deliveries of one notification
	// (lua/expand.lua).
	expandScript = loadScript[expandArgs]("expand.lua")
	// claimScript claims due deliveries under a lease (lua/claim.lua).
	claimScript = loadScript[claimArgs]("claim.lua")
	// resultScript records one delivery attempt (lua/result.lua).
	resultScript = loadScript[resultArgs]("result.lua")
)

// timerArgs are the fire-timers script's arguments.
type timerArgs struct {
	Prefix string `lua:"prefix"`
	NowMs  int64  `lua:"nowMs"`
	Limit  int    `lua:"limit"`
}

func (a timerArgs) args() []any { return []any{a.Prefix, a.NowMs, a.Limit} }

// expandArgs are the expand script's arguments.
type expandArgs struct {
	Prefix     string         `lua:"prefix"`
	EntryID    string         `lua:"entryId"` // the notification's outbox entry
	NowMs      int64          `lua:"nowMs"`
	RequestID  string         `lua:"requestId"`
	Snap       string         `lua:"snap"` // the request as it stood (JSON: every attempt of a delivery says the same)
	Deliveries []deliveryArgs // one group of arguments each
}

// deliveryArgs are the arguments of one delivery that the expand script
// creates.
type deliveryArgs struct {
	ID        string `lua:"id"`
	Channel   string `lua:"channel"`
	Target    string `lua:"target"`
	Type      string `lua:"type"`
	TimeMs    int64  `lua:"timeMs"`
	ActorKind string `lua:"actorKind"`
	ActorID   string `lua:"actorId"`
	Reason    string `lua:"reason"`
}

func (a expandArgs) args() []any {
	out := make([]any, 0, 5+8*len(a.Deliveries))
	out = append(out, a.Prefix, a.EntryID, a.NowMs, a.RequestID, a.Snap)
	for _, d := range a.Deliveries {
		out = append(out, d.ID, d.Channel, d.Target, d.Type, d.TimeMs, d.ActorKind, d.ActorID, d.Reason)
	}
	return out
}

// claimArgs are the claim script's arguments.
type claimArgs struct {
	Prefix  string `lua:"prefix"`
	NowMs   int64  `lua:"nowMs"`
	LeaseMs int64  `lua:"leaseMs"`
	Limit   int    `lua:"limit"`
}

func (a claimArgs) args() []any { return []any{a.Prefix, a.NowMs, a.LeaseMs, a.Limit} }

// resultArgs are the result script's arguments.
type resultArgs struct {
	Prefix      string `lua:"prefix"`
	NowMs       int64  `lua:"nowMs"`
	Outcome     string `lua:"outcome"`     // "sent" or "failed"
	Error       string `lua:"error"`       // why it failed
	Next        string `lua:"next"`        // when to try again (ms; "" when failed for good)
	ID          string `lua:"id"`          // the delivery
	RetentionMs int64  `lua:"retentionMs"` // how long a finished delivery is kept
}

func (a resultArgs) args() []any {
	return []any{a.Prefix, a.NowMs, a.Outcome, a.Error, a.Next, a.ID, a.RetentionMs}
}

// FireTimers turns tenant's timers due by now into notifications, at most
// limit, and reports how many it recorded.
func (s *Store) FireTimers(ctx context.Context, tenant string, now time.Time, limit int) (int, error) {
	k := keysFor(tenant)
	n, err := fireTimersScript.Run(ctx, s.rdb, []string{k.of("timers", "")}, timerArgs{Prefix: string(k), NowMs: ms(now), Limit: limit}).Int()
	if err != nil {
		return 0, classify("fire timers", err)
	}
	return n, nil
}

// Outbox returns up to n of tenant's notifications waiting to be expanded,
// oldest first; their Request holds only the tenant and request ids.
func (s *Store) Outbox(ctx context.Context, tenant string, n int) ([]lockbox.Notification, error) {
	msgs, err := s.rdb.XRangeN(ctx, keysFor(tenant).of("outbox", ""), "-", "+", int64(n)).Result()
	if err != nil {
		return nil, classify("read outbox", err)
	}
	out := make([]lockbox.Notification, 0, len(msgs))
	for _, m := range msgs {
		v, _ := m.Values[outboxField].(string)
		f, err := netstrings(v, 6)
		if err != nil {
			return nil, lockbox.Internal("read outbox entry "+m.ID, err)
		}
		out = append(out, lockbox.Notification{ID: m.ID, Type: lockbox.NotificationType(f[0]),
			Request: lockbox.Request{TenantID: tenant, RequestID: f[1]}, Time: fromMs(f[2]),
			Actor: lockbox.Actor{Kind: lockbox.ActorKind(f[3]), ID: f[4]}, Reason: f[5]})
	}
	return out, nil
}

// Expand records the deliveries of notification n (all of n's tenant) and
// drops n from the outbox, in one step. Each keeps n.Request as it stands, so
// that every attempt of a delivery carries the same content. Deliveries that
// exist already are kept as they are.
func (s *Store) Expand(ctx context.Context, n lockbox.Notification, deliveries []lockbox.Delivery, now time.Time) error {
	k := keysFor(n.Request.TenantID)
	snap := ""
	if len(deliveries) > 0 {
		var err error
		if snap, err = encodeJSON(n.Request); err != nil {
			return lockbox.Internal("expand notification", err)
		}
	}
	a := expandArgs{Prefix: string(k), EntryID: n.ID, NowMs: ms(now), RequestID: n.Request.RequestID, Snap: snap,
		Deliveries: make([]deliveryArgs, len(deliveries))}
	for i, d := range deliveries {
		a.Deliveries[i] = deliveryArgs{ID: d.ID, Channel: d.Channel, Target: d.Target, Type: string(n.Type), TimeMs: ms(n.Time),
			ActorKind: string(n.Actor.Kind), ActorID: n.Actor.ID, Reason: n.Reason}
	}
	if err := expandScript.Run(ctx, s.rdb, []string{k.of("outbox", "")}, a).Err(); err != nil {
		return classify("expand notification", err)
	}
	return nil
}

// Claim claims up to n of tenant's deliveries due by now, each for lease.
func (s *Store) Claim(ctx context.Context, tenant string, now time.Time, lease time.Duration, n int) ([]lockbox.Delivery, error) {
	k := keysFor(tenant)
	res, err := claimScript.Run(ctx, s.rdb, []string{k.of("sendq", "")},
		claimArgs{Prefix: string(k), NowMs: ms(now), LeaseMs: lease.Milliseconds(), Limit: n}).Slice()
	if err != nil {
		return nil, classify("claim deliveries", err)
	}
	out := make([]lockbox.Delivery, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		rec, err := pairs(res[i+1])
		if err != nil {
			return nil, lockbox.Internal("claim deliveries", err)
		}
		out = append(out, decodeDelivery(tenant, fmt.Sprint(res[i]), rec))
	}
	return out, nil
}

// Delivered records that delivery id of tenant was sent at now.
func (s *Store) Delivered(ctx context.Context, tenant, id string, now time.Time) error {
	return s.result(ctx, tenant, id, now, "sent", "", time.Time{})
}

// Failed records a failed attempt of delivery id of tenant: to be tried
// again at next, or, with a zero next, failed for good (dead-lettered).
// reason must be safe to show (no secret, no body).
func (s *Store) Failed(ctx context.Context, tenant, id string, now time.Time, reason string, next time.Time) error {
	return s.result(ctx, tenant, id, now, "failed", reason, next)
}

func (s *Store) result(ctx context.Context, tenant, id string, now time.Time, outcome, reason string, next time.Time) error {
	k := keysFor(tenant)
	nextMs := ""
	if !next.IsZero() {
		nextMs = strconv.FormatInt(ms(next), 10)
	}
	if len(reason) > 300 {
		reason = reason[:300]
	}
	err := resultScript.Run(ctx, s.rdb, []string{k.of("delivery", id)}, resultArgs{Prefix: string(k), NowMs: ms(now),
		Outcome: outcome, Error: reason, Next: nextMs, ID: id, RetentionMs: DeliveryRetention.Milliseconds()}).Err()
	if err != nil {
		return classify("record delivery", err)
	}
	return nil
}

// Deliveries returns the deliveries of request id of tenant, oldest first.
func (s *Store) Deliveries(ctx context.Context, tenant, id string) ([]lockbox.Delivery, error) {
	k := keysFor(tenant)
	ids, err := s.rdb.ZRange(ctx, k.of("deliveries", id), 0, 199).Result()
	if err != nil {
		return nil, classify("read deliveries", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range ids {
			cmds[i] = p.HGetAll(ctx, k.of("delivery", d))
		}
		return nil
	})
	if err != nil {
		return nil, classify("read deliveries", err)
	}
	out := make([]lockbox.Delivery, 0, len(ids))
	for i, c := range cmds {
		if len(c.Val()) > 0 {
			out = append(out, decodeDelivery(tenant, ids[i], c.Val()))
		}
	}
	return out, nil
}

// DeadLetters returns how many of tenant's deliveries failed for good.
func (s *Store) DeadLetters(ctx context.Context, tenant string) (int64, error) {
	n, err := s.rdb.ZCard(ctx, keysFor(tenant).of("dead", "")).Result()
	if err != nil {
		return 0, classify("read dead letters", err)
	}
	return n, nil
}

func decodeDelivery(tenant, id string, rec map[string]string) lockbox.Delivery {
	attempts, _ := strconv.Atoi(rec["attempts"])
	d := lockbox.Delivery{
		ID: id, Channel: rec["channel"], Target: rec["target"], State: lockbox.DeliveryState(rec["state"]), Attempts: attempts,
		LastError: rec["error"], Created: fromMs(rec["created"]), Updated: fromMs(rec["updated"]),
		Notification: lockbox.Notification{ID: rec["note"], Type: lockbox.NotificationType(rec["type"]),
			Request: lockbox.Request{TenantID: tenant, RequestID: rec["request"]}, Time: fromMs(rec["time"]),
			Actor: lockbox.Actor{Kind: lockbox.ActorKind(rec["actorKind"]), ID: rec["actorId"]}, Reason: rec["reason"]},
	}
	if rec["next"] != "" {
		d.Next = fromMs(rec["next"])
	}
	if snap := rec["snap"]; snap != "" {
		var r lockbox.Request
		if json.Unmarshal([]byte(snap), &r) == nil && r.RequestID == d.Notification.Request.RequestID {
			d.Notification.Request = r
		}
	}
	return d
}

// netstrings splits s, n values written as length:bytes.
func netstrings(s string, n int) ([]string, error) {
	out := make([]string, n)
	if err := splitNetstrings(out, s); err != nil {
		return nil, err
	}
	return out, nil
}

// splitNetstrings splits s, len(out) values written as length:bytes, into
// out.
func splitNetstrings(out []string, s string) error {
	for i := range out {
		size, rest, ok := strings.Cut(s, ":")
		l, err := strconv.Atoi(size)
		if !ok || err != nil || l < 0 || l > len(rest) {
			return fmt.Errorf("value %d of %d is malformed", i+1, len(out))
		}
		out[i], s = rest[:l], rest[l:]
	}
	if s != "" {
		return errors.New("more values than the layout has")
	}
	return nil
}
