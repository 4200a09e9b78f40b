package e2e

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/objectstore"
)

// The whole stack of make run — every function, the gateway, the scheduled
// audit export — on a real 3-node Redis Cluster (redis_mode=cluster), as a
// deployment on Redis Cluster runs: requests of several tenants (whose hash
// tags land on different nodes) are filed, decided and listed through the
// gateway, and the audit run exports and verifies them.
func TestMakeRunOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	addrs := lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_CLUSTER", "scripts/with-redis-cluster.sh starts a 3-node cluster")
	// This stack's lockbox-audit sweeps and exports every tenant on the
	// cluster: the store's and the export's cluster tests wait their turn.
	lockboxtest.TakeTurns(t, addrs)
	nodes := strings.Split(addrs, ",")
	url := "redis://" + nodes[0] + "/0?addr=" + strings.Join(nodes[1:], "&addr=")
	s := startStack(t, stackConfig{env: map[string]string{"redis_url": url, "redis_mode": "cluster", "AUDIT_SCHEDULE": "@every 1s"}})
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: nodes})
	t.Cleanup(func() { _ = rdb.Close() })

	run := randomHex(t, 4)
	tenants := []string{"contoso-" + run, "fabrikam-" + run, "northwind-" + run, "tailspin-" + run}
	masters := map[string]bool{}
	for _, tenant := range tenants {
		m, err := rdb.MasterForKey(t.Context(), "lb:{"+tenant+"}:seq")
		require.NoError(t, err)
		masters[m.Options().Addr] = true

		body := `{"tenantId":"` + tenant + `","resourceType":"postgres","resourceIds":["db-1"],"justification":"slow queries",` +
			`"supportRequest":"INC-1001","requester":{"id":"eng-7"}}`
		status, created := s.file(t, body)
		require.Equal(t, http.StatusCreated, status, "%s: %s", tenant, created)
		var req lockbox.Request
		require.NoError(t, json.Unmarshal(created, &req))

		status, approved := s.call(t, http.MethodPost, "/function/lockbox-approve",
			`{"requestId":"`+req.RequestID+`","reason":"checked"}`, s.as(t, tenant, "alice", lockbox.RoleApprover))
		require.Equal(t, http.StatusOK, status, "%s: %s", tenant, approved)

		status, listed := s.call(t, http.MethodGet, "/function/lockbox-list?status=Approved", "", s.as(t, tenant, "rita", lockbox.RoleReader))
		require.Equal(t, http.StatusOK, status, "%s: %s", tenant, listed)
		var page struct{ Value []lockbox.Request }
		require.NoError(t, json.Unmarshal(listed, &page))
		require.Len(t, page.Value, 1)
		assert.True(t, page.Value[0].AccessActive)
	}
	assert.Greater(t, len(masters), 1, "the tenants live on more than one node")

	key, err := audit.ParseSigningKey(s.secret(t, config.SecretAuditSigning))
	require.NoError(t, err)
	s3 := objectstore.New(objectstore.Config{Endpoint: s.S3.URL, Bucket: "lockbox-audit", PathStyle: true,
		AccessKey: string(s.secret(t, config.SecretS3AccessKey)), SecretKey: string(s.secret(t, config.SecretS3SecretKey))})
	for _, tenant := range tenants {
		require.Eventually(t, func() bool {
			rep, err := audit.Verify(t.Context(), s3, tenant, key.Public().(ed25519.PublicKey))
			return err == nil && rep.Events == 2
		}, 20*time.Second, 200*time.Millisecond, "%s: create and approve exported and verified", tenant)
	}
}
