// Package redisstore keeps lockbox requests, and the audit events waiting for
// export, in Redis. It implements lockbox.Store, lockbox.Sweeper and the
// audit export's log.
//
// Every key of a tenant carries the hash tag {tenant} ("lb:{t}:…", named in
// keys.go), so every script touches one slot and runs unchanged on Redis
// Cluster. Every transition is one Lua script (lua/, declared in
// scripts.go): one round trip that checks the state and the TTL keys, writes
// the record, moves the indexes and appends the audit event with its seq, or
// does nothing at all. The scripts share a prelude rendered from the
// domain's names and transition table (prelude.go), and read their arguments
// and record fields by name, resolved when the package loads (lua.go). They
// are the implementation of the lifecycle: lockbox.Apply and lockbox.Settle
// are its specification in Go, which no production code runs, and the
// lifecycle scenarios (TestScenarios) hold the scripts to it.
package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// Store implements the lockbox lifecycle on Redis.
type Store struct {
	rdb    redis.UniversalClient
	limits lockbox.Limits
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL time.Duration
	// Caps bound what one tenant and one engineer may hold at once.
	Caps Caps
	// MaxPageBytes bounds the records one list page holds (at least one).
	MaxPageBytes int
	// SweepBatch is how many deadlines one sweep step reads (and settles in
	// one pipeline).
	SweepBatch int
	// DefaultEnabled is whether Lockbox is on for a tenant that never saved
	// settings (default_enabled).
	DefaultEnabled bool

	settings settingsCache
}

// Caps are the usage caps.
type Caps struct {
	// MaxPendingPerTenant bounds a tenant's live pending requests.
	MaxPendingPerTenant int
	// MaxPendingPerRequester bounds one engineer's live pending requests in
	// a tenant, so that one requester meets their own cap before the
	// tenant's.
	MaxPendingPerRequester int
	// MaxActiveGrantsPerRequester bounds an engineer's live grants in a
	// tenant; filing and approving beyond it are refused.
	MaxActiveGrantsPerRequester int
}

// DefaultCaps are the caps when none are configured.
var DefaultCaps = Caps{MaxPendingPerTenant: 1000, MaxPendingPerRequester: 50, MaxActiveGrantsPerRequester: 5}

// DefaultSweepBatch is the default of Store.SweepBatch.
const DefaultSweepBatch = 1000

// DefaultMaxPageBytes is the default of Store.MaxPageBytes: 1 MiB of records,
// well inside a function's 64 MiB however hostile the records are.
const DefaultMaxPageBytes = 1 << 20

// ReplayWindow is how long a signed delivery is remembered: its signature is
// accepted for MaxSkew (5 minutes) either side of its timestamp, and replicas'
// clocks may differ, so the delivery is remembered for those 10 minutes plus
// a margin of 5.
const ReplayWindow = 15 * time.Minute

// New returns a store on rdb with the given lifetimes. Idempotency keys are
// remembered for as long as a request may stay pending.
func New(rdb redis.UniversalClient, limits lockbox.Limits) *Store {
	return &Store{rdb: rdb, limits: limits, IdempotencyTTL: limits.PendingTTL, Caps: DefaultCaps,
		MaxPageBytes: DefaultMaxPageBytes, SweepBatch: DefaultSweepBatch, DefaultEnabled: true}
}

// Limits returns the lifetimes the store applies.
func (s *Store) Limits() lockbox.Limits { return s.limits }

// Create implements lockbox.Store: it files r under its tenant's settings
// (lockbox.Request.Govern, lockbox.Settings.Decide), in one round trip
// when the settings the store last saw of the tenant are still current,
// which the script checks; otherwise it learns the current ones from the
// script's answer and files again. The tenant joins TenantsKey in the
// same round trip, after the script (see Prune for why after); it joins
// StatsTenantsKey once, with a round trip of its own, when the script
// says the filing was the tenant's first counted step, so that a refused
// filing adds nothing there.
func (s *Store) Create(ctx context.Context, r lockbox.Request, opts lockbox.CreateOptions) (lockbox.Request, bool, error) {
	for range 3 {
		set, version := s.cachedSettings(r.TenantID)
		// A filing the settings refuse outright (Settings.Admit) is refused
		// by the script once it has checked that these settings are current.
		stored, replayed, changed, err := s.create(ctx, r.Govern(set), set.Decide(r.Govern(set)), set.Admit(r), version, opts)
		if changed == nil {
			return stored, replayed, err
		}
		s.remember(r.TenantID, *changed)
	}
	return r, false, lockbox.Unavailable("create request", errors.New("the tenant's settings kept changing"))
}

