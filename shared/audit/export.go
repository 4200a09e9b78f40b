package audit

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"lockbox.dev/shared/lockbox"
)

// Log is where a tenant's audit events wait for export, with the export's
// own state: its lock, its head and its plan (redisstore.Store implements
// it). Errors of RecordExportPlan and AckExport wrap lockbox.ErrExportFenced
// or lockbox.ErrExportMoved when another run got in the way.
type Log interface {
	LockExport(ctx context.Context, tenant string, ttl time.Duration) (token string, ok bool, err error)
	UnlockExport(ctx context.Context, tenant, token string) error
	ExportHead(ctx context.Context, tenant string) (h lockbox.ExportHead, found bool, err error)
	ExportPlan(ctx context.Context, tenant string) (p lockbox.ExportPlan, found bool, err error)
	RecordExportPlan(ctx context.Context, tenant, token string, p lockbox.ExportPlan) error
	ReadEvents(ctx context.Context, tenant, after, upto string, n int) ([]lockbox.LoggedEvent, error)
	AckExport(ctx context.Context, tenant, token string, prevSeq uint64, to lockbox.ExportHead) error
}

// ObjectStore is where the archive is written (objectstore.Store implements
// it). List and Get are used only when a tenant's head is missing, to carry
// on from the archive's signed checkpoint instead of restarting the chain.
type ObjectStore interface {
	// Put writes body under key, replacing any object of that key. A
	// non-zero retainUntil asks for object-lock retention until then.
	Put(ctx context.Context, key string, body []byte, retainUntil time.Time) error
	ObjectReader
}

