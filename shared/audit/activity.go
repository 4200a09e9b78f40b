package audit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// EventSource is where the events not yet exported wait (the store).
type EventSource interface {
	ExportHead(ctx context.Context, tenant string) (h lockbox.ExportHead, found bool, err error)
	// ReadEvents returns up to n events after position after ("" for the
	// oldest) up to upto ("" for the newest), oldest first.
	ReadEvents(ctx context.Context, tenant, after, upto string, n int) ([]lockbox.LoggedEvent, error)
	// ReadEventsBefore returns up to n events before position before (""
	// for the newest) and after position after ("" for the oldest), newest
	// first.
	ReadEventsBefore(ctx context.Context, tenant, before, after string, n int) ([]lockbox.LoggedEvent, error)
}

// Activity reads a tenant's audit events for the activity log
// (lockbox.ActivityLog): the archived ones, read by date partition, and the
// ones not yet exported, read from the log. A page reads only the
// partitions of the days asked for, newest first, and stops once it is
// full: its cost grows with the days asked for, not with the archive.
//
// Whatever the backlog of events not yet exported, a page examines a
// bounded number of them and of their bytes, and holds a bounded number:
//   - the window — the oldest waiting events, those right after the
//     export's head, up to 5,000 events or 4 MiB — is read oldest first and
//     chained from the head exactly as the export will chain them, so its
//     events show their archive form (seq, prevHash, hash). Only the events
//     the page may show are held;
//   - events after the window (an export that fell behind) are read newest
//     first, at most max(1,000, 10 × limit) events and 4 MiB a page, and
//     show their seq (assigned when they were appended) with prevHash and
//     hash empty: their hash needs every event before them, which is more
//     than a page reads. A page that stops at that bound before it is full
//     has a cursor that resumes where it stopped;
//   - a page holds at most 1 MiB of events (at least one).
//
// Pages never show a wrong hash, nor an event twice or a gap between the log
// and the archive: a page is read again when the export moved on (its head
// changed) while it was read.
type Activity struct {
	Events  EventSource
	Archive ObjectReader

	// budget, in tests, replaces defaultBudget.
	budget *activityBudget
}

// Limits of a query.
const (
	MaxActivityDays  = 92
	MaxActivityLimit = 200
)

// activityBudget bounds what one page reads and holds of the events not
// yet exported.
type activityBudget struct {
	windowEvents, windowBytes int // the window chained from the head
	scanEvents, scanBytes     int // events after the window examined (0 events: scanCap)
	pageBytes                 int // events one page holds (at least one)
	chunk                     int // events one read asks for
}

var defaultBudget = activityBudget{windowEvents: 5_000, windowBytes: 4 << 20, scanBytes: 4 << 20, pageBytes: 1 << 20, chunk: 128}

// scanCap bounds the events after the window one page examines, as
// lockbox-list bounds the entries it examines.
func scanCap(limit int) int { return max(1000, 10*limit) }

// readAttempts bounds how often a page is read again because the export
// moved on meanwhile.
const readAttempts = 5

// position is where a page starts: events of seqs below before; when id is
// set, events after the window are read from below that log position,
// where the event of seq at was.
type position struct {
	before uint64
	id     string
	at     uint64
}

// Activity implements lockbox.ActivityLog.
func (a *Activity) Activity(ctx context.Context, q lockbox.ActivityQuery) (lockbox.ActivityPage, error) {
	if err := checkQuery(q); err != nil {
		return lockbox.ActivityPage{}, err
	}
	pos := position{before: 1<<63 - 1} // seqs below this are still to be shown
	if q.Cursor != "" {
		var err error
		if pos, err = decodeActivityCursor(q); err != nil {
			return lockbox.ActivityPage{}, err
		}
	}
	b := defaultBudget
	if a.budget != nil {
		b = *a.budget
	}
	for range readAttempts {
		page, settled, err := a.page(ctx, q, pos, b)
		if err != nil || settled {
			return page, err
		}
	}
	return lockbox.ActivityPage{}, lockbox.Unavailable("read activity", fmt.Errorf("the export moved on %d times while the page was read", readAttempts))
}

