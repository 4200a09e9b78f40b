package redisstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// Stats are the store's figures for lockbox-metrics: counters the scripts
// keep in the same atomic step as what they count, and gauges read when
// asked. Totals are over every tenant; PerTenant holds each tenant's own.
type Stats struct {
	Tenant
	// Tenants are the tenants read, sorted: TenantsKey's (work pending,
	// live or unexported) and StatsTenantsKey's (counters).
	Tenants []string
	// PerTenant is each tenant's figures.
	PerTenant map[string]Tenant
}

// Tenant are one tenant's figures (or their total over the tenants).
type Tenant struct {
	// Transitions counts transitions by operation: file, approve (each
	// approval, also one towards a quorum), deny, revoke, cancel,
	// autoApprove, autoDeny, expire, complete.
	Transitions map[string]int64
	// Checks counts checks by result: allow, or the refusal's code
	// (NoGrant, PendingApproval, GrantEnded).
	Checks map[string]int64
	// Requests counts requests by effective status.
	Requests map[lockbox.Status]int64
	// OldestPending is the age of the oldest live pending request (0:
	// none), and NextExpiry how long until the first live window ends (-1:
	// none).
	OldestPending, NextExpiry time.Duration
	// Unexported is the audit events waiting for export, and OldestUnexported
	// the age of the oldest (0: none).
	Unexported       int64
	OldestUnexported time.Duration
	// LastExport is when an export last succeeded (the newest over the
	// tenants; zero: never).
	LastExport time.Time
	// Outbox is the notifications not yet expanded into deliveries plus the
	// deliveries waiting to be sent; DeadLetters the deliveries that failed
	// for good.
	Outbox, DeadLetters int64
}

// tenantCmds are the commands that read one tenant's figures, in one
// pipeline with every other tenant's.
type tenantCmds struct {
	counters      *redis.MapStringStringCmd
	pendingLive   *redis.IntCmd
	oldestPending *redis.ZSliceCmd
	grantsLive    *redis.IntCmd
	statuses      []*redis.IntCmd // by lockbox.Statuses
	unexported    *redis.IntCmd
	firstEvent    *redis.XMessageSliceCmd
	lastExport    *redis.StringCmd
	outbox, sendq *redis.IntCmd
	dead          *redis.IntCmd
}

// Stats reads the figures of every tenant at now. known are the tenants
// the caller read last time (nil at first): their figures are read in the
// same round trip as the list of tenants, so a scrape is one round trip
// while no tenant appears; a tenant that appeared costs one more.
func (s *Store) Stats(ctx context.Context, now time.Time, known []string) (Stats, error) {
	var list *redis.StringSliceCmd
	cmds, err := s.readTenants(ctx, now, known, func(p redis.Pipeliner) {
		list = p.SUnion(ctx, TenantsKey, StatsTenantsKey)
	})
	if err != nil {
		return Stats{}, err
	}
	tenants := list.Val()
	var missing []string
	for _, t := range tenants {
		if _, ok := cmds[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		more, err := s.readTenants(ctx, now, missing, nil)
		if err != nil {
			return Stats{}, err
		}
		maps.Copy(cmds, more)
	}
	slices.Sort(tenants)
	st := Stats{Tenant: newTenant(), Tenants: tenants, PerTenant: make(map[string]Tenant, len(tenants))}
	for _, t := range tenants {
		one := cmds[t].figures(now, s.limits.PendingTTL)
		st.PerTenant[t] = one
		st.add(one)
	}
	return st, nil
}

// readTenants reads the figures of tenants in one pipeline, after what
// first adds to it.
func (s *Store) readTenants(ctx context.Context, now time.Time, tenants []string, first func(redis.Pipeliner)) (map[string]*tenantCmds, error) {
	cmds := make(map[string]*tenantCmds, len(tenants))
	after := "(" + strconv.FormatInt(ms(now), 10)
	done, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if first != nil {
			first(p)
		}
		for _, t := range tenants {
			k := keysFor(t)
			c := &tenantCmds{
				counters:      p.HGetAll(ctx, k.of("stats", "")),
				pendingLive:   p.ZCount(ctx, k.of("livePending", ""), after, "+inf"),
				oldestPending: p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: k.of("livePending", ""), Start: after, Stop: "+inf", ByScore: true, Count: 1}),
				grantsLive:    p.ZCount(ctx, k.of("due", ""), after, "+inf"),
				unexported:    p.XLen(ctx, k.of("events", "")),
				firstEvent:    p.XRangeN(ctx, k.of("events", ""), "-", "+", 1),
				lastExport:    p.HGet(ctx, k.of("auditHead", ""), "ms"),
				outbox:        p.XLen(ctx, k.of("outbox", "")),
				sendq:         p.ZCard(ctx, k.of("sendq", "")),
				dead:          p.ZCard(ctx, k.of("dead", "")),
			}
			for _, status := range lockbox.Statuses {
				c.statuses = append(c.statuses, p.ZCard(ctx, k.status(status)))
			}
			cmds[t] = c
		}
		return nil
	})
	if err != nil {
		for _, c := range done {
			// HGET of a head without ms (nothing exported yet) answers nil.
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return nil, classify("read stats", err)
			}
		}
	}
	return cmds, nil
}

