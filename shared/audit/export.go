package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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

// NewExporter returns an exporter with the default batch size (5,000
// events), lock TTL (60 s) and no retention.
func NewExporter(rdb redis.UniversalClient, store ObjectStore) *Exporter {
	return &Exporter{rdb: rdb, store: store, Batch: 5_000, LockTTL: time.Minute, MaxBatches: 100, Now: time.Now}
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
	recorded bool // read back from Redis (a crashed run's) rather than new
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

// batch is one batch ready to write: its plan, its records sealed after
// the head it follows, and its objects encoded.
type batch struct {
	plan    plan
	after   head // the head once the batch is acknowledged
	objects []object
	events  int
}

// object is one object of a batch.
type object struct {
	key  string
	body []byte
}

// ExportTenant exports the pending audit events of tenant.
//
// Three steps overlap: while one batch is being written, the next is sealed
// (its chain follows from the last record of the one being written) and the
// one after is read from Redis. A batch's plan is recorded only once the
// batch before it is acknowledged, so there is never more than one plan,
// and at most three batches are in memory (being written, being sealed,
// read and waiting).
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
	b, err := e.resume(ctx, tenant, h, planKey)
	if err == nil && b == nil {
		var reply []any
		if reply, err = e.fetch(ctx, tenant, exclusive(h.lastID), "+", e.Batch); err == nil {
			b, err = sealBatch(tenant, reply, h)
		}
	}
	if err != nil || b == nil {
		return res, err
	}

	// Reading ahead stops, and is waited for, whenever this call returns.
	fetchCtx, stop := context.WithCancel(ctx)
	replies := make(chan fetched)
	var reader sync.WaitGroup
	reader.Go(func() { e.readAhead(fetchCtx, tenant, b.plan.to, replies) })
	defer reader.Wait()
	defer stop()

	for i := 0; ; i++ {
		if !b.plan.recorded {
			if err := e.recordPlan(ctx, planKey, lockKey, token, b.plan); err != nil {
				return res, err
			}
		}
		written := make(chan error, 1)
		go func(objects []object) { written <- e.write(ctx, objects) }(b.objects)

		var next *batch
		var nextErr error
		if i+1 < e.MaxBatches {
			f := <-replies
			if nextErr = f.err; nextErr == nil && len(f.reply) > 0 {
				next, nextErr = sealBatch(tenant, f.reply, b.after)
			}
		}
		if err := <-written; err != nil {
			return res, err
		}
		if e.afterPut != nil {
			if err := e.afterPut(); err != nil {
				return res, err
			}
		}
		out, err := ackScript.Run(ctx, e.rdb, []string{headKey, planKey, lockKey, redisstore.EventsKey(tenant)},
			token, h.seq, b.after.seq, b.after.hash, b.plan.to, nextID(b.plan.to)).Text()
		if err != nil {
			return res, lockbox.Unavailable("acknowledge export", err)
		}
		if out != "ok" {
			return res, fmt.Errorf("acknowledge export: %w (%s)", ErrFenced, out)
		}
		res.Exported += b.events
		for _, o := range b.objects {
			res.Objects = append(res.Objects, o.key)
		}
		h = b.after
		if next == nil || nextErr != nil {
			return res, nextErr
		}
		b = next
	}
}

// fetched is one read of the stream.
type fetched struct {
	reply []any
	err   error
}