// page reads one page from pos. settled is false when the export's head
// moved while it was read: what it read of the log and of the archive may
// then overlap or leave a gap, and the page must be read again.
func (a *Activity) page(ctx context.Context, q lockbox.ActivityQuery, pos position, b activityBudget) (page lockbox.ActivityPage, settled bool, err error) {
	head, _, err := a.Events.ExportHead(ctx, q.TenantID)
	if err != nil {
		return page, false, err
	}
	w, err := a.window(ctx, q, head, pos.before, b)
	if err != nil {
		return page, false, err
	}
	p := &pageBuilder{q: q, maxBytes: b.pageBytes}
	if !w.complete && pos.before > w.endSeq+1 {
		if err := a.scanAfterWindow(ctx, q, pos, w, b, p); err != nil {
			return page, false, err
		}
	}
	for i := len(w.found) - 1; i >= 0 && p.open(); i-- {
		p.add(w.found[i], "")
	}
	if p.open() {
		if err := a.archived(ctx, q, min(pos.before, head.Seq+1), p); err != nil {
			return page, false, err
		}
	}
	again, _, err := a.Events.ExportHead(ctx, q.TenantID)
	if err != nil || again.Seq != head.Seq {
		return page, false, err
	}
	return p.page(), true, nil
}

// pageBuilder collects a page's events, newest first, up to the query's
// limit and maxBytes (at least one event).
type pageBuilder struct {
	q        lockbox.ActivityQuery
	maxBytes int
	events   []lockbox.Event
	ids      []string // the log position of each event read after the window
	bytes    int
	// cut is true when an event did not fit: the page ends at its last
	// event. resume, when set, is where a page that stopped at the scan's
	// bound goes on.
	cut    bool
	resume *position
}

// open reports whether the page takes more events.
func (p *pageBuilder) open() bool { return !p.cut && p.resume == nil }

// add adds e, read at log position id ("" for the window and the archive),
// unless the page is full; then the page is cut.
func (p *pageBuilder) add(e lockbox.Event, id string) {
	size := eventBytes(e)
	if len(p.events) == p.q.Limit || (len(p.events) > 0 && p.bytes+size > p.maxBytes) {
		p.cut = true
		return
	}
	p.events, p.ids = append(p.events, e), append(p.ids, id)
	p.bytes += size
}

// page returns the page and its cursor.
func (p *pageBuilder) page() lockbox.ActivityPage {
	out := lockbox.ActivityPage{Events: p.events}
	switch {
	case p.cut:
		last := len(p.events) - 1
		out.Next = encodeActivityCursor(p.q, position{before: p.events[last].Seq, id: p.ids[last], at: p.events[last].Seq})
	case p.resume != nil:
		out.Next = encodeActivityCursor(p.q, *p.resume)
	}
	return out
}

// eventBytes is what an event weighs against a page's byte bounds: its
// text and a fixed share for its other fields.
func eventBytes(e lockbox.Event) int {
	return 192 + len(e.RequestID) + len(e.OperationName) + len(e.Actor.ID) + len(e.Reason) + len(e.SupportRequest)
}

// chunkSize is how many events the next read asks for: at most chunk and
// left, and no more than the bytes left hold at the size of the largest
// event seen so far (so a read overshoots the bound by little). 0 when the
// bound is spent.
func chunkSize(chunk, left, bytesLeft, largest int) int {
	if left <= 0 || bytesLeft <= 0 {
		return 0
	}
	n := min(chunk, left)
	if largest > 0 {
		n = min(n, bytesLeft/largest+1)
	}
	return n
}

func checkQuery(q lockbox.ActivityQuery) error {
	switch {
	case !lockbox.ValidTenantID(q.TenantID):
		return lockbox.Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	case !q.From.Before(q.To):
		return lockbox.Invalidf("from must be before to")
	case q.To.Sub(q.From) > MaxActivityDays*24*time.Hour:
		return lockbox.Invalidf("from and to may be at most %d days apart", MaxActivityDays)
	case q.Limit < 1 || q.Limit > MaxActivityLimit:
		return lockbox.Invalidf("limit must be 1..%d", MaxActivityLimit)
	case q.RequestID != "" && !lockbox.ValidRequestID(q.RequestID):
		return lockbox.Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
	}
	for _, op := range q.Operations {
		if !slices.Contains(lockbox.Operations, op) {
			return lockbox.Invalidf("operationName must be a comma list of %s", strings.Join(lockbox.Operations, ", "))
		}
	}
	return nil
}

func matches(q lockbox.ActivityQuery, e lockbox.Event) bool {
	return !e.Time.Before(q.From) && e.Time.Before(q.To) &&
		(len(q.Operations) == 0 || slices.Contains(q.Operations, e.OperationName)) &&
		(q.RequestID == "" || e.RequestID == q.RequestID)
}

