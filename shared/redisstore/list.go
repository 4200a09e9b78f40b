package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"lockbox.dev/shared/lockbox"
)

// scanCap bounds how many index entries one page may examine per index.
func scanCap(limit int) int { return max(1000, 10*limit) }

// List implements lockbox.Store: a page of the requests in q.Scope, newest
// first, with their effective status. Paging is stable while requests are
// added (they get higher sequence numbers than any cursor) and a page costs
// O(log N + page). A page may hold fewer than Limit requests and still have a
// Next cursor when many requests of another effective status stood in
// between, or when its records reached MaxPageBytes.
func (s *Store) List(ctx context.Context, q lockbox.Query) (lockbox.Page, error) {
	if q.Limit < 1 || q.Limit > 100 {
		return lockbox.Page{}, lockbox.Invalidf("limit must be 1..100")
	}
	from := "+inf"
	if q.Cursor != "" {
		seq, err := decodeCursor(q)
		if err != nil {
			return lockbox.Page{}, err
		}
		from = "(" + strconv.FormatUint(seq, 10)
	}
	k := keysFor(q.Scope.TenantID)
	indexes := s.indexes(k, q)
	res, err := listScript.Run(ctx, s.rdb, indexes, listArgs{Prefix: string(k), Status: string(q.Status), Cursor: from, Limit: q.Limit,
		Cap: scanCap(q.Limit), MaxBytes: s.MaxPageBytes, Hide: flag(q.Scope.HideInternal)}).Slice()
	if err != nil {
		return lockbox.Page{}, classify("list requests", err)
	}
	page := lockbox.Page{Requests: make([]lockbox.Request, 0, len(res)-1)}
	if next := fmt.Sprint(res[0]); next != "" {
		seq, _ := strconv.ParseUint(next, 10, 64)
		page.Next = encodeCursor(q, seq)
	}
	for _, item := range res[1:] {
		f, ok := item.([]any)
		if !ok || len(f) != 4 {
			return lockbox.Page{}, lockbox.Internal("list requests", fmt.Errorf("unexpected item %v", item))
		}
		rec, err := pairs(f[3])
		if err != nil {
			return lockbox.Page{}, lockbox.Internal("list requests", err)
		}
		r, err := decode(rec, f[1] == int64(1), f[2] == int64(1))
		if err != nil {
			return lockbox.Page{}, err
		}
		page.Requests = append(page.Requests, r)
	}
	return page, nil
}

// indexes returns the sorted sets that can hold requests matching q: a
// request recorded Pending (or InternalReview) may effectively be Expired, an Approved one
// Completed, until the sweep records it.
func (s *Store) indexes(k keys, q lockbox.Query) []string {
	switch {
	case q.Scope.RequesterID != "":
		return []string{k.byRequester(q.Scope.RequesterID)}
	case q.Status == "":
		return []string{k.of("all", "")}
	case q.Status == lockbox.StatusExpired:
		return []string{k.status(lockbox.StatusExpired), k.status(lockbox.StatusPending), k.status(lockbox.StatusInternalReview)}
	case q.Status == lockbox.StatusCompleted:
		return []string{k.status(lockbox.StatusCompleted), k.status(lockbox.StatusApproved)}
	}
	return []string{k.status(q.Status)}
}

// A cursor names the query it belongs to, so that it cannot be replayed
// against another tenant, requester or status filter.
func cursorBinding(q lockbox.Query) string {
	return "v1|" + q.Scope.TenantID + "|" + q.Scope.RequesterID + "|" + string(q.Status) + "|"
}

func encodeCursor(q lockbox.Query, seq uint64) string {
	return lockbox.EncodeCursor(cursorBinding(q), seq)
}

func decodeCursor(q lockbox.Query) (uint64, error) {
	return lockbox.DecodeCursor(q.Cursor, cursorBinding(q), 512)
}
