package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

// ObjectStore is where the archive is written.
type ObjectStore interface {
	// Put writes body under key, replacing any object of that key. A
	// non-zero retainUntil asks for object-lock retention until then.
	Put(ctx context.Context, key string, body []byte, retainUntil time.Time) error
}

// Exporter moves a tenant's audit events from its Redis stream to object
// storage, exactly once.
//
// Per tenant, under a lock: it plans a batch (the stream range and the first
// seq) and records the plan in Redis, writes the batch's objects, then in one
// atomic step checks that it still holds the lock (the fencing check),
// advances the tenant's head (last seq, last hash, last stream id), drops the
// plan and trims the exported events from the stream. A run that dies after
// writing and before that step leaves the plan behind; the next run exports
// exactly that range again, with the same seqs, hashes and keys, so the
// objects are rewritten byte for byte: nothing lost, nothing duplicated. A
// run whose lock expired while it wrote can only have written those same
// bytes, and its acknowledgement is refused.
type Exporter struct {
	rdb   redis.UniversalClient
	store ObjectStore
	// Batch is the most events one batch (and so one object) holds.
	Batch int
	// LockTTL bounds how long a crashed run keeps others out.
	LockTTL time.Duration
	// Retention, when positive, applies object-lock retention for that long.
	Retention time.Duration
	// MaxBatches bounds the work of one run per tenant.
	MaxBatches int
	Now        func() time.Time

	// afterPut, in tests, runs between writing a batch and acknowledging it.
	afterPut func() error
}

// NewExporter returns an exporter with the default batch size (10,000
// events), lock TTL (60 s) and no retention.
func NewExporter(rdb redis.UniversalClient, store ObjectStore) *Exporter {
	return &Exporter{rdb: rdb, store: store, Batch: 10_000, LockTTL: time.Minute, MaxBatches: 100, Now: time.Now}
}

// TenantResult says what one export of one tenant did.
type TenantResult struct {
	TenantID string   `json:"tenantId"`
	Exported int      `json:"exported"`
	Objects  []string `json:"objects"`
	// Busy is true when another run held the tenant's lock.
	Busy  bool   `json:"busy,omitempty"`
	Error string `json:"error,omitempty"`
}

func stateKeys(tenant string) (head, plan, lock string) {
	return redisstore.TenantKey(tenant, "audit:head"), redisstore.TenantKey(tenant, "audit:plan"), redisstore.TenantKey(tenant, "audit:lock")
}

// head is how far a tenant's archive reaches.
type head struct {
	seq    uint64
	hash   string
	lastID string // stream id of the last exported event; "0" before any
}

// plan is a batch chosen for export and not yet acknowledged.
type plan struct {
	from, to string // stream ids: from (exclusive) .. to (inclusive)
	count    int
}

// planScript records a plan if the caller still holds the lock.
// KEYS: plan, lock. ARGV: token, from, to, count.
var planScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'fenced' end
redis.call('HSET', KEYS[1], 'from', ARGV[2], 'to', ARGV[3], 'count', ARGV[4])
return 'ok'
`)

// ackScript acknowledges a written batch if the caller still holds the lock
// and the head is where the batch started.
// KEYS: head, plan, lock, events. ARGV: token, expected head seq, new seq,
// new hash, new last id, trim threshold (MINID).
var ackScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 'fenced' end
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
if seq ~= ARGV[2] then return 'moved' end
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4], 'lastId', ARGV[5])
redis.call('DEL', KEYS[2])
redis.call('XTRIM', KEYS[4], 'MINID', ARGV[6])
return 'ok'
`)

// unlockScript releases the lock if it is still the caller's.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// ErrFenced means the run lost its lock before acknowledging.
var ErrFenced = errors.New("lost the export lock to another run")

// ExportTenant exports the pending audit events of tenant.
func (e *Exporter) ExportTenant(ctx context.Context, tenant string) (TenantResult, error) {
	res := TenantResult{TenantID: tenant, Objects: []string{}}
	headKey, planKey, lockKey := stateKeys(tenant)
	token := newToken()
	ok, err := e.rdb.SetNX(ctx, lockKey, token, e.LockTTL).Result()
	if err != nil {
		return res, lockbox.Unavailable("take export lock", err)
	}
	if !ok {
		res.Busy = true
		return res, nil
	}
	defer unlockScript.Run(context.WithoutCancel(ctx), e.rdb, []string{lockKey}, token)

	// The head is read once and then carried forward from each
	// acknowledgement; a plan left by a crashed run can only exist before this
	// run's first batch, as this run holds the lock and deletes its own plans.
	h, err := e.readHead(ctx, headKey)
	if err != nil {
		return res, err
	}
	for i := range e.MaxBatches {
		p, msgs, err := e.planBatch(ctx, tenant, h, planKey, lockKey, token, i == 0)
		if err != nil || p == nil {
			return res, err
		}
		if msgs == nil { // resuming a plan a crashed run left: read its range again
			msgs, err = e.rdb.XRangeN(ctx, redisstore.EventsKey(tenant), exclusive(p.from), p.to, int64(p.count)).Result()
			if err != nil {
				return res, lockbox.Unavailable("read events", err)
			}
		}
		if len(msgs) != p.count {
			return res, lockbox.Internal("read events", fmt.Errorf("plan %s..%s holds %d events, stream has %d", p.from, p.to, p.count, len(msgs)))
		}
		records, err := seal(tenant, msgs, h)
		if err != nil {
			return res, err
		}
		keys, err := e.write(ctx, tenant, records)
		if err != nil {
			return res, err
		}
		if e.afterPut != nil {
			if err := e.afterPut(); err != nil {
				return res, err
			}
		}
		last := records[len(records)-1]
		out, err := ackScript.Run(ctx, e.rdb, []string{headKey, planKey, lockKey, redisstore.EventsKey(tenant)},
			token, h.seq, last.Seq, last.Hash, p.to, nextID(p.to)).Text()
		if err != nil {
			return res, lockbox.Unavailable("acknowledge export", err)
		}
		if out != "ok" {
			return res, fmt.Errorf("acknowledge export: %w (%s)", ErrFenced, out)
		}
		res.Exported += len(records)
		res.Objects = append(res.Objects, keys...)
		h = head{seq: last.Seq, hash: last.Hash, lastID: p.to}
	}
	return res, nil
}