// window is what a page read of the oldest waiting events, chained from
// the export's head.
type window struct {
	// endSeq and endID are the seq and log position of the window's last
	// event (the head's when it is empty).
	endSeq uint64
	endID  string
	// complete is true when nothing waits after the window.
	complete bool
	// found are the window's events the page may show (seq below its
	// position, matching the query), oldest first: the newest that a page
	// could hold, no more.
	found []lockbox.Event
	bytes int // of found
}

// window reads the events after head, oldest first, up to the budget's
// window, seals each after the one before exactly as the export will, and
// keeps those below before that match q. It stops at a gap in the seqs
// (the export stops there too): what follows is shown without hashes.
func (a *Activity) window(ctx context.Context, q lockbox.ActivityQuery, head lockbox.ExportHead, before uint64, b activityBudget) (window, error) {
	w := window{endSeq: head.Seq, endID: head.LastID}
	prev := head.Hash
	if prev == "" {
		prev = ZeroHash
	}
	var line []byte
	events, read, largest := 0, 0, 0
	for {
		n := chunkSize(b.chunk, b.windowEvents-events, b.windowBytes-read, largest)
		if n == 0 {
			return w, nil
		}
		logged, err := a.Events.ReadEvents(ctx, q.TenantID, w.endID, "", n)
		if err != nil {
			return w, err
		}
		for _, le := range logged {
			ev := le.Event
			if ev.Seq != w.endSeq+1 {
				return w, nil // a lost event: the window, like the export, stops at the gap
			}
			size := eventBytes(ev)
			events, read, largest = events+1, read+size, max(largest, size)
			r := recordOf(q.TenantID, ev)
			line = r.appendSealed(line[:0], w.endSeq, prev)
			w.endSeq, w.endID, prev = r.Seq, le.ID, r.Hash
			if r.Seq < before && matches(q, ev) {
				w.keep(eventOf(r, ev.Time), size, q.Limit, b.pageBytes)
			}
		}
		if len(logged) < n {
			w.complete = true
			return w, nil
		}
	}
}

// keep adds e (of size bytes) to the window's found events and drops the
// oldest ones no page needs: a page takes the newest first, at most limit
// and, past maxBytes, no more.
func (w *window) keep(e lockbox.Event, size, limit, maxBytes int) {
	w.found = append(w.found, e)
	w.bytes += size
	for len(w.found) > 1 {
		oldest := eventBytes(w.found[0])
		if len(w.found)-1 < limit+1 && w.bytes-oldest <= maxBytes {
			break
		}
		w.found, w.bytes = w.found[1:], w.bytes-oldest
	}
}

// scanAfterWindow reads the events after the window newest first, from
// pos (the newest, or below its log position), into p, until p is full,
// the window is reached, or the scan's bound is spent (p then resumes
// below the last event examined). Their seqs are assigned at append; an
// event of an earlier layout without one takes the seq below the event
// read before it.
func (a *Activity) scanAfterWindow(ctx context.Context, q lockbox.ActivityQuery, pos position, w window, b activityBudget, p *pageBuilder) error {
	from, above := pos.id, pos.at
	examined, read, largest := 0, 0, 0
	limit := b.scanEvents
	if limit == 0 {
		limit = scanCap(q.Limit)
	}
	// The first read asks for what a page of newest events needs; each
	// next one for twice as many, up to a chunk.
	chunk := min(b.chunk, q.Limit+1)
	for ; ; chunk = min(b.chunk, 2*chunk) {
		n := chunkSize(chunk, limit-examined, b.scanBytes-read, largest)
		if n == 0 {
			p.resume = &position{before: min(pos.before, above), id: from, at: above}
			return nil
		}
		logged, err := a.Events.ReadEventsBefore(ctx, q.TenantID, from, w.endID, n)
		if err != nil {
			return err
		}
		for _, le := range logged {
			ev := le.Event
			size := eventBytes(ev)
			examined, read, largest = examined+1, read+size, max(largest, size)
			above, from = ev.Seq, le.ID
			if ev.Seq < pos.before && matches(q, ev) {
				r := recordOf(q.TenantID, ev)
				r.Seq = ev.Seq
				if p.add(eventOf(r, ev.Time), le.ID); !p.open() {
					return nil
				}
			}
		}
		if len(logged) < n {
			return nil
		}
	}
}

