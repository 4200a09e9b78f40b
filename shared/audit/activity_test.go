package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

// The activity log pages newest first across what is archived and what
// waits for export, in the archive's form: the hashes of waiting events are
// the ones the export then writes.
func TestActivity(t *testing.T) {
	f := setup(t)
	f.now = time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)
	f.activity(t, "contoso", 4) // 6 events on the 25th
	f.now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.activity(t, "contoso", 2) // 3 events on the 27th
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	f.activity(t, "contoso", 2) // 3 more, waiting
	f.activity(t, "fabrikam", 2)

	a := &Activity{Events: f.store, Archive: f.bkt}
	q := lockbox.ActivityQuery{TenantID: "contoso", From: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), Limit: 5}
	var all []lockbox.Event
	for {
		p, err := a.Activity(t.Context(), q)
		require.NoError(t, err)
		all = append(all, p.Events...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	require.Len(t, all, 12)
	for i, e := range all {
		assert.Equal(t, uint64(12-i), e.Seq, "newest first, every event once")
		assert.Equal(t, "contoso", e.TenantID)
		assert.Len(t, e.Hash, 64)
	}
	waiting := map[uint64]string{}
	for _, e := range all[:3] {
		waiting[e.Seq] = e.Hash
	}

	// The export writes the hashes the log showed.
	_, err = f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	q.Cursor = ""
	q.Limit = 3
	p, err := a.Activity(t.Context(), q)
	require.NoError(t, err)
	for _, e := range p.Events {
		assert.Equal(t, waiting[e.Seq], e.Hash, "seq %d", e.Seq)
	}

	// Filters: operation, request, time range.
	q = lockbox.ActivityQuery{TenantID: "contoso", From: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC),
		Operations: []string{lockbox.OpApprove}, Limit: 200}
	p, err = a.Activity(t.Context(), q)
	require.NoError(t, err)
	require.Len(t, p.Events, 2)
	for _, e := range p.Events {
		assert.Equal(t, lockbox.OpApprove, e.OperationName)
		assert.Equal(t, 27, e.Time.Day())
	}
	q = lockbox.ActivityQuery{TenantID: "contoso", From: q.From.AddDate(0, 0, -7), To: q.To, RequestID: p.Events[0].RequestID, Limit: 10}
	p, err = a.Activity(t.Context(), q)
	require.NoError(t, err)
	assert.Equal(t, []string{lockbox.OpApprove, lockbox.OpCreate}, []string{p.Events[0].OperationName, p.Events[1].OperationName})
}

// Only the days asked for are read: a day outside the range costs nothing,
// whatever the archive holds.
func TestActivityReadsOnlyTheDaysAskedFor(t *testing.T) {
	f := setup(t)
	f.now = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	f.activity(t, "contoso", 2)
	f.now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.activity(t, "contoso", 2)
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	counting := &countingReader{ObjectReader: f.bkt}
	a := &Activity{Events: f.store, Archive: counting}
	p, err := a.Activity(t.Context(), lockbox.ActivityQuery{TenantID: "contoso", From: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		To: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), Limit: 50})
	require.NoError(t, err)
	assert.Len(t, p.Events, 3)
	assert.Equal(t, 2, counting.lists, "one listing per day asked for")
	assert.Equal(t, 1, counting.gets)
}

func TestActivityRefusals(t *testing.T) {
	f := setup(t)
	a := &Activity{Events: f.store, Archive: f.bkt}
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ok := lockbox.ActivityQuery{TenantID: "contoso", From: from, To: from.Add(24 * time.Hour), Limit: 10}
	for name, mutate := range map[string]func(q *lockbox.ActivityQuery){
		"93 days":        func(q *lockbox.ActivityQuery) { q.To = q.From.AddDate(0, 0, 93) },
		"to before from": func(q *lockbox.ActivityQuery) { q.To = q.From.Add(-time.Hour) },
		"limit 0":        func(q *lockbox.ActivityQuery) { q.Limit = 0 },
		"limit 201":      func(q *lockbox.ActivityQuery) { q.Limit = 201 },
		"unknown op":     func(q *lockbox.ActivityQuery) { q.Operations = []string{"DropTable"} },
		"bad request id": func(q *lockbox.ActivityQuery) { q.RequestID = "a:b" },
		"cursor of others": func(q *lockbox.ActivityQuery) {
			q.Cursor = encodeActivityCursor(lockbox.ActivityQuery{TenantID: "fabrikam"}, position{before: 5})
		},
		"garbage cursor": func(q *lockbox.ActivityQuery) { q.Cursor = "!!" },
	} {
		q := ok
		mutate(&q)
		_, err := a.Activity(t.Context(), q)
		assert.Equal(t, lockbox.KindInvalid, lockbox.KindOf(err), "%s: %v", name, err)
	}
}

type countingReader struct {
	ObjectReader
	lists, gets int
}

