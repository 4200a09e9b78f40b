package redisclient

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// How often a function's Guard checks its Redis again.
const (
	// RecheckEvery is how often a check that passed is repeated while the
	// function serves: a Redis whose policy changes to evicting is refused
	// within about this, and never served on a check older than twice it.
	RecheckEvery = 30 * time.Second
	// RetryEvery is how often a check that did not pass is repeated.
	RetryEvery = 5 * time.Second
)

// checkTimeout bounds one check.
const checkTimeout = 5 * time.Second

// Guard keeps a function from serving while its Redis may evict keys. It
// runs CheckNoEviction on the first call and then again: every `every`
// while the check passes, every `retry` while it does not, and at once
// after a reply of Redis says it is out of memory ("OOM command not
// allowed…", which is also what an evicting policy with nothing left to
// evict answers). A Redis whose policy changes to evicting is refused
// within a minute, and served again as soon as it is fixed.
//
// No call waits for a re-check while the check passes and is not too old:
// the call that finds it due starts it in the background and is served on
// the verdict it has, so the steady state costs a call an atomic load and a
// clock read, and one INFO per `every` per process. A call waits only for
// the first check, for a check older than twice `every` (a process that
// served nothing for that long), and, while refused, for the check it
// repeats itself (at most every `retry`), so that the first call after the
// fix is served. A background ticker would do the same work without these
// waits, but a goroutine per process that never stops, checking Redis while
// nobody calls; checks driven by the calls need neither.
//
// A Guard is safe for concurrent use; a nil *Guard lets every call through.
type Guard struct {
	rdb          redis.UniversalClient
	every, retry time.Duration

	mu      sync.Mutex // held while a check runs
	again   atomic.Bool
	verdict atomic.Pointer[verdict]
}

// verdict is the outcome of one check.
type verdict struct {
	err error     // nil: serve
	due time.Time // when to check again
}

// NewGuard returns the guard of rdb, which checks again every `every` while
// the check passes and every `retry` while it does not (RecheckEvery and
// RetryEvery in a function; tests shorten them). It adds a hook to rdb that
// sees every reply error, to re-check at once after an out-of-memory one.
func NewGuard(rdb redis.UniversalClient, every, retry time.Duration) *Guard {
	g := &Guard{rdb: rdb, every: every, retry: retry}
	rdb.AddHook(oomHook{g})
	return g
}

// Check returns nil when the function may serve. Otherwise the error of the
// last check: it matches ErrEvictionPolicy or ErrPolicyUnknown (Redis may
// evict keys; an operator must act) or ErrUnavailable (Redis could not be
// checked yet).
func (g *Guard) Check() error {
	if g == nil {
		return nil
	}
	v := g.verdict.Load()
	if v != nil {
		now := time.Now()
		if now.Before(v.due) {
			return v.err
		}
		if v.err == nil && now.Before(v.due.Add(g.every)) {
			g.recheckInBackground()
			return nil
		}
	}
	if v != nil && v.err != nil {
		if !g.mu.TryLock() { // another call is checking: answer with the last check
			return v.err
		}
	} else {
		g.mu.Lock() // no check yet, or too old to serve on: wait for one
	}
	defer g.mu.Unlock()
	if v := g.verdict.Load(); v != nil && time.Now().Before(v.due) { // checked while this call waited
		return v.err
	}
	return g.checkLocked().err
}

// recheckInBackground starts a check unless one is running.
func (g *Guard) recheckInBackground() {
	if !g.mu.TryLock() {
		return
	}
	go func() {
		defer g.mu.Unlock()
		if v := g.verdict.Load(); v != nil && time.Now().Before(v.due) {
			return
		}
		g.checkLocked()
	}()
}

// outOfMemory checks again at once, in the call whose command Redis refused
// (it failed anyway); when a check is running, that check is repeated.
func (g *Guard) outOfMemory() {
	if !g.mu.TryLock() {
		g.again.Store(true)
		return
	}
	defer g.mu.Unlock()
	g.checkLocked()
}

// checkLocked checks Redis, keeps the verdict and returns it, checking once
// more if an out-of-memory reply came meanwhile. g.mu is held.
func (g *Guard) checkLocked() *verdict {
	g.again.Store(false)
	v := g.check(g.verdict.Load())
	g.verdict.Store(v)
	if g.again.Swap(false) {
		v = g.check(v)
		g.verdict.Store(v)
	}
	return v
}

// check runs CheckNoEviction and judges its outcome after prev (nil before
// the first check).
func (g *Guard) check(prev *verdict) *verdict {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	err := CheckNoEviction(ctx, g.rdb)
	now := time.Now()
	switch {
	case err == nil:
		if prev != nil && prev.err != nil {
			slog.Info("Redis never evicts keys: serving")
		}
		return &verdict{due: now.Add(g.every)}
	case errors.Is(err, ErrEvictionPolicy), errors.Is(err, ErrPolicyUnknown):
		// Checked first: on a cluster, one node may evict while another is
		// down, and the misconfiguration is what an operator must fix.
		slog.Error("refusing to serve: Redis may evict keys", "err", err)
		return &verdict{err: err, due: now.Add(g.retry)}
	case prev != nil && prev.err == nil:
		// Unreachable (or failing over) after a check passed: the calls
		// themselves answer 503 while Redis cannot serve them.
		slog.Warn("cannot check Redis's maxmemory-policy again; keeping the last check", "err", err)
		return &verdict{due: now.Add(g.retry)}
	default:
		// Unreachable, failing over, or a TLS error: its text says which.
		slog.Warn("cannot check Redis's maxmemory-policy yet", "err", err)
		return &verdict{err: err, due: now.Add(g.retry)}
	}
}

// oomHook tells its Guard about out-of-memory replies.
type oomHook struct{ g *Guard }

func (oomHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h oomHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && redis.IsOOMError(err) {
			h.g.outOfMemory()
		}
		return err
	}
}

func (h oomHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			return nil
		}
		oom := redis.IsOOMError(err)
		for _, cmd := range cmds { // the pipeline's error is its first command's
			oom = oom || redis.IsOOMError(cmd.Err())
		}
		if oom {
			h.g.outOfMemory()
		}
		return err
	}
}