// create runs the create script once. refused, when not nil, is the
// settings' refusal of r (lockbox.Settings.Admit), answered once the script
// found the settings of version current. changed is the tenant's current
// settings when they are not of the version given.
func (s *Store) create(ctx context.Context, r lockbox.Request, auto lockbox.AutoDecision, refused error, version int64, opts lockbox.CreateOptions) (
	stored lockbox.Request, replayed bool, changed *lockbox.Settings, err error) {
	k := keysFor(r.TenantID)
	review := 0
	if r.Status == lockbox.StatusInternalReview && r.ProviderChecks != nil {
		// The provider's internal review comes first: its window is the
		// pending key's until the release opens the customer's.
		review = max(r.ProviderChecks.InternalApprovalsRequired, 1)
		r = r.ReviewWindow(s.limits)
	}
	var emergency int64
	if r.Emergency != nil {
		emergency = s.limits.ReviewTTL().Milliseconds()
	}
	doc, err := encodeJSON(r)
	if err != nil {
		return r, false, nil, lockbox.Internal("encode request", err)
	}
	var idemHash, idemVal, bodyHash string
	if idem := opts.Idempotency; idem != nil {
		idemHash, idemVal = idem.KeyHash, idem.BodyHash+":"+r.RequestID
	}
	if same := opts.SameBody; same != nil {
		bodyHash = same.KeyHash
	}
	requesterKey := lockbox.UserKey(r.Requester.ID)
	call := createScript.With(createArgs{Prefix: string(k), ID: r.RequestID, Doc: doc, CreatedMs: ms(r.CreatedDateTime),
		ExpMs: ms(r.ExpirationDateTime), PendingTTLMs: r.ExpirationDateTime.Sub(r.CreatedDateTime).Milliseconds(),
		Requester: r.Requester.ID, RequesterKey: requesterKey, Canonical: lockbox.CanonicalID(r.Requester.ID),
		FiledBy: r.FiledBy, Duration: r.Duration, GrantMs: r.Grant.Milliseconds(), Support: r.SupportRequest,
		IdemHash: idemHash, IdemVal: idemVal, IdemTTLMs: s.IdempotencyTTL.Milliseconds(), SigHash: opts.SignatureHash,
		SigTTLMs: ReplayWindow.Milliseconds(), MaxPending: s.Caps.MaxPendingPerTenant,
		MaxRequesterPending: s.Caps.MaxPendingPerRequester, MaxGrants: s.Caps.MaxActiveGrantsPerRequester,
		Version: version, Required: r.RequiredApprovals, MaxGrantMs: r.MaxGrant.Milliseconds(),
		AutoAction: string(auto.Action), AutoActor: auto.ActorID, AutoReason: auto.Reason,
		MaxAccessMs: s.limits.MaxAccessTTL.Milliseconds(), Remind: joinMs(r.Reminders), EscalateMs: r.EscalateAfter.Milliseconds(),
		BodyHash: bodyHash, Resources: strings.Join(r.ResourceIDs, "\n"), Level: r.AccessLevel, Review: review,
		Emergency: emergency, Refused: flag(refused != nil)})
	keys := []string{k.req(r.RequestID)}

	var out *redis.Cmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		out = call.EvalSha(ctx, p, keys)
		p.SAdd(ctx, TenantsKey, r.TenantID)
		return nil
	})
	if err != nil && redis.HasErrorPrefix(out.Err(), "NOSCRIPT") {
		out = call.Run(ctx, s.rdb, keys)
		if err = out.Err(); err == nil {
			err = s.rdb.SAdd(ctx, TenantsKey, r.TenantID).Err()
		}
	}
	if err != nil {
		return r, false, nil, classify("create request", err)
	}
	res, err := out.Slice()
	if err != nil {
		return r, false, nil, lockbox.Internal("create request", err)
	}
	if len(res) == 2 && res[0] == "created" && res[1] == "new" {
		if err := s.rdb.SAdd(ctx, StatsTenantsKey, r.TenantID).Err(); err != nil {
			return r, false, nil, classify("create request", err)
		}
		res = res[:1]
	}
	switch {
	case isRefusal(res) && len(res) == 2 && res[1] == "refused" && refused != nil:
		return r, false, nil, refused
	case isRefusal(res):
		return r, false, nil, refusal(res, r.RequestID, r.CreatedDateTime)
	case res[0] == "created" && (auto.Action == "" || review > 0):
		return r, false, nil, nil
	case res[0] == "created", res[0] == "exists": // decided at once, or a retried call whose first attempt got through
		got, err := s.Get(ctx, r.TenantID, r.RequestID)
		return got, false, nil, err
	case res[0] == "replay" && len(res) == 2:
		got, err := s.Get(ctx, r.TenantID, fmt.Sprint(res[1]))
		return got, true, nil, err
	case res[0] == "settings" && len(res) == 3:
		set, err := s.decodeSettings(fmt.Sprint(res[1]), fmt.Sprint(res[2]))
		if err != nil {
			return r, false, nil, err
		}
		return r, false, &set, nil
	}
	return r, false, nil, lockbox.Internal("create request", fmt.Errorf("unexpected script reply %v", res))
}

