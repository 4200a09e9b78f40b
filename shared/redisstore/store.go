// Package redisstore keeps lockbox requests in Redis.
//
// Each tenant's keys share the hash tag {tenant}:
//
//	lb:{t}:req:<id>             hash: the request record
//	lb:{t}:pending:<id>         TTL key: lives exactly as long as the approval window
//	lb:{t}:grant:<id>           TTL key: lives exactly as long as the access grant
//	lb:{t}:idx:all              sorted set of ids by request sequence number
//	lb:{t}:idx:status:<status>  the same, per recorded status
//	lb:{t}:idx:requester:<id>   the same, per requester
//	lb:{t}:seq                  the tenant's request sequence counter
//	lb:{t}:due                  sorted set "p:<id>"/"g:<id>" by deadline (ms), for the sweep
//	lb:{t}:events               stream: the audit events not yet exported
//	lb:{t}:idem:<sha256(key)>   "<body hash>:<id>" of an Idempotency-Key
//	lb:{t}:sig:<sha256(sig)>    a signed delivery already served (replay protection), TTL 10 min
//	lb:{t}:live:pending         sorted set of pending ids by window end (the pending cap)
//	lb:{t}:live:grants:<r>      sorted set of requester r's granted ids by grant end (the grant cap)
//	lb:tenants                  set of tenants that have requests (not tagged: read by the sweep)
//
// Every transition is one Lua script (see scripts.go): one round trip that
// checks the state and the TTL keys, writes the record, moves the indexes and
// appends the audit event, or does nothing at all.
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

// TenantsKey is the set of tenants that have ever filed a request.
const TenantsKey = "lb:tenants"

// Store implements the lockbox lifecycle on Redis.
type Store struct {
	rdb    redis.UniversalClient
	limits lockbox.Limits
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL time.Duration
	// Caps bound what one tenant and one engineer may hold at once.
	Caps Caps
}

// Caps are the usage caps.
type Caps struct {
	// MaxPendingPerTenant bounds a tenant's live pending requests.
	MaxPendingPerTenant int
	// MaxActiveGrantsPerRequester bounds an engineer's live grants in a
	// tenant; filing and approving beyond it are refused.
	MaxActiveGrantsPerRequester int
}

// DefaultCaps are the caps when none are configured.
var DefaultCaps = Caps{MaxPendingPerTenant: 1000, MaxActiveGrantsPerRequester: 5}

// ReplayWindow is how long a signed delivery is remembered: its signature is
// accepted for MaxSkew either side of its timestamp.
const ReplayWindow = 10 * time.Minute

// New returns a store on rdb with the given lifetimes. Keys are remembered
// for as long as a request may stay pending.
func New(rdb redis.UniversalClient, limits lockbox.Limits) *Store {
	return &Store{rdb: rdb, limits: limits, IdempotencyTTL: limits.PendingTTL, Caps: DefaultCaps}
}

// Limits returns the lifetimes the store applies.
func (s *Store) Limits() lockbox.Limits { return s.limits }

// keys builds the key names of one tenant.
type keys string

func keysFor(tenant string) keys                   { return keys("lb:{" + tenant + "}:") }
func (k keys) req(id string) string                { return string(k) + "req:" + id }
func (k keys) pending(id string) string            { return string(k) + "pending:" + id }
func (k keys) grant(id string) string              { return string(k) + "grant:" + id }
func (k keys) all() string                         { return string(k) + "idx:all" }
func (k keys) status(st lockbox.Status) string     { return string(k) + "idx:status:" + string(st) }
func (k keys) byRequester(requester string) string { return string(k) + "idx:requester:" + requester }
func (k keys) seq() string                         { return string(k) + "seq" }
func (k keys) due() string                         { return string(k) + "due" }
func (k keys) idem(keyHash string) string          { return string(k) + "idem:" + keyHash }
func (k keys) sig(sigHash string) string           { return string(k) + "sig:" + sigHash }
func (k keys) livePending() string                 { return string(k) + "live:pending" }
func (k keys) liveGrants(requester string) string  { return string(k) + "live:grants:" + requester }

// EventsKey is the name of a tenant's audit event stream.
func EventsKey(tenant string) string { return TenantKey(tenant, "events") }

// TenantKey names a key of tenant's that other packages keep (the audit
// export's state), under the tenant's hash tag.
func TenantKey(tenant, name string) string { return string(keysFor(tenant)) + name }

// Idempotency identifies a create call by its Idempotency-Key.
type Idempotency struct {
	KeyHash  string // hex SHA-256 of the Idempotency-Key header
	BodyHash string // hex SHA-256 of the normalised request body
}

// CreateOptions are the optional parts of a create.
type CreateOptions struct {
	// Idempotency identifies retries of one create.
	Idempotency *Idempotency
	// SignatureHash, for a signed delivery, is the hex SHA-256 of its
	// signature: the same delivery seen again is refused.
	SignatureHash string
}

