package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// The audit export's side of the store: a tenant's events wait in its stream
// (EventsKey) until the exporter (package audit) has archived them. The
// export's state — its head, its plan and its lock — are keys of the tenant
// too, owned here like every other key.

var (
	// exportPlanScript records an export plan under the lock
	// (lua/export_plan.lua).
	exportPlanScript = loadScript[planArgs]("export_plan.lua")
	// exportAckScript acknowledges an exported batch under the lock
	// (lua/export_ack.lua).
	exportAckScript = loadScript[ackArgs]("export_ack.lua")
	// exportUnlockScript releases the export lock (lua/export_unlock.lua).
	exportUnlockScript = loadScript[unlockArgs]("export_unlock.lua")
)

// planArgs are the export-plan script's arguments.
type planArgs struct {
	Prefix string `lua:"prefix"`
	Token  string `lua:"token"` // the lock's token
	From   string `lua:"from"`  // the plan's first stream id
	To     string `lua:"to"`    // its last
	Count  int    `lua:"count"` // its number of events
}

func (a planArgs) args() []any { return []any{a.Prefix, a.Token, a.From, a.To, a.Count} }

// ackArgs are the export-ack script's arguments.
type ackArgs struct {
	Prefix  string `lua:"prefix"`
	Token   string `lua:"token"`   // the lock's token
	HeadSeq uint64 `lua:"headSeq"` // the seq the head must still be at
	Seq     uint64 `lua:"seq"`     // the new head's seq
	Hash    string `lua:"hash"`    // its hash
	LastID  string `lua:"lastId"`  // its last stream id
	MinID   string `lua:"minId"`   // the first stream id kept (XTRIM MINID)
	NowMs   int64  `lua:"nowMs"`   // when, kept as the head's ms: the last successful export (Stats)
}

func (a ackArgs) args() []any {
	return []any{a.Prefix, a.Token, a.HeadSeq, a.Seq, a.Hash, a.LastID, a.MinID, a.NowMs}
}

// unlockArgs are the export-unlock script's arguments.
type unlockArgs struct {
	Prefix string `lua:"prefix"`
	Token  string `lua:"token"`
}

func (a unlockArgs) args() []any { return []any{a.Prefix, a.Token} }

// LockExport takes tenant's export lock for ttl. ok is false when another run
// holds it.
func (s *Store) LockExport(ctx context.Context, tenant string, ttl time.Duration) (token string, ok bool, err error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	token = hex.EncodeToString(b)
	ok, err = s.rdb.SetNX(ctx, keysFor(tenant).of("auditLock", ""), token, ttl).Result()
	if err != nil {
		return "", false, classify("take export lock", err)
	}
	return token, ok, nil
}

// UnlockExport releases tenant's export lock if token still holds it.
func (s *Store) UnlockExport(ctx context.Context, tenant, token string) error {
	k := keysFor(tenant)
	if err := exportUnlockScript.Run(ctx, s.rdb, []string{k.of("auditLock", "")}, unlockArgs{Prefix: string(k), Token: token}).Err(); err != nil {
		return classify("release export lock", err)
	}
	return nil
}

// ExportHead returns how far tenant's archive reaches; found is false when
// no head is recorded (nothing exported yet, or the head was lost).
func (s *Store) ExportHead(ctx context.Context, tenant string) (h lockbox.ExportHead, found bool, err error) {
	m, err := s.rdb.HGetAll(ctx, keysFor(tenant).of("auditHead", "")).Result()
	if err != nil {
		return h, false, classify("read export head", err)
	}
	if len(m) == 0 {
		return h, false, nil
	}
	seq, err := strconv.ParseUint(m["seq"], 10, 64)
	if err != nil {
		return h, false, lockbox.Internal("read export head", fmt.Errorf("seq %q: %w", m["seq"], err))
	}
	h = lockbox.ExportHead{Seq: seq, Hash: m["hash"], LastID: m["lastId"]}
	if h.LastID == "0" {
		h.LastID = ""
	}
	return h, true, nil
}

// ExportPlan returns the plan a crashed run left; found is false when there
// is none.
func (s *Store) ExportPlan(ctx context.Context, tenant string) (p lockbox.ExportPlan, found bool, err error) {
	m, err := s.rdb.HGetAll(ctx, keysFor(tenant).of("auditPlan", "")).Result()
	if err != nil {
		return p, false, classify("read export plan", err)
	}
	if len(m) == 0 {
		return p, false, nil
	}
	n, err := strconv.Atoi(m["count"])
	if err != nil {
		return p, false, lockbox.Internal("read export plan", fmt.Errorf("count %q: %w", m["count"], err))
	}
	return lockbox.ExportPlan{From: m["from"], To: m["to"], Count: n}, true, nil
}