func (c *countingReader) List(ctx context.Context, prefix string) ([]string, error) {
	c.lists++
	return c.ObjectReader.List(ctx, prefix)
}

func (c *countingReader) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets++
	return c.ObjectReader.Get(ctx, key)
}

// smallBudget makes the window and the scan after it a few events, so that
// a small log exercises every bound.
var smallBudget = &activityBudget{windowEvents: 5, windowBytes: 1 << 20, scanEvents: 4, scanBytes: 1 << 20, pageBytes: 1 << 20, chunk: 2}

// allPages reads every page of q and returns the events and how many pages
// it took.
func allPages(t *testing.T, a *Activity, q lockbox.ActivityQuery) ([]lockbox.Event, int) {
	t.Helper()
	var all []lockbox.Event
	for pages := 1; ; pages++ {
		p, err := a.Activity(t.Context(), q)
		require.NoError(t, err)
		all = append(all, p.Events...)
		if p.Next == "" {
			return all, pages
		}
		require.Less(t, pages, 1000, "pages that do not move on")
		q.Cursor = p.Next
	}
}

func seqsOf(events []lockbox.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func countdown(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s >= to; s-- {
		out = append(out, s)
	}
	return out
}

// A backlog larger than a page reads: the archive, the window chained from
// the export's head, and the events after it, read newest first in bounded
// steps, page through as one sequence, every seq once. The window shows the
// hashes the export then writes; the events after it show none until they
// are exported.
func TestActivityPagesAcrossTheWindow(t *testing.T) {
	f := setup(t)
	f.now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.activity(t, "contoso", 4) // seqs 1..6
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	f.activity(t, "contoso", 10) // seqs 7..21, waiting
	a := &Activity{Events: f.store, Archive: f.bkt, budget: smallBudget}
	q := lockbox.ActivityQuery{TenantID: "contoso", From: f.now.Add(-time.Hour), To: f.now.Add(time.Hour), Limit: 3}

	all, pages := allPages(t, a, q)
	require.Equal(t, countdown(21, 1), seqsOf(all), "newest first, every event once")
	assert.GreaterOrEqual(t, pages, 7)
	shown := map[uint64]lockbox.Event{}
	for _, e := range all {
		shown[e.Seq] = e
		inWindow := e.Seq >= 7 && e.Seq <= 11
		if e.Seq > 11 {
			assert.Empty(t, e.Hash+e.PrevHash, "seq %d after the window: no hash", e.Seq)
		} else {
			assert.Len(t, e.Hash, 64, "seq %d (window: %v)", e.Seq, inWindow)
		}
	}

	// A filter that matches few: pages stop at the scan's bound, some
	// empty, and go on from there.
	fq := q
	fq.RequestID = shown[8].RequestID
	var want []lockbox.Event
	for _, e := range all {
		if e.RequestID == fq.RequestID {
			want = append(want, e)
		}
	}
	found, pages := allPages(t, a, fq)
	assert.Equal(t, 3, pages, "two pages stopped by the scan's bound, 21..18 and 17..14")
	assert.Equal(t, want, found, "every event of the request once")

	// Exported, the events keep their seqs, and the window its hashes.
	for {
		res, err := f.exp.ExportTenant(t.Context(), "contoso")
		require.NoError(t, err)
		if res.Exported == 0 {
			break
		}
	}
	archived, _ := allPages(t, a, q)
	require.Equal(t, countdown(21, 1), seqsOf(archived))
	for _, e := range archived {
		if shown[e.Seq].Hash != "" {
			assert.Equal(t, shown[e.Seq].Hash, e.Hash, "seq %d", e.Seq)
			assert.Equal(t, shown[e.Seq].PrevHash, e.PrevHash, "seq %d", e.Seq)
		}
		assert.Equal(t, shown[e.Seq].Time, e.Time)
		assert.Equal(t, shown[e.Seq].RequestID, e.RequestID)
	}
}

// A cursor of the events after the window still pages on once they are
// exported: the rest come from the archive, none twice, none missing.
func TestActivityCursorOutlivesTheExport(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 10) // seqs 1..15, waiting
	a := &Activity{Events: f.store, Archive: f.bkt, budget: smallBudget}
	q := lockbox.ActivityQuery{TenantID: "contoso", From: f.now.Add(-time.Hour), To: f.now.Add(time.Hour), Limit: 3}
	p, err := a.Activity(t.Context(), q)
	require.NoError(t, err)
	require.Equal(t, []uint64{15, 14, 13}, seqsOf(p.Events))
	_, err = f.exp.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)
	q.Cursor = p.Next
	rest, _ := allPages(t, a, q)
	assert.Equal(t, countdown(12, 1), seqsOf(rest))
}

// exportingEvents runs an export once, right after the page first reads
// the window: the head moves and the log is trimmed under the page.
type exportingEvents struct {
	EventSource
	export func()
}