func newTenant() Tenant {
	return Tenant{Transitions: map[string]int64{}, Checks: map[string]int64{}, Requests: map[lockbox.Status]int64{}, NextExpiry: -1}
}

// figures are one tenant's figures from its commands' answers. A request
// recorded Pending whose window has ended is Expired, one recorded Approved
// whose grant has ended Completed, as lockbox.EffectiveStatus says, until
// the sweep records it.
func (c *tenantCmds) figures(now time.Time, window time.Duration) Tenant {
	t := newTenant()
	for field, v := range c.counters.Val() {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		if op, ok := strings.CutPrefix(field, "tr:"); ok {
			t.Transitions[op] = n
		} else if result, ok := strings.CutPrefix(field, "ck:"); ok {
			t.Checks[result] = n
		}
	}
	for i, status := range lockbox.Statuses {
		t.Requests[status] += c.statuses[i].Val()
	}
	pending, granted := c.pendingLive.Val(), c.grantsLive.Val()
	t.Requests[lockbox.StatusExpired] += max(t.Requests[lockbox.StatusPending]-pending, 0)
	t.Requests[lockbox.StatusPending] = pending
	t.Requests[lockbox.StatusCompleted] += max(t.Requests[lockbox.StatusApproved]-granted, 0)
	t.Requests[lockbox.StatusApproved] = granted
	if z := c.oldestPending.Val(); len(z) == 1 {
		// Its window ends first: it was filed first (a window is the
		// pending lifetime long).
		ends := time.UnixMilli(int64(z[0].Score))
		t.OldestPending = max(now.Sub(ends.Add(-window)), 0)
		t.NextExpiry = max(ends.Sub(now), 0)
	}
	t.Unexported = c.unexported.Val()
	if m := c.firstEvent.Val(); len(m) == 1 {
		if at, err := streamTime(m[0].ID); err == nil {
			t.OldestUnexported = max(now.Sub(at), 0)
		}
	}
	if v, err := c.lastExport.Result(); err == nil {
		t.LastExport = fromMs(v)
	}
	t.Outbox = c.outbox.Val() + c.sendq.Val()
	t.DeadLetters = c.dead.Val()
	return t
}

// add adds a tenant's figures to the totals.
func (st *Stats) add(t Tenant) {
	for op, n := range t.Transitions {
		st.Transitions[op] += n
	}
	for result, n := range t.Checks {
		st.Checks[result] += n
	}
	for status, n := range t.Requests {
		st.Requests[status] += n
	}
	st.OldestPending = max(st.OldestPending, t.OldestPending)
	if t.NextExpiry >= 0 && (st.NextExpiry < 0 || t.NextExpiry < st.NextExpiry) {
		st.NextExpiry = t.NextExpiry
	}
	st.Unexported += t.Unexported
	st.OldestUnexported = max(st.OldestUnexported, t.OldestUnexported)
	if t.LastExport.After(st.LastExport) {
		st.LastExport = t.LastExport
	}
	st.Outbox += t.Outbox
	st.DeadLetters += t.DeadLetters
}

// streamTime is when a stream entry was added: its id's milliseconds.
func streamTime(id string) (time.Time, error) {
	msPart, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(msPart, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("stream id %q: %w", id, err)
	}
	return time.UnixMilli(n).UTC(), nil
}