// readAhead reads the stream after id batch by batch into out until it is
// empty, a read fails or ctx ends.
func (e *Exporter) readAhead(ctx context.Context, tenant, id string, out chan<- fetched) {
	for {
		reply, err := e.fetch(ctx, tenant, exclusive(id), "+", e.Batch)
		select {
		case out <- fetched{reply, err}:
		case <-ctx.Done():
			return
		}
		if err != nil || len(reply) == 0 {
			return
		}
		last, _ := reply[len(reply)-1].([]any)
		if len(last) == 0 {
			return // sealBatch reports the malformed entry
		}
		id, _ = last[0].(string)
	}
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

// resume returns the batch a crashed run planned and did not acknowledge,
// read again from its range, or nil when there is none.
func (e *Exporter) resume(ctx context.Context, tenant string, h head, planKey string) (*batch, error) {
	m, err := e.rdb.HGetAll(ctx, planKey).Result()
	if err != nil {
		return nil, lockbox.Unavailable("read export plan", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	n, _ := strconv.Atoi(m["count"])
	p := plan{from: m["from"], to: m["to"], count: n, recorded: true}
	reply, err := e.fetch(ctx, tenant, exclusive(p.from), p.to, n)
	if err != nil {
		return nil, err
	}
	b, err := sealBatch(tenant, reply, h)
	if err != nil {
		return nil, err
	}
	if b == nil || b.events != p.count {
		got := 0
		if b != nil {
			got = b.events
		}
		return nil, lockbox.Internal("read events", fmt.Errorf("plan %s..%s holds %d events, stream has %d", p.from, p.to, p.count, got))
	}
	b.plan = p
	return b, nil
}

// fetch reads up to n entries of tenant's stream from start to end.
func (e *Exporter) fetch(ctx context.Context, tenant, start, end string, n int) ([]any, error) {
	reply, err := e.rdb.Do(ctx, "XRANGE", redisstore.EventsKey(tenant), start, end, "COUNT", n).Slice()
	if err != nil {
		return nil, lockbox.Unavailable("read events", err)
	}
	return reply, nil
}

// sealBatch seals the entries of an XRANGE reply after h into a batch; nil
// for an empty reply.
func sealBatch(tenant string, reply []any, h head) (*batch, error) {
	if len(reply) == 0 {
		return nil, nil
	}
	objects, after, err := seal(tenant, reply, h)
	if err != nil {
		return nil, err
	}
	return &batch{plan: plan{from: h.lastID, to: after.lastID, count: len(reply)}, after: after, objects: objects, events: len(reply)}, nil
}

// recordPlan records p if the caller still holds the lock.
func (e *Exporter) recordPlan(ctx context.Context, planKey, lockKey, token string, p plan) error {
	out, err := planScript.Run(ctx, e.rdb, []string{planKey, lockKey}, token, p.from, p.to, p.count).Text()
	if err != nil {
		return lockbox.Unavailable("record export plan", err)
	}
	if out != "ok" {
		return fmt.Errorf("record export plan: %w", ErrFenced)
	}
	return nil
}

// write puts a batch's objects.
func (e *Exporter) write(ctx context.Context, objects []object) error {
	var retain time.Time
	if e.Retention > 0 {
		retain = e.Now().Add(e.Retention).UTC()
	}
	for _, o := range objects {
		if err := e.store.Put(ctx, o.key, o.body, retain); err != nil {
			return lockbox.Unavailable("write "+o.key, err)
		}
	}
	return nil
}

// seal turns an XRANGE reply (entries [id, [field, value, ...]]) into
// records chained after h, written straight into one object per date, and
// returns the objects and the head after the last record.
func seal(tenant string, reply []any, h head) ([]object, head, error) {
	var objects []object
	var body []byte
	var date string
	first := uint64(0)
	closeObject := func() {
		if body != nil {
			objects = append(objects, object{key: ObjectKey(tenant, date, first, h.seq), body: body})
		}
	}
	for i, entry := range reply {
		e, ok := entry.([]any)
		if !ok || len(e) != 2 {
			return nil, head{}, lockbox.Internal("read events", fmt.Errorf("unexpected stream entry %T", entry))
		}
		id, _ := e[0].(string)
		if id == "" {
			return nil, head{}, lockbox.Internal("read events", errors.New("stream entry without an id"))
		}
		r, err := record(tenant, id, e[1])
		if err != nil {
			return nil, head{}, err
		}
		if d := r.Date(); d != date {
			closeObject()
			date, first = d, h.seq+1
			body = make([]byte, 0, (len(reply)-i)*512)
		}
		body = r.appendSealed(body, h.seq, h.hash)
		h = head{seq: r.Seq, hash: r.Hash, lastID: id}
	}
	closeObject()
	return objects, h, nil
}

// record reads one event: the single field of redisstore.EventField, or
// the field-per-value layout of streams written before it.
func record(tenant, id string, v any) (Record, error) {
	fields, _ := v.([]any)
	var e redisstore.Event
	var err error
	if len(fields) == 2 && fields[0] == redisstore.EventField {
		s, _ := fields[1].(string)
		e, err = redisstore.DecodeEvent(s)
	} else {
		e, err = legacyEvent(fields)
	}
	if err != nil {
		return Record{}, lockbox.Internal("read event "+id, err)
	}
	return Record{
		Time: FormatTime(time.UnixMilli(e.TimeMs)), TenantID: tenant, RequestID: e.RequestID, OperationName: e.Op,
		Actor:      lockbox.Actor{Kind: lockbox.ActorKind(e.ActorKind), ID: e.ActorID},
		FromStatus: e.From, ToStatus: e.To, Reason: e.Reason, SupportRequest: e.SupportRequest,
	}, nil
}

// legacyEvent reads an event stored one field per value.
func legacyEvent(fields []any) (redisstore.Event, error) {
	var e redisstore.Event
	timeErr := errors.New("event without a time")
	for j := 0; j+1 < len(fields); j += 2 {
		k, _ := fields[j].(string)
		v, _ := fields[j+1].(string)
		switch k {
		case "op":
			e.Op = v
		case "requestId":
			e.RequestID = v
		case "time":
			e.TimeMs, timeErr = strconv.ParseInt(v, 10, 64)
		case "actorKind":
			e.ActorKind = v
		case "actorId":
			e.ActorID = v
		case "from":
			e.From = v
		case "to":
			e.To = v
		case "reason":
			e.Reason = v
		case "supportRequest":
			e.SupportRequest = v
		}
	}
	return e, timeErr
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
