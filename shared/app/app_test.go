package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisclient/redisclienttest"
)

// The secrets of the test functions.
var (
	webhookSecret = []byte("webhook-secret-0123456789abcdef")
	jwtSecret     = []byte("jwt-secret-0123456789abcdef")
)

// env points a function's configuration at redisURL, with its secrets in a
// temporary folder.
func env(t *testing.T, redisURL string) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretJWT), jwtSecret, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretWebhook), webhookSecret, 0o600))
	t.Setenv("secret_mount_path", dir)
	t.Setenv("redis_url", redisURL)
}

// checkEvery makes the guards built during t check again every recheck
// while the check passes and every retry while it does not.
func checkEvery(t *testing.T, recheck, retry time.Duration) {
	recheckEvery, retryEvery = recheck, retry
	t.Cleanup(func() { recheckEvery, retryEvery = redisclient.RecheckEvery, redisclient.RetryEvery })
}

// A Redis that may evict keys: the function refuses to serve (503, saying
// why), however often it is called.
func TestRefusesARedisThatEvicts(t *testing.T) {
	m := miniredis.RunT(t)
	require.NoError(t, redisclienttest.RegisterConfig(m, "allkeys-lru"))
	env(t, "redis://"+m.Addr()+"/0")
	checkEvery(t, 0, 0)

	svc := API(config.Needs{JWT: true})
	for range 2 {
		_, err := svc.Get()
		require.Error(t, err)
		assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err))
		assert.Contains(t, err.Error(), "noeviction")
	}
}

// A Redis unreachable at start: 503 until it is there and never evicts;
// then the function serves. An outage later shows as 503 from the calls
// themselves: a re-check that cannot reach Redis keeps the last verdict.
func TestChecksAgainUntilRedisIsThere(t *testing.T) {
	m := miniredis.NewMiniRedis()
	require.NoError(t, m.Start())
	addr := m.Addr()
	m.Close()
	env(t, "redis://"+addr+"/0")
	checkEvery(t, 0, 0)

	svc := API(config.Needs{JWT: true})
	_, err := svc.Get()
	require.Error(t, err)
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err))

	m = miniredis.NewMiniRedis()
	require.NoError(t, m.StartAddr(addr))
	t.Cleanup(m.Close)
	require.NoError(t, redisclienttest.RegisterConfig(m, "noeviction"))
	s, err := svc.Get()
	require.NoError(t, err)
	assert.NotNil(t, s.Cases.Store)
	m.Close()
	_, err = svc.Get()
	assert.NoError(t, err)
}

// filer files requests through lockbox-create's flow on svc, each with a
// requester of its own (no per-requester cap is reached) in one tenant no
// other test uses, signed as a ticketing system's webhook.
type filer struct {
	t      *testing.T
	svc    *Lazy[*api.Service]
	tenant string
	n      int
}

// file files one request and returns the function's answer.
func (f *filer) file() handler.Response {
	f.t.Helper()
	f.n++
	body, err := json.Marshal(lockbox.CreateInput{
		TenantID: f.tenant, ResourceType: "Microsoft.Compute/virtualMachines", ResourceIDs: []string{"vm-1"},
		AccessLevel: "Read", Justification: "disk latency on vm-1", SupportRequest: "INC-" + strconv.Itoa(f.n),
		Requester: lockbox.Requester{ID: "eng-" + strconv.Itoa(f.n), DisplayName: "Support Engineer"},
	})
	require.NoError(f.t, err)
	ts := time.Now().Unix()
	h := http.Header{"Content-Type": {"application/json"}}
	h.Set(auth.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(auth.HeaderSignature, auth.Sign(webhookSecret, ts, body))
	resp, err := httpapi.Serve(f.svc.Get, handler.Request{Method: http.MethodPost, Header: h, Body: body}, api.Create)
	require.NoError(f.t, err)
	return resp
}

// A running function re-checks while it serves: after CONFIG SET
// maxmemory-policy allkeys-lru, filing is refused (503, saying why) within
// the re-check period, and it resumes once the policy is noeviction again.
// The periods are shortened; in a function they are 30 s and 5 s.
func TestRechecksWhileServing(t *testing.T) {
	url := lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_URL", "scripts/with-redis.sh starts a redis-server")
	lockboxtest.TakeTurns(t, url) // the shared server's policy changes for a moment
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	admin := redis.NewClient(opt)
	t.Cleanup(func() { _ = admin.Close() })
	setPolicy := func(policy string) {
		require.NoError(t, admin.ConfigSet(context.Background(), "maxmemory-policy", policy).Err())
	}
	t.Cleanup(func() { setPolicy(redisclient.NoEviction) })
	env(t, url)
	const period = 20 * time.Millisecond
	checkEvery(t, period, period)

	f := &filer{t: t, svc: API(config.Needs{Webhook: true, JWT: true}), tenant: "guard-" + rand.Text()}
	resp := f.file()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", resp.Body)

	setPolicy("allkeys-lru")
	var refused handler.Response
	require.Eventually(t, func() bool {
		refused = f.file()
		return refused.StatusCode != http.StatusCreated
	}, 5*time.Second, period/4, "filing went on with an evicting Redis")
	assert.Equal(t, http.StatusServiceUnavailable, refused.StatusCode, "%s", refused.Body)
	assert.Contains(t, string(refused.Body), "maxmemory-policy is noeviction")
	again := f.file()
	assert.Equal(t, http.StatusServiceUnavailable, again.StatusCode, "refused once, then served: %s", again.Body)

	setPolicy(redisclient.NoEviction)
	require.Eventually(t, func() bool {
		resp = f.file()
		return resp.StatusCode == http.StatusCreated
	}, 5*time.Second, period/4, "filing did not resume: %d %s", resp.StatusCode, resp.Body)
}

// The guard costs no round trip: filing is one round trip a call, however
// many calls, between re-checks.
func TestGuardAddsNoRoundTrips(t *testing.T) {
	m := redisclienttest.Miniredis(t)
	env(t, "redis://"+m.Addr()+"/0")
	checkEvery(t, time.Hour, time.Hour)
	trips := &tripCounter{}
	svc := NewLazy(func() (*api.Service, redis.UniversalClient, error) {
		p, err := Open(config.Needs{Webhook: true, JWT: true})
		if err != nil {
			return nil, nil, err
		}
		p.Redis.AddHook(trips)
		return p.Service(), p.Redis, nil
	})
	f := &filer{t: t, svc: svc, tenant: "guard-trips"}
	for range 2 { // the first check, the script loaded
		require.Equal(t, http.StatusCreated, f.file().StatusCode)
	}
	before := trips.n.Load()
	for range 20 {
		require.Equal(t, http.StatusCreated, f.file().StatusCode)
	}
	assert.Equal(t, int64(20), trips.n.Load()-before, "round trips of 20 creates")
}

// tripCounter counts round trips: one per command or per pipeline.
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}