// Create stores r, a new Pending request, and its CreateLockboxRequest event.
// With an idempotency key, a request filed before under the same key is
// returned instead (replayed true) when the body matches, and a KindConflict
// error when it does not. Errors: KindUnauthorized (ReplayedRequest: a signed
// delivery seen before), KindConflict, KindTooMany (a usage cap, with
// RetryAfter), KindUnavailable, KindInternal.
func (s *Store) Create(ctx context.Context, r lockbox.Request, opts CreateOptions) (stored lockbox.Request, replayed bool, err error) {
	idem := opts.Idempotency
	k := keysFor(r.TenantID)
	body, err := json.Marshal(r)
	if err != nil {
		return r, false, lockbox.Internal("encode request", err)
	}
	idemKey, idemVal := k.idem("-"), ""
	if idem != nil {
		idemKey, idemVal = k.idem(idem.KeyHash), idem.BodyHash+":"+r.RequestID
	}
	sigKey, sigVal := k.sig("-"), ""
	if opts.SignatureHash != "" {
		sigKey, sigVal = k.sig(opts.SignatureHash), "1"
	}
	keys := []string{k.req(r.RequestID), k.pending(r.RequestID), k.all(), k.status(lockbox.StatusPending),
		k.byRequester(r.Requester.ID), k.seq(), k.due(), EventsKey(r.TenantID), idemKey, sigKey,
		k.livePending(), k.liveGrants(r.Requester.ID)}
	args := []any{r.RequestID, body, ms(r.CreatedDateTime), ms(r.ExpirationDateTime), r.ExpirationDateTime.Sub(r.CreatedDateTime).Milliseconds(),
		r.Requester.ID, r.Duration, r.Grant.Milliseconds(), r.SupportRequest, idemVal, s.IdempotencyTTL.Milliseconds(),
		sigVal, ReplayWindow.Milliseconds(), s.Caps.MaxPendingPerTenant, s.Caps.MaxActiveGrantsPerRequester}

	// The tenant joins the sweep's set in the same round trip as the script.
	var out *redis.Cmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, TenantsKey, r.TenantID)
		out = createScript.EvalSha(ctx, p, keys, args...)
		return nil
	})
	if err != nil && redis.HasErrorPrefix(out.Err(), "NOSCRIPT") {
		out = createScript.Run(ctx, s.rdb, keys, args...)
		err = out.Err()
	}
	if err != nil {
		return r, false, classify("create request", err)
	}
	res, err := out.StringSlice()
	if err != nil {
		return r, false, lockbox.Internal("create request", err)
	}
	switch res[0] {
	case "created":
		return r, false, nil
	case "replayed":
		return r, false, lockbox.Errorf(lockbox.KindUnauthorized, "ReplayedRequest", "this signed delivery was already received; sign each delivery anew")
	case "cap":
		return r, false, capError(res[1], res[2], r.CreatedDateTime)
	case "exists": // a retried call whose first attempt got through
		got, err := s.Get(ctx, r.TenantID, r.RequestID)
		return got, false, err
	case "replay":
		bodyHash, id, _ := strings.Cut(res[1], ":")
		if bodyHash != idem.BodyHash {
			return r, false, lockbox.Errorf(lockbox.KindConflict, "IdempotencyKeyReused",
				"this Idempotency-Key was used for a different request (%s)", id)
		}
		got, err := s.Get(ctx, r.TenantID, id)
		return got, true, err
	}
	return r, false, lockbox.Internal("create request", fmt.Errorf("unexpected script reply %q", res))
}

// Get returns the request id of tenant as it stands now: its effective
// status follows the TTL keys. Errors: KindNotFound (also for ids of other
// tenants, which live under other keys), KindUnavailable.
func (s *Store) Get(ctx context.Context, tenant, id string) (lockbox.Request, error) {
	k := keysFor(tenant)
	var rec *redis.MapStringStringCmd
	var p, g *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		rec = pipe.HGetAll(ctx, k.req(id))
		p = pipe.Exists(ctx, k.pending(id))
		g = pipe.Exists(ctx, k.grant(id))
		return nil
	})
	if err != nil {
		return lockbox.Request{}, classify("get request", err)
	}
	if len(rec.Val()) == 0 {
		return lockbox.Request{}, lockbox.ErrNotFound(id)
	}
	return decode(rec.Val(), p.Val() == 1, g.Val() == 1)
}

// Approve approves request id of tenant for approver, as lockbox.Approve
// describes, in one atomic step. Errors: KindNotFound, KindConflict (with
// CurrentStatus), KindForbidden (SelfApproval), KindInvalid (duration),
// KindUnavailable.
func (s *Store) Approve(ctx context.Context, tenant, id, approver, reason string, durationHours *int, now time.Time) (lockbox.Request, error) {
	return s.decide(ctx, tenant, id, lockbox.StatusApproved, approver, reason, durationHours, now)
}