// encodeJSON is v as stored: JSON without HTML escaping (which would store
// each '<' as six bytes).
func encodeJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// Get implements lockbox.Store: one MULTI of the record and its two TTL keys.
func (s *Store) Get(ctx context.Context, tenant, id string) (lockbox.Request, error) {
	got, missing, err := s.getMany(ctx, tenant, []string{id})
	if err != nil {
		return lockbox.Request{}, err
	}
	if len(missing) > 0 {
		return lockbox.Request{}, lockbox.ErrNotFound(id)
	}
	return got[0], nil
}

// getMany reads requests ids of tenant in one MULTI of each record and its
// two TTL keys (all in the tenant's slot), in order; missing are the ids
// with no record.
func (s *Store) getMany(ctx context.Context, tenant string, ids []string) (got []lockbox.Request, missing []string, err error) {
	k := keysFor(tenant)
	recs := make([]*redis.MapStringStringCmd, len(ids))
	ps, gs := make([]*redis.IntCmd, len(ids)), make([]*redis.IntCmd, len(ids))
	if len(ids) > 0 {
		_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, id := range ids {
				recs[i] = pipe.HGetAll(ctx, k.req(id))
				ps[i] = pipe.Exists(ctx, k.pending(id))
				gs[i] = pipe.Exists(ctx, k.grant(id))
			}
			return nil
		})
		if err != nil {
			return nil, nil, classify("get request", err)
		}
	}
	got = make([]lockbox.Request, 0, len(ids))
	for i, id := range ids {
		if len(recs[i].Val()) == 0 {
			missing = append(missing, id)
			continue
		}
		r, err := decode(recs[i].Val(), ps[i].Val() == 1, gs[i].Val() == 1)
		if err != nil {
			return nil, nil, err
		}
		got = append(got, r)
	}
	return got, missing, nil
}

