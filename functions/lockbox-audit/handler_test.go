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

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auditjob"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
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
	store := objectstore.New(objectstore.Config{Endpoint: s3.URL, Bucket: "lockbox-audit", PathStyle: true, AccessKey: "k", SecretKey: "s"})
	job = app.Fixed(e.Audit(store, 100))
	return e, store, s3
}

// cron is the cron-connector's call: no credentials.
func cron() handler.Request {
	return handler.Request{Method: http.MethodPost, Header: http.Header{"X-Topic": {"cron-function"}, "X-Connector": {"cron-connector"}}}
}

// asOperator is the same call with an operator's token: it gets the detail.
func asOperator(e *apitest.Env) handler.Request {
	req := cron()
	req.Header.Set("Authorization", "Bearer "+e.Token("olga", "provider", lockbox.RoleOperator))
	return req
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
	_, err := e.Store.Act(t.Context(), "contoso", granted.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	e.File("fabrikam", "eng-9")
	_ = expiring

	// Nothing is due yet; the three creates and the approval are exported.
	status, s := call(t, asOperator(e))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 0, s.Expired+s.Completed)
	assert.Equal(t, 4, s.Exported)
	assert.Equal(t, 2, s.Objects)
	assert.Empty(t, s.Errors)

	// Four days later: both pending requests (one per tenant) expire, and
	// the grant, over long ago, is recorded as completed. (lockbox-notify
	// has delivered what there was to tell, or the tenants would stay.)
	e.Advance(96 * time.Hour)
	clearOutboxes := func() {
		require.NoError(t, e.Redis.Del(t.Context(), "lb:{contoso}:outbox", "lb:{fabrikam}:outbox").Err())
	}
	clearOutboxes()
	status, s = call(t, asOperator(e))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 2, s.Expired)
	assert.Equal(t, 1, s.Completed)
	assert.Equal(t, 3, s.Exported)
	assert.Zero(t, s.Pruned, "the expiries and the completion are still to be told")
	clearOutboxes()
	_, s = call(t, asOperator(e))
	assert.Equal(t, 2, s.Pruned, "both tenants are idle now: nothing pending, live, unexported or untold")
	assert.Empty(t, e.Redis.SMembers(t.Context(), "lb:tenants").Val())

	rep, err := audit.Verify(t.Context(), store, "contoso", apitest.AuditPublicKey)
	require.NoError(t, err)
	assert.EqualValues(t, 5, rep.Events)
	assert.Equal(t, map[string]int{lockbox.OpCreate: 2, lockbox.OpApprove: 1, lockbox.OpExpire: 1, lockbox.OpComplete: 1}, rep.Operations)

	// Running again finds nothing to do (and no tenant to walk).
	status, s = call(t, asOperator(e))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, auditjob.Summary{}, auditjob.Summary{Tenants: s.Tenants, Errors: s.Errors, Pruned: s.Pruned, Exported: s.Exported})

	// A tenant that files again is walked again.
	e.File("contoso", "eng-7")
	_, s = call(t, cron())
	assert.Equal(t, 1, s.Exported)
}

// The cron-connector (no credentials) learns counts only: no tenant, object
// key or error; an operator's token or a signature gets the detail; a
// reader's token gets counts; a bad token is refused.
func TestAuditSummaryRevealsNothingToAnonymousCallers(t *testing.T) {
	e, _, s3 := setup(t)
	e.File("contoso", "eng-7")
	s3.Close() // and make it fail, so that errors are in play
	resp, err := Handle(cron())
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotContains(t, string(resp.Body), "contoso")
	assert.NotContains(t, string(resp.Body), "connection refused", "no raw causes")
	s := apitest.Decode[auditjob.Summary](t, resp)
	assert.Equal(t, 1, s.Failed)
	assert.Nil(t, s.Tenants)

	reader := cron()
	reader.Header.Set("Authorization", "Bearer "+e.Token("rita", "contoso", lockbox.RoleReader))
	resp, _ = Handle(reader)
	assert.NotContains(t, string(resp.Body), "contoso")

	resp, _ = Handle(asOperator(e))
	assert.Contains(t, string(resp.Body), "contoso")
	assert.NotContains(t, string(resp.Body), "connection refused", "no raw causes, even for operators")

	signed := e.Signed("")
	signed.Header.Del("Content-Type")
	resp, _ = Handle(signed)
	assert.Contains(t, string(resp.Body), "contoso")

	bad := cron()
	bad.Header.Set("Authorization", "Bearer not-a-token")
	resp, _ = Handle(bad)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// Object storage down: 503 with a clear error, every event kept for the next run.
func TestAuditStorageDown(t *testing.T) {
	e, store, s3 := setup(t)
	e.File("contoso", "eng-7")
	s3.Close()
	status, s := call(t, asOperator(e))
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
	e.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 20, MaxPendingPerRequester: 1 << 20, MaxActiveGrantsPerRequester: 1 << 20}
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
			status, s := call(t, asOperator(e))
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
		rep, err := audit.Verify(t.Context(), store, tenant, apitest.AuditPublicKey)
		require.NoError(t, err, tenant)
		assert.EqualValues(t, n, rep.Events, tenant)
	}
}