func (e *exportingEvents) ReadEvents(ctx context.Context, tenant, after, upto string, n int) ([]lockbox.LoggedEvent, error) {
	evs, err := e.EventSource.ReadEvents(ctx, tenant, after, upto, n)
	if e.export != nil {
		e.export()
		e.export = nil
	}
	return evs, err
}

// The export acknowledging a batch while a page is read: the page is read
// again, rather than miss what moved from the log to the archive.
func TestActivityPageReadAgainWhenTheExportMovesOn(t *testing.T) {
	f := setup(t)
	f.activity(t, "contoso", 10) // seqs 1..15, waiting
	events := &exportingEvents{EventSource: f.store, export: func() {
		_, err := f.exp.ExportTenant(t.Context(), "contoso")
		require.NoError(t, err)
	}}
	a := &Activity{Events: events, Archive: f.bkt, budget: smallBudget}
	q := lockbox.ActivityQuery{TenantID: "contoso", From: f.now.Add(-time.Hour), To: f.now.Add(time.Hour), Limit: 3}
	p, err := a.Activity(t.Context(), q)
	require.NoError(t, err)
	assert.Equal(t, []uint64{15, 14, 13}, seqsOf(p.Events))
	assert.Equal(t, int64(0), f.streamLen(t, "contoso"), "exported meanwhile")
}

// appendRaw appends events to tenant's stream with the seqs given (a lost
// event is a seq left out).
func appendRaw(t *testing.T, rdb *redis.Client, tenant string, at time.Time, seqs ...uint64) {
	for i, seq := range seqs {
		e := lockbox.Event{Seq: seq, OperationName: lockbox.OpCreate, RequestID: fmt.Sprintf("req-%d", i), Time: at.Add(time.Duration(i) * time.Second),
			Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"}, ToStatus: lockbox.StatusPending}
		field, value := redisstore.EventField, redisstore.EncodeEvent(e)
		require.NoError(t, rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: redisstore.EventsKey(tenant), Values: []any{field, value}}).Err())
	}
}

// A lost event (a gap in the seqs): the window, and the export, stop
// there; what follows shows with its seq and without a hash.
func TestActivityAfterAGap(t *testing.T) {
	f := setup(t)
	appendRaw(t, f.rdb, "contoso", f.now, 1, 2, 3, 5, 6)
	a := &Activity{Events: f.store, Archive: f.bkt, budget: smallBudget}
	all, _ := allPages(t, a, lockbox.ActivityQuery{TenantID: "contoso", From: f.now.Add(-time.Hour), To: f.now.Add(time.Hour), Limit: 2})
	require.Equal(t, []uint64{6, 5, 3, 2, 1}, seqsOf(all))
	for _, e := range all {
		assert.Equal(t, e.Seq <= 3, e.Hash != "", "seq %d", e.Seq)
	}
}

// A page holds at most its bytes, and at least one event.
func TestActivityPageBytes(t *testing.T) {
	f := setup(t)
	fillBacklog(t, f.rdb, "contoso", 10, 1000, f.now)
	b := *smallBudget
	b.windowEvents, b.pageBytes = 100, 2600
	a := &Activity{Events: f.store, Archive: f.bkt, budget: &b}
	q := lockbox.ActivityQuery{TenantID: "contoso", From: f.now.Add(-time.Hour), To: f.now.Add(time.Hour), Limit: 10}
	p, err := a.Activity(t.Context(), q)
	require.NoError(t, err)
	assert.Equal(t, []uint64{10, 9}, seqsOf(p.Events))
	all, _ := allPages(t, a, q)
	assert.Equal(t, countdown(10, 1), seqsOf(all))
	b.pageBytes = 10
	p, err = a.Activity(t.Context(), q)
	require.NoError(t, err)
	assert.Equal(t, []uint64{10}, seqsOf(p.Events), "at least one")
}

func TestActivityCursors(t *testing.T) {
	q := lockbox.ActivityQuery{TenantID: "contoso", Limit: 5}
	for _, pos := range []position{{before: 7}, {before: 7, id: "1764237600000-3", at: 9}} {
		q.Cursor = encodeActivityCursor(q, pos)
		got, err := decodeActivityCursor(q)
		assert.NoError(t, err)
		assert.Equal(t, pos, got)
	}
	for _, rest := range []string{"7@", "7@1-2", "7@1-2@", "7@1-2@6", "7@x-1@7", "7@1-2-3@7", "0@1-2@7", "@1-2@7", "7@" + strings.Repeat("1", 21) + "-1@7"} {
		q.Cursor = base64.RawURLEncoding.EncodeToString([]byte(activityBinding(q) + rest))
		_, err := decodeActivityCursor(q)
		assert.Equal(t, lockbox.KindInvalid, lockbox.KindOf(err), rest)
	}
}