// archived adds to p the archived events of q below seq before, newest
// first, reading the date partitions from q.To back to q.From, until p is
// full.
func (a *Activity) archived(ctx context.Context, q lockbox.ActivityQuery, before uint64, p *pageBuilder) error {
	for day := q.To.Add(-time.Nanosecond).UTC().Truncate(24 * time.Hour); !day.Before(q.From.UTC().Truncate(24 * time.Hour)); day = day.Add(-24 * time.Hour) {
		names, err := a.Archive.List(ctx, TenantPrefix(q.TenantID)+"date="+day.Format("2006-01-02")+"/")
		if err != nil {
			return lockbox.Unavailable("list archive", err)
		}
		keys := make([]Key, 0, len(names))
		for _, name := range names {
			if k, ok := ParseKey(name); ok && k.Tenant == q.TenantID && k.First < before {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(x, y Key) int { return cmp.Compare(y.First, x.First) })
		for _, k := range keys {
			if err := a.object(ctx, ObjectKey(k.Tenant, k.Date, k.First, k.Last), q, before, p); err != nil || !p.open() {
				return err
			}
		}
	}
	return nil
}

// object adds to p the events of one archived object below seq before
// that match q, newest first, until p is full: lines are decoded from the
// end, and only those the page takes are kept.
func (a *Activity) object(ctx context.Context, key string, q lockbox.ActivityQuery, before uint64, p *pageBuilder) error {
	body, err := a.Archive.Get(ctx, key)
	if err != nil {
		return lockbox.Unavailable("read "+key, err)
	}
	end := len(body)
	for end > 0 && p.open() {
		if body[end-1] == '\n' {
			end--
		}
		start := bytes.LastIndexByte(body[:end], '\n') + 1
		line := body[start:end]
		end = start
		if len(line) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return lockbox.Internal("read "+key, err)
		}
		t, err := time.Parse(TimeFormat, r.Time)
		if err != nil {
			return lockbox.Internal("read "+key, err)
		}
		if e := eventOf(r, t); e.Seq < before && matches(q, e) {
			p.add(e, "")
		}
	}
	return nil
}

// recordOf is ev as archived, before it is sealed.
func recordOf(tenant string, ev lockbox.Event) Record {
	return Record{Time: FormatTime(ev.Time), TenantID: tenant, RequestID: ev.RequestID, OperationName: ev.OperationName,
		Actor: ev.Actor, FromStatus: string(ev.FromStatus), ToStatus: string(ev.ToStatus), Reason: ev.Reason,
		SupportRequest: ev.SupportRequest}
}

// eventOf is a sealed record as an event of the activity log.
func eventOf(r Record, t time.Time) lockbox.Event {
	return lockbox.Event{Seq: r.Seq, Time: t.UTC().Truncate(time.Millisecond), TenantID: r.TenantID, RequestID: r.RequestID,
		OperationName: r.OperationName, Actor: r.Actor, FromStatus: lockbox.Status(r.FromStatus), ToStatus: lockbox.Status(r.ToStatus),
		Reason: r.Reason, SupportRequest: r.SupportRequest, PrevHash: r.PrevHash, Hash: r.Hash}
}

// A cursor names the query it belongs to, so that it cannot be replayed
// against another tenant or filter, and holds the seq a page continues
// below and, for events read after the window, the log position it goes on
// from and the seq of the event there: "<seq>" or "<seq>@<log
// position>@<seq there>".
func activityBinding(q lockbox.ActivityQuery) string {
	return fmt.Sprintf("a1|%s|%s|%d|%d|%s|", q.TenantID, strings.Join(q.Operations, ","), q.From.UnixMilli(), q.To.UnixMilli(), q.RequestID)
}

// maxCursor bounds the cursor a query may carry.
const maxCursor = 1024

var logPosition = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

func encodeActivityCursor(q lockbox.ActivityQuery, pos position) string {
	if pos.id == "" {
		return lockbox.EncodeCursor(activityBinding(q), pos.before)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(activityBinding(q) + strconv.FormatUint(pos.before, 10) + "@" + pos.id + "@" + strconv.FormatUint(pos.at, 10)))
}

func decodeActivityCursor(q lockbox.ActivityQuery) (position, error) {
	bad := lockbox.Invalidf("cursor is not valid for this query")
	if len(q.Cursor) > maxCursor {
		return position{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return position{}, bad
	}
	rest, ok := strings.CutPrefix(string(raw), activityBinding(q))
	if !ok {
		return position{}, bad
	}
	seqText, rest, hasID := strings.Cut(rest, "@")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil || seq == 0 {
		return position{}, bad
	}
	if !hasID {
		return position{before: seq}, nil
	}
	id, atText, _ := strings.Cut(rest, "@")
	at, err := strconv.ParseUint(atText, 10, 64)
	if err != nil || at < seq || !logPosition.MatchString(id) {
		return position{}, bad
	}
	return position{before: seq, id: id, at: at}, nil
}