func (e *Exporter) readHead(ctx context.Context, key string) (head, error) {
	m, err := e.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return head{}, lockbox.Unavailable("read export head", err)
	}
	h := head{hash: ZeroHash, lastID: "0"}
	if len(m) > 0 {
		h.seq, _ = strconv.ParseUint(m["seq"], 10, 64)
		h.hash, h.lastID = m["hash"], m["lastId"]
	}
	return h, nil
}

// planBatch returns the batch to export: with resume, the one a crashed run
// left if any (its events not read: msgs is nil); otherwise the next Batch
// events after the head, with those events. A nil plan means there is
// nothing to export.
func (e *Exporter) planBatch(ctx context.Context, tenant string, h head, planKey, lockKey, token string, resume bool) (*plan, []redis.XMessage, error) {
	if resume {
		m, err := e.rdb.HGetAll(ctx, planKey).Result()
		if err != nil {
			return nil, nil, lockbox.Unavailable("read export plan", err)
		}
		if len(m) > 0 {
			n, _ := strconv.Atoi(m["count"])
			return &plan{from: m["from"], to: m["to"], count: n}, nil, nil
		}
	}
	msgs, err := e.rdb.XRangeN(ctx, redisstore.EventsKey(tenant), exclusive(h.lastID), "+", int64(e.Batch)).Result()
	if err != nil {
		return nil, nil, lockbox.Unavailable("read events", err)
	}
	if len(msgs) == 0 {
		return nil, nil, nil
	}
	p := &plan{from: h.lastID, to: msgs[len(msgs)-1].ID, count: len(msgs)}
	out, err := planScript.Run(ctx, e.rdb, []string{planKey, lockKey}, token, p.from, p.to, p.count).Text()
	if err != nil {
		return nil, nil, lockbox.Unavailable("record export plan", err)
	}
	if out != "ok" {
		return nil, nil, fmt.Errorf("record export plan: %w", ErrFenced)
	}
	return p, msgs, nil
}

// write puts the records in one object per date and returns the keys.
func (e *Exporter) write(ctx context.Context, tenant string, records []Record) ([]string, error) {
	var retain time.Time
	if e.Retention > 0 {
		retain = e.Now().Add(e.Retention).UTC()
	}
	var keys []string
	for start := 0; start < len(records); {
		end := start + 1
		for end < len(records) && records[end].Date() == records[start].Date() {
			end++
		}
		group := records[start:end]
		key := ObjectKey(tenant, group[0].Date(), group[0].Seq, group[len(group)-1].Seq)
		if err := e.store.Put(ctx, key, Encode(group), retain); err != nil {
			return keys, lockbox.Unavailable("write "+key, err)
		}
		keys = append(keys, key)
		start = end
	}
	return keys, nil
}

// seal turns stream entries into chained records following h.
func seal(tenant string, msgs []redis.XMessage, h head) ([]Record, error) {
	out := make([]Record, len(msgs))
	seq, prev := h.seq, h.hash
	for i, m := range msgs {
		f := func(k string) string { s, _ := m.Values[k].(string); return s }
		ms, err := strconv.ParseInt(f("time"), 10, 64)
		if err != nil {
			return nil, lockbox.Internal("read event "+m.ID, err)
		}
		r := Record{
			Time: FormatTime(time.UnixMilli(ms)), TenantID: tenant, RequestID: f("requestId"), OperationName: f("op"),
			Actor:      lockbox.Actor{Kind: lockbox.ActorKind(f("actorKind")), ID: f("actorId")},
			FromStatus: f("from"), ToStatus: f("to"), Reason: f("reason"), SupportRequest: f("supportRequest"),
		}
		r.Seal(seq, prev)
		seq, prev = r.Seq, r.Hash
		out[i] = r
	}
	return out, nil
}

// exclusive turns a stream id into an exclusive XRANGE start.
func exclusive(id string) string {
	if id == "0" || id == "" {
		return "-"
	}
	return "(" + id
}

// nextID is the smallest stream id after id: XTRIM MINID with it removes id
// and everything before.
func nextID(id string) string {
	ms, seq, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return ms + "-" + strconv.FormatUint(n+1, 10)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
