package audit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
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
			q.Cursor = encodeActivityCursor(lockbox.ActivityQuery{TenantID: "fabrikam"}, 5)
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
