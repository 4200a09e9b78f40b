package audit

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// The export's scripts (plan, acknowledge, unlock) on a real Redis Cluster.
func TestExportOnRedisCluster(t *testing.T) {
	addrs := lockboxtest.RequireService(t, "LOCKBOX_TEST_REDIS_CLUSTER", "scripts/with-redis-cluster.sh starts a 3-node cluster")
	lockboxtest.TakeTurns(t, addrs) // with scripts/localrun's stack on the cluster, whose lockbox-audit exports every tenant
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	defer rdb.Close()
	s := unlimited(redisstore.New(rdb, lockbox.DefaultLimits))
	bkt := newMemStore()
	e := NewExporter(redisstore.New(rdb, lockbox.DefaultLimits), bkt, testKey)
	e.Batch = 4
	for range 6 {
		tenant := uniqueTenant("cluster")
		n := fileActivity(t, s, tenant, 5)
		assert.Equal(t, n, exportAll(t, e, tenant))
		rep, err := Verify(t.Context(), bkt, tenant, testPub)
		require.NoError(t, err)
		assert.EqualValues(t, n, rep.Events)
	}
}