// A lockdown's events are exported and verify: its revocation and
// cancellation under the operations those actions always record, then
// LockdownTenant, and the lift's LiftTenantLockdown, also for a tenant the
// previous run pruned as idle.
func TestAuditExportsALockdown(t *testing.T) {
	e, store, _ := setup(t)
	live := e.File("contoso", "eng-7")
	_, err := e.Store.Act(t.Context(), "contoso", live.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	e.File("contoso", "eng-8")
	ada := lockbox.Principal{Kind: lockbox.KindUser, Subject: "ada", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleAdmin}}
	_, err = e.Cases.Lockdown(t.Context(), ada, lockbox.LockdownBody{Reason: "incident INC-2040"})
	require.NoError(t, err)
	_, err = e.Cases.LiftLockdown(t.Context(), ada, lockbox.LiftInput{Reason: "contained"})
	require.NoError(t, err)
	status, s := call(t, asOperator(e))
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, s.Errors)

	// Pruned, then locked down again: the tenant is walked again.
	require.NoError(t, e.Redis.Del(t.Context(), "lb:{contoso}:outbox").Err())
	_, s = call(t, asOperator(e))
	require.Equal(t, 1, s.Pruned)
	_, err = e.Cases.Lockdown(t.Context(), ada, lockbox.LockdownBody{Reason: "audit week"})
	require.NoError(t, err)
	_, s = call(t, asOperator(e))
	assert.Equal(t, 1, s.Exported)

	rep, err := audit.Verify(t.Context(), store, "contoso", apitest.AuditPublicKey)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{lockbox.OpCreate: 2, lockbox.OpApprove: 1, lockbox.OpRevoke: 1, lockbox.OpCancel: 1,
		lockbox.OpLockdown: 2, lockbox.OpLiftLockdown: 1}, rep.Operations)
}

// The provider's internal review in the archive: its filings, an internal
// approval and an unreviewed request's expiry (recorded by the sweep) are
// exported and verified like every event.
func TestAuditRunWithInternalReview(t *testing.T) {
	e, store, _ := setup(t)
	e.Cases.Policy = lockboxtest.Review(1)
	eng := lockbox.Principal{Kind: lockbox.KindUser, Subject: "eng-7", TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleRequester}}
	var ids []string
	for range 2 {
		f, err := e.Cases.File(t.Context(), eng, apitest.CreateInput("contoso", "eng-7"), "")
		require.NoError(t, err)
		require.Equal(t, lockbox.StatusInternalReview, f.Request.Status)
		ids = append(ids, f.Request.RequestID)
	}
	lead := lockbox.Principal{Kind: lockbox.KindUser, Subject: "lead-1", TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleProviderApprover}}
	r, err := e.Cases.Decide(t.Context(), lead, lockbox.ActionApprove, lockbox.DecisionInput{RequestID: ids[0], TenantID: "contoso", Reason: "checked"})
	require.NoError(t, err)
	require.Equal(t, lockbox.StatusPending, r.Status)

	e.Advance(24 * time.Hour)
	status, s := call(t, asOperator(e))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, s.Expired, "the unreviewed request")
	assert.Equal(t, 4, s.Exported)
	assert.Empty(t, s.Errors)
	rep, err := audit.Verify(t.Context(), store, "contoso", apitest.AuditPublicKey)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{lockbox.OpCreate: 2, lockbox.OpInternalApprove: 1, lockbox.OpExpire: 1}, rep.Operations)
}