// RecordExportPlan records p if token still holds tenant's export lock.
// Errors: lockbox.ErrExportFenced (wrapped), KindUnavailable.
func (s *Store) RecordExportPlan(ctx context.Context, tenant, token string, p lockbox.ExportPlan) error {
	k := keysFor(tenant)
	out, err := exportPlanScript.Run(ctx, s.rdb, []string{k.of("auditLock", "")},
		planArgs{Prefix: string(k), Token: token, From: p.From, To: p.To, Count: p.Count}).Text()
	if err != nil {
		return classify("record export plan", err)
	}
	if out != "ok" {
		return fmt.Errorf("record export plan: %w", lockbox.ErrExportFenced)
	}
	return nil
}

// AckExport acknowledges an archived batch: if token still holds the lock and
// the head is still at prevSeq, the head becomes to, the plan is dropped and
// the stream is trimmed up to to.LastID, in one step.
// Errors: lockbox.ErrExportFenced, lockbox.ErrExportMoved (wrapped),
// KindUnavailable.
func (s *Store) AckExport(ctx context.Context, tenant, token string, prevSeq uint64, to lockbox.ExportHead) error {
	k := keysFor(tenant)
	out, err := exportAckScript.Run(ctx, s.rdb, []string{k.of("auditLock", "")}, ackArgs{Prefix: string(k), Token: token,
		HeadSeq: prevSeq, Seq: to.Seq, Hash: to.Hash, LastID: to.LastID, MinID: nextID(to.LastID), NowMs: ms(time.Now())}).Text()
	if err != nil {
		return classify("acknowledge export", err)
	}
	switch out {
	case "ok":
		return nil
	case "moved":
		return fmt.Errorf("acknowledge export: %w", lockbox.ErrExportMoved)
	}
	return fmt.Errorf("acknowledge export: %w", lockbox.ErrExportFenced)
}

// ReadEvents returns up to n of tenant's waiting events after log position
// after ("" for the start) up to upto ("" for the end), in order.
func (s *Store) ReadEvents(ctx context.Context, tenant, after, upto string, n int) ([]lockbox.LoggedEvent, error) {
	start, end := "-", "+"
	if after != "" {
		start = "(" + after
	}
	if upto != "" {
		end = upto
	}
	return s.readEvents(ctx, tenant, "XRANGE", start, end, n)
}

// ReadEventsBefore returns up to n of tenant's waiting events before log
// position before ("" for the newest) and after position after ("" for the
// oldest), newest first.
func (s *Store) ReadEventsBefore(ctx context.Context, tenant, before, after string, n int) ([]lockbox.LoggedEvent, error) {
	end, start := "+", "-"
	if before != "" {
		end = "(" + before
	}
	if after != "" {
		start = "(" + after
	}
	return s.readEvents(ctx, tenant, "XREVRANGE", end, start, n)
}

// readEvents runs XRANGE or XREVRANGE over tenant's stream and decodes the
// entries.
func (s *Store) readEvents(ctx context.Context, tenant, command, from, to string, n int) ([]lockbox.LoggedEvent, error) {
	reply, err := s.rdb.Do(ctx, command, EventsKey(tenant), from, to, "COUNT", n).Slice()
	if err != nil {
		return nil, classify("read events", err)
	}
	out := make([]lockbox.LoggedEvent, len(reply))
	for i, entry := range reply {
		e, ok := entry.([]any)
		if !ok || len(e) != 2 {
			return nil, lockbox.Internal("read events", fmt.Errorf("unexpected stream entry %T", entry))
		}
		id, _ := e[0].(string)
		fields, _ := e[1].([]any)
		ev, err := decodeEntry(tenant, fields)
		if id == "" || err != nil {
			return nil, lockbox.Internal("read event "+id, fmt.Errorf("malformed entry: %v", err))
		}
		out[i] = lockbox.LoggedEvent{ID: id, Event: ev}
	}
	return out, nil
}

// WaitingEvents returns how many events each tenant has waiting for export
// (one pipelined XLEN each), in the order given.
func (s *Store) WaitingEvents(ctx context.Context, tenants []string) ([]int64, error) {
	lens := make([]*redis.IntCmd, len(tenants))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tenants {
			lens[i] = p.XLen(ctx, EventsKey(t))
		}
		return nil
	})
	if err != nil {
		return nil, classify("read audit stream lengths", err)
	}
	out := make([]int64, len(tenants))
	for i, c := range lens {
		out[i] = c.Val()
	}
	return out, nil
}

// nextID is the smallest stream id after id: XTRIM MINID with it removes id
// and everything before.
func nextID(id string) string {
	ms, seq, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return ms + "-" + strconv.FormatUint(n+1, 10)
}

// ForgetEvents drops every event of tenant waiting for export and restarts
// its seqs, as if none had ever been appended: for the set-up data of
// benchmarks and tests (millions of requests filed to measure a list page
// are not audit history). On a tenant with an archive the next export would
// refuse the restarted seqs; it is never called by the functions.
func (s *Store) ForgetEvents(ctx context.Context, tenant string) error {
	k := keysFor(tenant)
	if err := s.rdb.Del(ctx, k.of("events", ""), k.of("auditSeq", "")).Err(); err != nil {
		return classify("forget events", err)
	}
	return nil
}
