package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// EventSource is where the events not yet exported wait (the store).
type EventSource interface {
	ExportHead(ctx context.Context, tenant string) (h lockbox.ExportHead, found bool, err error)
	ReadEvents(ctx context.Context, tenant, after, upto string, n int) ([]lockbox.LoggedEvent, error)
}

// Activity reads a tenant's audit events for the activity log
// (lockbox.ActivityLog): the archived ones, read by date partition, and the
// ones not yet exported, chained from the export's head exactly as the
// export will chain them, so that every event has its archive form (seq,
// prevHash, hash). A page reads only the partitions of the days asked for,
// newest first, and stops once it is full: its cost grows with the days
// asked for, not with the archive.
type Activity struct {
	Events  EventSource
	Archive ObjectReader
}

// Limits of a query.
const (
	MaxActivityDays  = 92
	MaxActivityLimit = 200
	// maxWaiting bounds the events not yet exported that a page reads (the
	// export runs every minute; past this the newest are left out).
	maxWaiting = 20_000
)

// Activity implements lockbox.ActivityLog.
func (a *Activity) Activity(ctx context.Context, q lockbox.ActivityQuery) (lockbox.ActivityPage, error) {
	if err := checkQuery(q); err != nil {
		return lockbox.ActivityPage{}, err
	}
	before := uint64(1<<63 - 1) // seqs below this are still to be shown
	if q.Cursor != "" {
		seq, err := decodeActivityCursor(q)
		if err != nil {
			return lockbox.ActivityPage{}, err
		}
		before = seq
	}
	var found []lockbox.Event
	want := q.Limit + 1
	head, waiting, err := a.waiting(ctx, q.TenantID)
	if err != nil {
		return lockbox.ActivityPage{}, err
	}
	for i := len(waiting) - 1; i >= 0 && len(found) < want; i-- {
		if e := waiting[i]; e.Seq < before && matches(q, e) {
			found = append(found, e)
		}
	}
	if len(found) < want {
		archived, err := a.archived(ctx, q, min(before, head.Seq+1), want-len(found))
		if err != nil {
			return lockbox.ActivityPage{}, err
		}
		found = append(found, archived...)
	}
	page := lockbox.ActivityPage{Events: found}
	if len(found) > q.Limit {
		page.Events = found[:q.Limit]
		page.Next = encodeActivityCursor(q, page.Events[q.Limit-1].Seq)
	}
	return page, nil
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

// waiting returns the export's head and the events not yet exported, oldest
// first, sealed after the head.
func (a *Activity) waiting(ctx context.Context, tenant string) (lockbox.ExportHead, []lockbox.Event, error) {
	head, _, err := a.Events.ExportHead(ctx, tenant)
	if err != nil {
		return head, nil, err
	}
	logged, err := a.Events.ReadEvents(ctx, tenant, head.LastID, "", maxWaiting)
	if err != nil {
		return head, nil, err
	}
	prev := head.Hash
	if prev == "" {
		prev = ZeroHash
	}
	out := make([]lockbox.Event, 0, len(logged))
	seq := head.Seq
	var line []byte
	for _, le := range logged {
		ev := le.Event
		if ev.Seq != 0 && ev.Seq != seq+1 {
			break // a gap: the export stops here too, and so does the log
		}
		r := recordOf(tenant, ev)
		line = r.appendSealed(line[:0], seq, prev)
		seq, prev = r.Seq, r.Hash
		out = append(out, eventOf(r, ev.Time))
	}
	return head, out, nil
}

// archived returns up to n archived events of q below seq before, newest
// first, reading the date partitions from q.To back to q.From.
func (a *Activity) archived(ctx context.Context, q lockbox.ActivityQuery, before uint64, n int) ([]lockbox.Event, error) {
	var out []lockbox.Event
	for day := q.To.Add(-time.Nanosecond).UTC().Truncate(24 * time.Hour); !day.Before(q.From.UTC().Truncate(24 * time.Hour)); day = day.Add(-24 * time.Hour) {
		names, err := a.Archive.List(ctx, TenantPrefix(q.TenantID)+"date="+day.Format("2006-01-02")+"/")
		if err != nil {
			return nil, lockbox.Unavailable("list archive", err)
		}
		keys := make([]Key, 0, len(names))
		for _, name := range names {
			if k, ok := ParseKey(name); ok && k.Tenant == q.TenantID && k.First < before {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(x, y Key) int { return cmp.Compare(y.First, x.First) })
		for _, k := range keys {
			events, err := a.object(ctx, ObjectKey(k.Tenant, k.Date, k.First, k.Last))
			if err != nil {
				return nil, err
			}
			for i := len(events) - 1; i >= 0; i-- {
				if e := events[i]; e.Seq < before && matches(q, e) {
					out = append(out, e)
					if len(out) == n {
						return out, nil
					}
				}
			}
		}
	}
	return out, nil
}

// object reads one archived object's events, oldest first.
func (a *Activity) object(ctx context.Context, key string) ([]lockbox.Event, error) {
	body, err := a.Archive.Get(ctx, key)
	if err != nil {
		return nil, lockbox.Unavailable("read "+key, err)
	}
	var out []lockbox.Event
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, lockbox.Internal("read "+key, err)
		}
		t, err := time.Parse(TimeFormat, r.Time)
		if err != nil {
			return nil, lockbox.Internal("read "+key, err)
		}
		out = append(out, eventOf(r, t))
	}
	if err := sc.Err(); err != nil {
		return nil, lockbox.Internal("read "+key, err)
	}
	return out, nil
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
// against another tenant or filter.
func activityBinding(q lockbox.ActivityQuery) string {
	return fmt.Sprintf("a1|%s|%s|%d|%d|%s|", q.TenantID, strings.Join(q.Operations, ","), q.From.UnixMilli(), q.To.UnixMilli(), q.RequestID)
}

func encodeActivityCursor(q lockbox.ActivityQuery, seq uint64) string {
	return lockbox.EncodeCursor(activityBinding(q), seq)
}

func decodeActivityCursor(q lockbox.ActivityQuery) (uint64, error) {
	return lockbox.DecodeCursor(q.Cursor, activityBinding(q), 1024)
}