// Act implements lockbox.Store in one script (actScript).
func (s *Store) Act(ctx context.Context, tenant, id string, act lockbox.Act) (lockbox.Request, error) {
	if tr, ok := lockbox.Transitions[act.Action]; !ok || tr.When != lockbox.WhenAsked {
		return lockbox.Request{}, lockbox.Invalidf("unknown action %q", act.Action)
	}
	k := keysFor(tenant)
	dur := ""
	if act.Duration != nil {
		dur = strconv.Itoa(*act.Duration)
	}
	args := actArgs{Prefix: string(k), ID: id, Action: string(act.Action),
		ActorKind: string(act.Actor.Kind), ActorID: act.Actor.ID, Principal: act.Principal, Reason: act.Reason, NowMs: ms(act.At),
		Duration: dur, MaxAccessMs: s.limits.MaxAccessTTL.Milliseconds(), MaxGrants: s.Caps.MaxActiveGrantsPerRequester,
		Only: act.OnlyRequester, Hide: flag(act.HideInternal), PendingTTLMs: s.limits.PendingTTL.Milliseconds(),
		EndsGrant: flag(act.Action.EndsGrant())}
	if pk := act.Passkey; pk != nil {
		args.PkSig, args.PkUser, args.PkCred = pk.Signature.JSON(), pk.UserKey, pk.Signature.CredentialID
		args.PkCount, args.PkDigest, args.PkOnceMs = int64(pk.SignCount), pk.Signature.Digest, (2 * lockbox.StatementMaxAge).Milliseconds()
	}
	res, err := actScript.Run(ctx, s.rdb, []string{k.req(id)}, args).Slice()
	if err != nil {
		return lockbox.Request{}, classify(string(act.Action)+" request", err)
	}
	if isRefusal(res) {
		return lockbox.Request{}, refusal(res, id, act.At)
	}
	if (len(res) != 3 && len(res) != 4) || res[0] != "ok" {
		return lockbox.Request{}, lockbox.Internal(string(act.Action)+" request", fmt.Errorf("unexpected script reply %v", res))
	}
	rec, err := applied(res[1], res[2])
	if err == nil && len(res) == 4 {
		rec, err = pairs(res[3]) // the whole record, as the grant ended
	}
	if err != nil {
		return lockbox.Request{}, lockbox.Internal(string(act.Action)+" request", err)
	}
	// Redis froze time during the script: a pending key it kept lives, and
	// a grant it started or kept lives.
	status := lockbox.Status(rec["status"])
	return decode(rec, status == lockbox.StatusPending || status == lockbox.StatusInternalReview, status == lockbox.StatusApproved)
}