// Deny denies request id of tenant for approver, as lockbox.Deny describes,
// in one atomic step. Errors as Approve's.
func (s *Store) Deny(ctx context.Context, tenant, id, approver, reason string, now time.Time) (lockbox.Request, error) {
	return s.decide(ctx, tenant, id, lockbox.StatusDenied, approver, reason, nil, now)
}

func (s *Store) decide(ctx context.Context, tenant, id string, to lockbox.Status, approver, reason string, durationHours *int, now time.Time) (lockbox.Request, error) {
	k := keysFor(tenant)
	dur := ""
	if durationHours != nil {
		dur = strconv.Itoa(*durationHours)
	}
	action := "deny"
	if to == lockbox.StatusApproved {
		action = "approve"
	}
	keys := []string{k.req(id), k.pending(id), k.grant(id), k.status(lockbox.StatusPending), k.status(to), k.due(), EventsKey(tenant), k.livePending()}
	res, err := decideScript.Run(ctx, s.rdb, keys, id, string(to), approver, reason, ms(now), dur, s.limits.MaxAccessTTL.Milliseconds(),
		string(k), s.Caps.MaxActiveGrantsPerRequester).Slice()
	if err != nil {
		return lockbox.Request{}, classify(action+" request", err)
	}
	switch res[0] {
	case "ok":
		rec, err := pairs(res[1])
		if err != nil {
			return lockbox.Request{}, lockbox.Internal(action+" request", err)
		}
		return decode(rec, false, to == lockbox.StatusApproved)
	case "notfound":
		return lockbox.Request{}, lockbox.ErrNotFound(id)
	case "conflict":
		return lockbox.Request{}, lockbox.ErrWrongState(action, lockbox.Status(fmt.Sprint(res[1])))
	case "self":
		return lockbox.Request{}, lockbox.Errorf(lockbox.KindForbidden, "SelfApproval", "nobody may decide a request they filed for themself")
	case "duration":
		return lockbox.Request{}, lockbox.Invalidf("duration may only shorten the %v hours asked for", res[1])
	case "cap":
		return lockbox.Request{}, capError(fmt.Sprint(res[1]), fmt.Sprint(res[2]), now)
	}
	return lockbox.Request{}, lockbox.Internal(action+" request", fmt.Errorf("unexpected script reply %v", res))
}

// capError is the KindTooMany error of a usage cap, with the time until the
// earliest entry that holds it ends.
func capError(which, earliestMs string, now time.Time) error {
	msg := "the tenant has too many pending requests"
	if which == "grants" {
		msg = "the engineer already holds the most live grants allowed"
	}
	e := lockbox.Errorf(lockbox.KindTooMany, "TooManyRequests", "%s; retry later", msg)
	e.RetryAfter = max(fromMs(strings.Split(earliestMs, ".")[0]).Sub(now), time.Second)
	return e
}

// decode assembles a request from its stored record and the liveness of its
// TTL keys.
func decode(rec map[string]string, pendingLive, grantLive bool) (lockbox.Request, error) {
	var r lockbox.Request
	if err := json.Unmarshal([]byte(rec["doc"]), &r); err != nil {
		return lockbox.Request{}, lockbox.Internal("decode request", err)
	}
	r.Status = lockbox.Status(rec["status"])
	if g, err := strconv.ParseInt(rec["grantMs"], 10, 64); err == nil {
		r.Grant = time.Duration(g) * time.Millisecond
	}
	if by := rec["decBy"]; by != "" {
		r.Decision = &lockbox.Decision{By: by, Reason: rec["decReason"], DateTime: fromMs(rec["decMs"])}
	}
	if v := rec["accessExpMs"]; v != "" {
		t := fromMs(v)
		r.AccessExpirationDateTime = &t
	}
	switch {
	case r.Status == lockbox.StatusPending && !pendingLive:
		r.Status = lockbox.StatusExpired
	case r.Status == lockbox.StatusApproved && !grantLive:
		r.Status = lockbox.StatusCompleted
	}
	r.AccessActive = r.Status == lockbox.StatusApproved
	return r, nil
}

// pairs turns an HGETALL reply nested in a script reply into a map.
func pairs(v any) (map[string]string, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, fmt.Errorf("record reply of type %T", v)
	}
	m := make(map[string]string, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		m[fmt.Sprint(list[i])] = fmt.Sprint(list[i+1])
	}
	return m, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMilli(n).UTC()
}

// classify turns a Redis failure into a domain error: anything that means the
// store cannot be reached or cannot serve right now is KindUnavailable (503);
// an error reply from a healthy server is a bug (KindInternal).
func classify(op string, err error) error {
	var le *lockbox.Error
	if errors.As(err, &le) {
		return err
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		for _, transient := range []string{"LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "NOREPLICAS", "MOVED", "ASK"} {
			if redis.HasErrorPrefix(err, transient) {
				return lockbox.Unavailable(op, err)
			}
		}
		return lockbox.Internal(op, err)
	}
	return lockbox.Unavailable(op, err)
}
