package redisclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// NoEviction is the only maxmemory-policy Lockbox serves with.
const NoEviction = "noeviction"

// What CheckNoEviction found, matched with errors.Is.
var (
	// ErrEvictionPolicy: a node's maxmemory-policy may evict keys. An
	// operator must change it; the function refuses to serve until then.
	ErrEvictionPolicy = errors.New("redis maxmemory-policy is not " + NoEviction)
	// ErrUnavailable: Redis could not be reached, or cannot serve right now
	// (loading, failing over). Answer 503 and check again later.
	ErrUnavailable = errors.New("redis is unavailable")
	// ErrPolicyUnknown: Redis answered, but neither INFO memory nor CONFIG
	// GET told its maxmemory-policy (both refused, for example by ACL). The
	// check fails closed.
	ErrPolicyUnknown = errors.New("redis maxmemory-policy could not be read")
)

// PolicyError is what CheckNoEviction reports about one node. It matches
// (errors.Is) its Kind and its cause.
type PolicyError struct {
	Node   string // the node's address, as the client knows it
	Kind   error  // ErrEvictionPolicy, ErrUnavailable or ErrPolicyUnknown
	Policy string // the policy found (ErrEvictionPolicy)
	Err    error  // the failure (ErrUnavailable, ErrPolicyUnknown)
}

// Error says what is wrong with the node and, for a wrong policy, how to
// fix it.
func (e *PolicyError) Error() string {
	switch e.Kind {
	case ErrEvictionPolicy:
		return fmt.Sprintf("redis %s has maxmemory-policy %q: Lockbox serves only with %s (an evicted key can let "+
			"a webhook be filed twice or rewrite archived audit objects); set \"maxmemory-policy %s\" in redis.conf "+
			"(or the parameter group of a managed Redis), or run CONFIG SET maxmemory-policy %s and CONFIG REWRITE",
			e.Node, e.Policy, NoEviction, NoEviction, NoEviction)
	case ErrUnavailable:
		return fmt.Sprintf("redis %s: cannot check maxmemory-policy, redis is unavailable: %v", e.Node, e.Err)
	default:
		return fmt.Sprintf("redis %s: could not read maxmemory-policy (%v); Lockbox does not serve without knowing "+
			"that Redis never evicts keys: check the %s secret and allow INFO or CONFIG GET to Lockbox's Redis user",
			e.Node, e.Err, SecretPassword)
	}
}

// Unwrap returns the kind and the cause, for errors.Is and errors.As.
func (e *PolicyError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// CheckNoEviction returns nil when Redis's maxmemory-policy is noeviction: on
// the server, on the master behind Sentinel, or on every master of a Redis
// Cluster. Otherwise it returns one *PolicyError per failing node (joined),
// which match ErrEvictionPolicy, ErrUnavailable or ErrPolicyUnknown. It reads
// INFO memory (which managed Redis services answer even where CONFIG is
// renamed away) and falls back to CONFIG GET maxmemory-policy.
func CheckNoEviction(ctx context.Context, rdb redis.UniversalClient) error {
	cluster, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return checkNode(ctx, rdb, nodeName(rdb))
	}
	var mu sync.Mutex
	var errs []error
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		if err := checkNode(ctx, node, node.Options().Addr); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return &PolicyError{Node: "cluster", Kind: ErrUnavailable, Err: fmt.Errorf("list masters: %w", err)}
	}
	return errors.Join(errs...)
}

// checkNode checks one server, named node in the errors.
func checkNode(ctx context.Context, rdb redis.Cmdable, node string) error {
	policy, infoErr := policyFromInfo(ctx, rdb)
	if infoErr != nil {
		if unavailable(infoErr) {
			return &PolicyError{Node: node, Kind: ErrUnavailable, Err: infoErr}
		}
		var configErr error
		policy, configErr = policyFromConfig(ctx, rdb)
		if configErr != nil {
			if unavailable(configErr) {
				return &PolicyError{Node: node, Kind: ErrUnavailable, Err: configErr}
			}
			return &PolicyError{Node: node, Kind: ErrPolicyUnknown, Err: fmt.Errorf("%w; %w", infoErr, configErr)}
		}
	}
	if policy != NoEviction {
		return &PolicyError{Node: node, Kind: ErrEvictionPolicy, Policy: policy}
	}
	return nil
}

// errNoField is an answer that lacks the maxmemory-policy.
var errNoField = errors.New("no maxmemory-policy in the answer")

// policyFromInfo reads the maxmemory_policy line of INFO memory.
func policyFromInfo(ctx context.Context, rdb redis.Cmdable) (string, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return "", fmt.Errorf("read INFO memory: %w", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "maxmemory_policy:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("read INFO memory: %w", errNoField)
}

// policyFromConfig reads CONFIG GET maxmemory-policy.
func policyFromConfig(ctx context.Context, rdb redis.Cmdable) (string, error) {
	got, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return "", fmt.Errorf("read CONFIG GET maxmemory-policy: %w", err)
	}
	v, ok := got["maxmemory-policy"]
	if !ok {
		return "", fmt.Errorf("read CONFIG GET maxmemory-policy: %w", errNoField)
	}
	return v, nil
}

// unavailable reports whether err means the server could not answer now,
// rather than that it answered without the policy: no reply at all, or a
// reply saying it is busy, loading or failing over.
func unavailable(err error) bool {
	if errors.Is(err, errNoField) {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	for _, transient := range []string{"LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if redis.HasErrorPrefix(reply, transient) {
			return true
		}
	}
	return false
}

// nodeName names a non-cluster client's server for messages.
func nodeName(rdb redis.UniversalClient) string {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return "server"
	}
	if addr := c.Options().Addr; addr != "FailoverClient" {
		return addr
	}
	return "master (found through Sentinel)"
}