// flag is a boolean argument of a script: "1" or "".
func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// decode assembles a request from its stored record and the liveness of its
// TTL keys.
func decode(rec map[string]string, pendingLive, grantLive bool) (lockbox.Request, error) {
	var r lockbox.Request
	if err := json.Unmarshal([]byte(rec["doc"]), &r); err != nil {
		return lockbox.Request{}, lockbox.Internal("decode request", err)
	}
	r.FiledBy = rec["filedBy"]
	if g, err := strconv.ParseInt(rec["grantMs"], 10, 64); err == nil {
		r.Grant = time.Duration(g) * time.Millisecond
	}
	if g, err := strconv.ParseInt(rec["maxGrantMs"], 10, 64); err == nil {
		r.MaxGrant = time.Duration(g) * time.Millisecond
	}
	r.RequiredApprovals = 1
	if n, err := strconv.Atoi(rec["required"]); err == nil && n > 0 {
		r.RequiredApprovals = n
	}
	r.Approvals = []lockbox.Approval{}
	if v := rec["approvals"]; v != "" {
		var stored []struct {
			By       string `json:"by"`
			Reason   string `json:"reason"`
			Ms       int64  `json:"ms"`
			Duration int    `json:"duration"`
		}
		if err := json.Unmarshal([]byte(v), &stored); err != nil {
			return lockbox.Request{}, lockbox.Internal("decode approvals", err)
		}
		for _, a := range stored {
			r.Approvals = append(r.Approvals, lockbox.Approval{By: a.By, Reason: a.Reason, DateTime: time.UnixMilli(a.Ms).UTC(), Duration: a.Duration})
		}
	}
	if by := rec["decBy"]; by != "" {
		r.Decision = &lockbox.Decision{By: by, Reason: rec["decReason"], DateTime: fromMs(rec["decMs"])}
	}
	if by := rec["endBy"]; by != "" {
		r.Closure = &lockbox.Decision{By: by, Reason: rec["endReason"], DateTime: fromMs(rec["endMs"])}
	}
	if v := rec["accessExpMs"]; v != "" {
		t := fromMs(v)
		r.AccessExpirationDateTime = &t
	}
	if pc := r.ProviderChecks; pc != nil {
		c := *pc
		c.InternalApprovals = []lockbox.InternalApproval{}
		if v := rec["intApprovals"]; v != "" {
			var stored []struct {
				By string `json:"by"`
				Ms int64  `json:"ms"`
			}
			if err := json.Unmarshal([]byte(v), &stored); err != nil {
				return lockbox.Request{}, lockbox.Internal("decode internal approvals", err)
			}
			for _, a := range stored {
				c.InternalApprovals = append(c.InternalApprovals, lockbox.InternalApproval{By: a.By, DateTime: time.UnixMilli(a.Ms).UTC()})
			}
		}
		r.ProviderChecks = &c
	}
	if v := rec["expMs"]; v != "" && rec["reviewReq"] != "" {
		r.ExpirationDateTime = fromMs(v) // the release opened the approval window
	}
	r.Status = lockbox.EffectiveStatus(lockbox.Status(rec["status"]), pendingLive, grantLive)
	r.AccessActive = r.Status == lockbox.StatusApproved
	r.Usage = usage(rec, r.ResourceIDs)
	if r.Emergency != nil {
		e := *r.Emergency
		if v := rec["reviewDueMs"]; v != "" {
			t := fromMs(v)
			e.ReviewDueDateTime = &t
		}
		if v := rec["reviewVerdict"]; v != "" {
			e.Review = &lockbox.EmergencyReview{Verdict: v, By: rec["reviewBy"], Reason: rec["reviewReason"], DateTime: fromMs(rec["reviewMs"])}
		}
		r.Emergency = &e
	}
	if v := rec["passkeys"]; v != "" {
		if err := json.Unmarshal([]byte(v), &r.PasskeySignatures); err != nil {
			return lockbox.Request{}, lockbox.Internal("decode passkey signatures", err)
		}
	}
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
		m[str(list[i])] = str(list[i+1])
	}
	return m, nil
}

// applied is the record an action left, from the act script's answer: the
// applyFields as read (nil for a field not set), and when readRecord read
// them the laterFields after them, then the fields written.
func applied(read, written any) (map[string]string, error) {
	values, ok := read.([]any)
	if !ok || (len(values) != len(applyFields) && len(values) != len(recordFields)) {
		return nil, fmt.Errorf("record reply of type %T", read)
	}
	list, ok := written.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, fmt.Errorf("record reply of type %T", written)
	}
	// Sized for both at once: a map grown as it fills costs a decision more
	// than the map itself.
	rec := make(map[string]string, len(values)+len(list)/2)
	for i, v := range values {
		if v != nil {
			rec[recordFields[i]] = str(v)
		}
	}
	for i := 0; i < len(list); i += 2 {
		rec[str(list[i])] = str(list[i+1])
	}
	return rec, nil
}

// recordFields are the fields readRecord reads at most, in order.
var recordFields = slices.Concat(applyFields, laterFields)

// str is a reply element as a string: Redis answers bulk strings, and
// fmt.Sprint covers anything else.
func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// joinMs writes durations as milliseconds, comma-separated.
func joinMs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	return strings.Join(parts, ",")
}

func fromMs(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMilli(n).UTC()
}

// ByTicket returns the newest (at most 100) requests of tenant filed for the
// support case supportRequest, with their effective status: what a
// ticket's close acts on.
func (s *Store) ByTicket(ctx context.Context, tenant, supportRequest string) ([]lockbox.Request, error) {
	k := keysFor(tenant)
	ids, err := s.rdb.ZRevRange(ctx, k.of("bySupport", supportRequest), 0, 99).Result()
	if err != nil {
		return nil, classify("read a ticket's requests", err)
	}
	got, missing, err := s.getMany(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, lockbox.ErrNotFound(missing[0])
	}
	return got, nil
}
