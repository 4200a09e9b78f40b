package function

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/objectstore"
)

// setup gives the function a store on miniredis and an archive on an
// in-process S3 endpoint.
func setup(t *testing.T) (*apitest.Env, *objectstore.Store, func(handler.Request) handler.Response) {
	e, call := apitest.Setup(t, &svc, Handle)
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lockbox-audit"))
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	bucket := objectstore.New(objectstore.Config{Endpoint: s3.URL, Bucket: "lockbox-audit", PathStyle: true, AccessKey: "k", SecretKey: "s"})
	e.Cases.ActivityLog = &audit.Activity{Events: e.Store, Archive: bucket}
	return e, bucket, call
}

func TestActivity(t *testing.T) {
	e, bucket, call := setup(t)
	a := e.File("contoso", "eng-7")
	_, err := e.Store.Act(t.Context(), "contoso", a.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, e.Now))
	require.NoError(t, err)
	e.File("fabrikam", "eng-7")
	// The first two events are archived, then one more waits.
	resp, err := e.Audit(bucket, 100).Serve(handler.Request{Method: http.MethodPost})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	e.Advance(time.Minute)
	b := e.File("contoso", "eng-8")

	reader := e.Token("rita", "contoso", lockbox.RoleReader)
	resp = call(e.Get(reader, ""))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	page := apitest.Decode[api.ActivityResponse](t, resp)
	require.Len(t, page.Value, 3)
	assert.Equal(t, []uint64{3, 2, 1}, []uint64{page.Value[0].Seq, page.Value[1].Seq, page.Value[2].Seq})
	assert.Equal(t, b.RequestID, page.Value[0].RequestID)
	assert.Equal(t, page.Value[1].Hash, page.Value[0].PrevHash, "a waiting event chains on the archive")
	assert.Nil(t, page.NextCursor)

	// Filters and paging.
	resp = call(e.Get(reader, "operationName=ApproveLockboxRequest,CreateLockboxRequest&limit=1"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	page = apitest.Decode[api.ActivityResponse](t, resp)
	require.Len(t, page.Value, 1)
	require.NotNil(t, page.NextCursor)
	resp = call(e.Get(reader, "operationName=ApproveLockboxRequest,CreateLockboxRequest&limit=1&cursor="+*page.NextCursor))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, lockbox.OpApprove, apitest.Decode[api.ActivityResponse](t, resp).Value[0].OperationName)
	resp = call(e.Get(reader, "requestId="+a.RequestID))
	assert.Len(t, apitest.Decode[api.ActivityResponse](t, resp).Value, 2)

	// An operator names the tenant.
	resp = call(e.Get(e.Token("olga", "provider", lockbox.RoleOperator), "tenantId=fabrikam"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, apitest.Decode[api.ActivityResponse](t, resp).Value, 1)
}

func TestActivityRefusals(t *testing.T) {
	e, _, call := setup(t)
	reader := e.Token("rita", "contoso", lockbox.RoleReader)
	long := strings.Repeat("x", 3000)
	for _, c := range []struct {
		name string
		req  handler.Request
		want int
	}{
		{"93 days", e.Get(reader, "from=2026-08-01T00:00:00Z&to=2026-11-02T00:00:00Z"), 400},
		{"from after to", e.Get(reader, "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z"), 400},
		{"not a time", e.Get(reader, "from=yesterday"), 400},
		{"unknown operation", e.Get(reader, "operationName=DropTable"), 400},
		{"limit 201", e.Get(reader, "limit=201"), 400},
		{"bad cursor", e.Get(reader, "cursor=abc"), 400},
		{"unknown parameter", e.Get(reader, "sort=asc"), 400},
		{"huge query", e.Get(reader, "requestId="+long), 400},
		{"another tenant named", e.Get(reader, "tenantId=fabrikam"), 403},
		{"a requester", e.Get(e.Token("eng-7", "provider", lockbox.RoleRequester), "tenantId=contoso"), 403},
		{"an operator without a tenant", e.Get(e.Token("olga", "provider", lockbox.RoleOperator), ""), 400},
		{"no credentials", handler.Request{Method: http.MethodGet}, 401},
		{"POST", e.Post(reader, "{}"), 405},
	} {
		resp := call(c.req)
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
	}
}

// The tenant is handed the archive's newest signed checkpoint, which it can
// verify offline with the audit public key and later hold the archive to.
func TestActivityHead(t *testing.T) {
	e, bucket, call := setup(t)
	reader := e.Token("rita", "contoso", lockbox.RoleReader)
	resp := call(e.Get(reader, "head=true"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.JSONEq(t, `{"head":null}`, string(resp.Body), "nothing archived yet")

	e.File("contoso", "eng-7")
	e.File("contoso", "eng-8")
	e.File("fabrikam", "eng-7")
	resp, err := e.Audit(bucket, 100).Serve(handler.Request{Method: http.MethodPost})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	e.File("contoso", "eng-9") // waiting: not part of the signed head

	resp = call(e.Get(reader, "head=true"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	head := apitest.Decode[api.HeadResponse](t, resp).Head
	require.NotNil(t, head)
	assert.Equal(t, uint64(2), head.Seq)
	assert.Equal(t, "contoso", head.TenantID)
	verified, err := audit.VerifyHead(head.Checkpoint, apitest.AuditPublicKey)
	require.NoError(t, err, "the signed line verifies offline")
	assert.Equal(t, head.Hash, verified.Hash)
	page := apitest.Decode[api.ActivityResponse](t, call(e.Get(reader, "")))
	require.Len(t, page.Value, 3)
	assert.Equal(t, page.Value[1].Hash, head.Hash, "the head is the hash of the last archived event")

	resp = call(e.Get(e.Token("olga", "provider", lockbox.RoleOperator), "head=true&tenantId=fabrikam"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.Equal(t, "fabrikam", apitest.Decode[api.HeadResponse](t, resp).Head.TenantID)
	for _, c := range []struct {
		name, query string
		want        int
	}{
		{"another tenant named", "head=true&tenantId=fabrikam", 403},
		{"head=yes", "head=yes", 400},
		{"head with a filter", "head=true&limit=5", 400},
	} {
		resp := call(e.Get(reader, c.query))
		assert.Equal(t, c.want, resp.StatusCode, "%s: %s", c.name, resp.Body)
	}
}
