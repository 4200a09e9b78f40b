package function

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api/apitest"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auditjob"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/redisstore"
)

// setup points the function at miniredis and an in-process S3 endpoint.
func setup(t *testing.T) (*apitest.Env, *objectstore.Store, *httptest.Server) {
	e := apitest.New(t)
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lockbox-audit"))
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	e.Deps.Config.S3 = config.S3{Endpoint: s3.URL, Region: "us-east-1", Bucket: "lockbox-audit", PathStyle: true,
		AccessKey: "k", SecretKey: "s", AuditBatch: 100}
	deps, job = e.Lazy(), auditjob.Once{}
	store := objectstore.New(objectstore.Config{Endpoint: s3.URL, Bucket: "lockbox-audit", PathStyle: true, AccessKey: "k", SecretKey: "s"})
	return e, store, s3
}

func cron() handler.Request {
	return handler.Request{Method: http.MethodPost, Header: http.Header{"X-Topic": {"cron-function"}, "X-Connector": {"cron-connector"}}}
}

func call(t *testing.T, req handler.Request) (int, auditjob.Summary) {
	t.Helper()
	resp, err := Handle(req)
	require.NoError(t, err)
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusServiceUnavailable {
		return resp.StatusCode, auditjob.Summary{}
	}
	return resp.StatusCode, apitest.Decode[auditjob.Summary](t, resp)
}

func TestAuditRun(t *testing.T) {
	e, store, _ := setup(t)
	expiring := e.File("contoso", "eng-7")
	granted := e.File("contoso", "eng-7")
	_, err := e.Deps.Store.Approve(t.Context(), "contoso", granted.RequestID, "alice", "ok", nil, e.Now)
	require.NoError(t, err)
	e.File("fabrikam", "eng-9")
	_ = expiring

	// Nothing is due yet; the three creates and the approval are exported.
	status, s := call(t, cron())
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 0, s.Expired+s.Completed)
	assert.Equal(t, 4, s.Exported)
	assert.Equal(t, 2, s.Objects)
	assert.Empty(t, s.Errors)

	// Four days later: both pending requests (one per tenant) expire, and
	// the grant, over long ago, is recorded as completed.
	e.Advance(96 * time.Hour)
	status, s = call(t, cron())
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 2, s.Expired)
	assert.Equal(t, 1, s.Completed)
	assert.Equal(t, 3, s.Exported)

	rep, err := audit.Verify(t.Context(), store, "contoso")
	require.NoError(t, err)
	assert.EqualValues(t, 5, rep.Events)
	assert.Equal(t, map[string]int{lockbox.OpCreate: 2, lockbox.OpApprove: 1, lockbox.OpExpire: 1, lockbox.OpComplete: 1}, rep.Operations)

	// Running again finds nothing to do.
	status, s = call(t, cron())
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, auditjob.Summary{Tenants: []auditjob.Tenant{}, Errors: []string{}}, auditjob.Summary{Tenants: s.Tenants, Errors: s.Errors})
}

// Object storage down: 503 with a clear error, every event kept for the next run.
func TestAuditStorageDown(t *testing.T) {
	e, store, s3 := setup(t)
	e.File("contoso", "eng-7")
	s3.Close()
	status, s := call(t, cron())
	assert.Equal(t, http.StatusServiceUnavailable, status)
	require.Len(t, s.Errors, 1)
	assert.Contains(t, s.Errors[0], "contoso")
	n, err := e.Redis.XLen(context.Background(), "lb:{contoso}:events").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the event waits in Redis")
	_ = store
}

func TestAuditRefusesBody(t *testing.T) {
	setup(t)
	req := cron()
	req.Body = []byte(`{"tenantId":"contoso"}`)
	status, _ := call(t, req)
	assert.Equal(t, http.StatusBadRequest, status)
}

// Many small tenants are exported side by side and a large one on its own;
// two runs at once still export every event exactly once.
func TestAuditManyTenants(t *testing.T) {
	e, store, _ := setup(t)
	e.Deps.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 20, MaxActiveGrantsPerRequester: 1 << 20}
	want := map[string]int{}
	for i := range 40 {
		tenant := fmt.Sprintf("tenant-%02d", i)
		for range 1 + i%3 {
			e.File(tenant, "eng-7")
			want[tenant]++
		}
	}
	for range auditjob.SmallTenant + 50 {
		e.File("big", "eng-7")
		want["big"]++
	}

	var wg sync.WaitGroup
	exported := make([]int, 2)
	for i := range exported {
		wg.Go(func() {
			status, s := call(t, cron())
			assert.Equal(t, http.StatusOK, status, "%v", s.Errors)
			exported[i] = s.Exported
		})
	}
	wg.Wait()
	total := 0
	for _, n := range want {
		total += n
	}
	// A tenant the other run held is exported by the next run.
	_, s := call(t, cron())
	assert.Equal(t, total, exported[0]+exported[1]+s.Exported, "every event exactly once")
	for tenant, n := range want {
		rep, err := audit.Verify(t.Context(), store, tenant)
		require.NoError(t, err, tenant)
		assert.EqualValues(t, n, rep.Events, tenant)
	}
}