// Exporter moves a tenant's audit events from the log to object storage,
// exactly once, and signs how far the archive reaches after each batch.
//
// Per tenant, under a lock: it plans a batch (a range of the log) and
// records the plan, writes the batch's objects and its signed checkpoint,
// then in one atomic step checks that it still holds the lock (the fencing
// check), advances the tenant's head (last seq, last hash, last position),
// drops the plan and trims the exported events from the log. A run that
// dies after writing and before that step leaves the plan behind; the next
// run exports exactly that range again, with the same seqs, hashes and
// keys, so the objects are rewritten byte for byte: nothing lost, nothing
// duplicated. A run whose lock expired while it wrote can only have written
// those same bytes, and its acknowledgement is refused.
//
// Seqs are assigned when events are appended: a batch must continue the
// head's seq without a gap (a lost event), or the export stops there
// (GapError). A missing head is taken from the archive's newest signed
// checkpoint; with objects but no checkpoint, the export refuses to start
// the chain again at seq 1.
type Exporter struct {
	log   Log
	store ObjectStore
	key   ed25519.PrivateKey
	// Trust are the public keys whose checkpoints a missing head may be
	// taken from: the signing key's, and after a rotation the previous
	// keys' (NewExporter sets the first).
	Trust []ed25519.PublicKey
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

// NewExporter returns an exporter that signs checkpoints with key, with the
// default batch size (5,000 events), lock TTL (60 s) and no retention.
func NewExporter(log Log, store ObjectStore, key ed25519.PrivateKey) *Exporter {
	e := &Exporter{log: log, store: store, key: key, Batch: 5_000, LockTTL: time.Minute, MaxBatches: 100, Now: time.Now}
	if pub, ok := key.Public().(ed25519.PublicKey); ok {
		e.Trust = []ed25519.PublicKey{pub}
	}
	return e
}

// TenantResult says what one export of one tenant did.
type TenantResult struct {
	TenantID string   `json:"tenantId"`
	Exported int      `json:"exported"`
	Objects  []string `json:"objects"`
	// Busy is true when another run held the tenant's lock.
	Busy bool `json:"busy,omitempty"`
	// Head is the newest checkpoint this run wrote and acknowledged (nil
	// when it exported nothing): what webhook lockbox.audit.checkpoint
	// hands the tenant.
	Head *SignedHead `json:"-"`
}

// GapError means the log does not continue the archive: events were lost
// before they were exported (or the log was reset). The export stops at the
// gap rather than paper over it.
type GapError struct {
	Tenant    string
	HeadSeq   uint64 // the archive's last seq
	NextSeq   uint64 // the seq of the next event waiting
	NextEvent string // its log position
}

func (e *GapError) Error() string {
	return fmt.Sprintf("audit log of %s does not continue its archive: the archive ends at seq %d, the next waiting event (%s) has seq %d; "+
		"events were lost before export, and the export stops here", e.Tenant, e.HeadSeq, e.NextEvent, e.NextSeq)
}

// batch is one batch ready to write: its plan, its records sealed after
// the head it follows, its objects (the checkpoint last) encoded.
type batch struct {
	plan     lockbox.ExportPlan
	recorded bool // the plan is a crashed run's, already recorded
	after    lockbox.ExportHead
	objects  []object
	events   int
}

// object is one object of a batch.
type object struct {
	key  string
	body []byte
}

// ExportTenant exports the waiting audit events of tenant.
//
// Three steps overlap: while one batch is being written, the next is sealed
// (its chain follows from the last record of the one being written) and the
// one after is read from the log. A batch's plan is recorded only once the
// batch before it is acknowledged, so there is never more than one plan,
// and at most three batches are in memory (being written, being sealed,
// read and waiting).
func (e *Exporter) ExportTenant(ctx context.Context, tenant string) (TenantResult, error) {
	res := TenantResult{TenantID: tenant, Objects: []string{}}
	if len(e.key) != ed25519.PrivateKeySize {
		return res, lockbox.Internal("export", errors.New("no checkpoint signing key"))
	}
	token, ok, err := e.log.LockExport(ctx, tenant, e.LockTTL)
	if err != nil {
		return res, err
	}
	if !ok {
		res.Busy = true
		return res, nil
	}
	defer func() { _ = e.log.UnlockExport(context.WithoutCancel(ctx), tenant, token) }()

	// The head is read once and then carried forward from each
	// acknowledgement; a plan left by a crashed run can only exist before this
	// run's first batch, as this run holds the lock and deletes its own plans.
	p, planned, err := e.log.ExportPlan(ctx, tenant)
	if err != nil {
		return res, err
	}
	h, recorded, err := e.head(ctx, tenant, planned)
	if err != nil {
		return res, err
	}
	var b *batch
	if planned {
		b, err = e.resume(ctx, tenant, h, p)
	}
	if err == nil && b == nil {
		var events []lockbox.LoggedEvent
		if events, err = e.log.ReadEvents(ctx, tenant, h.LastID, "", e.Batch); err == nil {
			b, err = e.seal(tenant, events, h)
		}
	}
	if err != nil || b == nil {
		return res, err
	}

	// Reading ahead stops, and is waited for, whenever this call returns.
	fetchCtx, stop := context.WithCancel(ctx)
	reads := make(chan fetched)
	var reader sync.WaitGroup
	reader.Go(func() { e.readAhead(fetchCtx, tenant, b.plan.To, reads) })
	defer reader.Wait()
	defer stop()

	for i := 0; ; i++ {
		if !b.recorded {
			if err := e.log.RecordExportPlan(ctx, tenant, token, b.plan); err != nil {
				return res, err
			}
		}
		written := make(chan error, 1)
		go func(objects []object) { written <- e.write(ctx, objects) }(b.objects)

		var next *batch
		var nextErr error
		if i+1 < e.MaxBatches {
			// The reader gives up without a word when ctx ends: wait for
			// either, never for a read that will not come.
			select {
			case f := <-reads:
				if nextErr = f.err; nextErr == nil && len(f.events) > 0 {
					next, nextErr = e.seal(tenant, f.events, b.after)
				}
			case <-ctx.Done():
				nextErr = ctx.Err()
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
		if err := e.log.AckExport(ctx, tenant, token, recorded, b.after); err != nil {
			return res, err
		}
		recorded = b.after.Seq
		// The checkpoint, last of the batch, parses: seal signed it.
		if head, err := HeadOf(b.objects[len(b.objects)-1].body); err == nil {
			res.Head = &head
		}
		res.Exported += b.events
		for _, o := range b.objects[:len(b.objects)-1] { // the last is the checkpoint
			res.Objects = append(res.Objects, o.key)
		}
		h = b.after
		if next == nil || nextErr != nil {
			return res, nextErr
		}
		b = next
	}
}

// head returns where tenant's archive ends. Without a recorded head, either
// nothing was acknowledged yet — the first batch may have been planned and
// written by a run that died (planned is true), and is written again from
// seq 1, byte for byte — or the head was lost: then the archive's newest
// signed checkpoint says where the chain goes on, and archived objects
// without any checkpoint are refused, since starting again at seq 1 would
// fork the chain.
//
// recorded is the seq of the head as the log records it (0 when it has none):
// the first acknowledgement must find it there.
func (e *Exporter) head(ctx context.Context, tenant string, planned bool) (h lockbox.ExportHead, recorded uint64, err error) {
	h, found, err := e.log.ExportHead(ctx, tenant)
	if err != nil || found || planned {
		return h, h.Seq, err
	}
	names, err := e.store.List(ctx, CheckpointPrefix(tenant))
	if err != nil {
		return h, 0, unavailable("list checkpoints of "+tenant, err)
	}
	if len(names) == 0 {
		objects, err := e.store.List(ctx, TenantPrefix(tenant))
		if err != nil {
			return h, 0, unavailable("list archive of "+tenant, err)
		}
		if len(objects) > 0 {
			return h, 0, lockbox.Internal("export", fmt.Errorf("tenant %s has no export head and no signed checkpoint, but %d archived objects: "+
				"refusing to start its chain again at seq 1", tenant, len(objects)))
		}
		return h, 0, nil // nothing exported yet
	}
	newest := slices.MaxFunc(names, func(a, b string) int {
		_, sa, _ := parseCheckpointKey(a)
		_, sb, _ := parseCheckpointKey(b)
		return cmp.Compare(sa, sb)
	})
	body, err := e.store.Get(ctx, newest)
	if err != nil {
		return h, 0, unavailable("read "+newest, err)
	}
	var cp Checkpoint
	err = errors.New("no trusted key")
	for _, pub := range e.Trust {
		if cp, err = VerifyCheckpoint(body, pub); err == nil {
			break
		}
	}
	if err != nil || cp.TenantID != tenant {
		return h, 0, lockbox.Internal("export", fmt.Errorf("tenant %s has no export head and its newest checkpoint %s does not verify: %v", tenant, newest, err))
	}
	return lockbox.ExportHead{Seq: cp.Seq, Hash: cp.Hash}, 0, nil
}

// fetched is one read of the log.
type fetched struct {
	events []lockbox.LoggedEvent
	err    error
}

// readAhead reads the log after position id batch by batch into out until
// it is empty, a read fails or ctx ends.
func (e *Exporter) readAhead(ctx context.Context, tenant, id string, out chan<- fetched) {
	for {
		events, err := e.log.ReadEvents(ctx, tenant, id, "", e.Batch)
		select {
		case out <- fetched{events, err}:
		case <-ctx.Done():
			return
		}
		if err != nil || len(events) == 0 {
			return
		}
		id = events[len(events)-1].ID
	}
}

// resume returns the batch p that a crashed run planned and did not
// acknowledge, read again from its range.
func (e *Exporter) resume(ctx context.Context, tenant string, h lockbox.ExportHead, p lockbox.ExportPlan) (*batch, error) {
	events, err := e.log.ReadEvents(ctx, tenant, p.From, p.To, p.Count)
	if err != nil {
		return nil, err
	}
	b, err := e.seal(tenant, events, h)
	if err != nil {
		return nil, err
	}
	if b == nil || b.events != p.Count {
		return nil, lockbox.Internal("read events", fmt.Errorf("plan %s..%s holds %d events, the log has %d", p.From, p.To, p.Count, len(events)))
	}
	b.plan, b.recorded = p, true
	return b, nil
}

// seal numbers and chains events after h, writes them straight into one
// object per date, and signs the checkpoint of the head after the last;
// nil for no events. Each event must carry the seq after the one before.
func (e *Exporter) seal(tenant string, events []lockbox.LoggedEvent, h lockbox.ExportHead) (*batch, error) {
	if len(events) == 0 {
		return nil, nil
	}
	b := &batch{plan: lockbox.ExportPlan{From: h.LastID, Count: len(events)}, events: len(events)}
	var body []byte
	var date, lastTime string
	first := uint64(0)
	closeObject := func() {
		if body != nil {
			b.objects = append(b.objects, object{key: ObjectKey(tenant, date, first, h.Seq), body: body})
		}
	}
	if h.Hash == "" {
		h.Hash = ZeroHash
	}
	for i, le := range events {
		ev := le.Event
		if ev.Seq != h.Seq+1 {
			return nil, &GapError{Tenant: tenant, HeadSeq: h.Seq, NextSeq: ev.Seq, NextEvent: le.ID}
		}
		r := Record{
			Time: FormatTime(ev.Time), TenantID: tenant, RequestID: ev.RequestID, OperationName: ev.OperationName,
			Actor: ev.Actor, FromStatus: string(ev.FromStatus), ToStatus: string(ev.ToStatus), Reason: ev.Reason,
			SupportRequest: ev.SupportRequest,
		}
		if d := r.Date(); d != date {
			closeObject()
			date, first = d, h.Seq+1
			body = make([]byte, 0, (len(events)-i)*512)
		}
		body = r.appendSealed(body, h.Seq, h.Hash)
		h = lockbox.ExportHead{Seq: r.Seq, Hash: r.Hash, LastID: le.ID}
		lastTime = r.Time
	}
	closeObject()
	keys := make([]string, len(b.objects))
	for i, o := range b.objects {
		keys[i] = o.key
	}
	cp, err := NewCheckpoint(tenant, h.Seq, h.Hash, lastTime, keys).Sign(e.key)
	if err != nil {
		return nil, lockbox.Internal("sign checkpoint", err)
	}
	b.objects = append(b.objects, object{key: CheckpointKey(tenant, h.Seq), body: cp})
	b.plan.To, b.after = h.LastID, h
	return b, nil
}

// write puts a batch's objects, the checkpoint last.
func (e *Exporter) write(ctx context.Context, objects []object) error {
	var retain time.Time
	if e.Retention > 0 {
		retain = e.Now().Add(e.Retention).UTC()
	}
	for _, o := range objects {
		if err := e.store.Put(ctx, o.key, o.body, retain); err != nil {
			return unavailable("write "+o.key, err)
		}
	}
	return nil
}

// unavailable is the error of object storage failing. An error that says
// what to do about it (a missing bucket) keeps its words for callers.
func unavailable(op string, err error) error {
	le := lockbox.Unavailable(op, err)
	var ex interface{ Explain() string }
	if errors.As(err, &ex) {
		le.Message = ex.Explain()
	}
	return le
}
