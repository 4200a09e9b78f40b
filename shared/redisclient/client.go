package redisclient

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// The client settings Lockbox relies on (see Tune).
const (
	DialTimeout  = 2 * time.Second
	ReadTimeout  = 3 * time.Second
	WriteTimeout = 3 * time.Second
	// DialAttempts is go-redis's DialerRetries, which counts attempts: 1
	// dials once and fails fast.
	DialAttempts = 1
	// ClusterRedirects is how many MOVED/ASK redirects a cluster client
	// follows for one command (go-redis's MaxRedirects).
	ClusterRedirects = 3
)

// New builds the client c describes: a *redis.Client for standalone and
// sentinel mode (the latter follows the master through failovers), a
// *redis.ClusterClient for cluster mode. It connects lazily: an unreachable
// Redis shows in the first command (the Guard's first check).
func New(c Config) (redis.UniversalClient, error) {
	o, err := c.options()
	if err != nil {
		return nil, err
	}
	switch {
	case o.cluster != nil:
		return newCluster(o.cluster), nil
	case o.failover != nil:
		return redis.NewFailoverClient(o.failover), nil
	default:
		return redis.NewClient(o.single), nil
	}
}

// Tune sets the client options Lockbox relies on: no automatic retries (a
// retried script could apply twice or report a false conflict; callers retry
// whole calls, with Idempotency-Key on create) and short timeouts, so that an
// unreachable Redis answers 503 quickly. New applies the same settings in
// every mode; tests and benchmarks that build a *redis.Options use Tune.
func Tune(opt *redis.Options) {
	opt.MaxRetries = -1
	opt.DialTimeout = DialTimeout
	opt.DialerRetries = DialAttempts
	opt.ReadTimeout = ReadTimeout
	opt.WriteTimeout = WriteTimeout
}

// tuneCluster is Tune for Redis Cluster, which still follows MOVED and ASK
// redirects: the command did not run on the node that redirected it.
func tuneCluster(opt *redis.ClusterOptions) {
	opt.MaxRetries = -1
	opt.MaxRedirects = ClusterRedirects
	opt.DialTimeout = DialTimeout
	opt.DialerRetries = DialAttempts
	opt.ReadTimeout = ReadTimeout
	opt.WriteTimeout = WriteTimeout
}

// tuneFailover is Tune for Sentinel: it applies to the connections to the
// sentinels and to the master.
func tuneFailover(opt *redis.FailoverOptions) {
	opt.MaxRetries = -1
	opt.DialTimeout = DialTimeout
	opt.DialerRetries = DialAttempts
	opt.ReadTimeout = ReadTimeout
	opt.WriteTimeout = WriteTimeout
}

// newCluster builds a cluster client that does not resend a command that
// may have run. go-redis's cluster client spends its MaxRedirects budget on
// network failures as well as on redirects: after a connection dropped
// mid-reply it would send the same command again, and a Lua script could
// apply twice. Each node's errors therefore go through noResend.
//
// Pipelines are not covered: go-redis decides their resending below the
// node hooks.
func newCluster(opt *redis.ClusterOptions) *redis.ClusterClient {
	rdb := redis.NewClusterClient(opt)
	rdb.OnNewNode(func(node *redis.Client) { node.AddHook(noResend{}) })
	return rdb
}

// noResend is a node hook that hides, from the cluster client's retry loop,
// a failure after which the command may have run on the node.
type noResend struct{}

func (noResend) DialHook(next redis.DialHook) redis.DialHook { return next }

func (noResend) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (noResend) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if mayHaveRun(err) {
			return &uncertainError{err: err}
		}
		return err
	}
}

// mayHaveRun reports whether err leaves open whether the command ran: the
// connection failed after the command could have been written. A reply from
// the server (MOVED, ASK, READONLY, …), a failed dial, a closed client, an
// exhausted pool and a cancelled context all mean it was not run or are not
// resent anyway.
func mayHaveRun(err error) bool {
	if err == nil || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return false
	}
	var op *net.OpError
	return !errors.As(err, &op) || op.Op != "dial"
}

// uncertainError carries a failure after which a command may have run. It
// deliberately does not unwrap: go-redis's cluster client would recognise
// the network error inside and send the command again.
type uncertainError struct{ err error }

func (e *uncertainError) Error() string {
	return "redis connection failed, the command may have run and was not resent: " + e.err.Error()
}
