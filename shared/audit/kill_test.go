package audit

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/redisstore"
)

// TestKilledExportChild is the process that gets killed: run only as the
// child of TestMinIOKilledBetweenWriteAndAck.
func TestKilledExportChild(t *testing.T) {
	if os.Getenv("LOCKBOX_KILL_CHILD") != "1" {
		t.Skip("runs only as the child of TestMinIOKilledBetweenWriteAndAck")
	}
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("LOCKBOX_KILL_REDIS")})
	store := objectstore.New(objectstore.Config{Endpoint: os.Getenv("LOCKBOX_KILL_S3"), Bucket: "audit", PathStyle: true,
		AccessKey: os.Getenv("LOCKBOX_KILL_USER"), SecretKey: os.Getenv("LOCKBOX_KILL_PASS")})
	e := NewExporter(redisstore.New(rdb, lockbox.DefaultLimits), store, testKey)
	e.LockTTL = 2 * time.Second
	e.afterPut = func() error {
		// Killed between writing the objects and acknowledging them: no
		// deferred unlock, no acknowledgement, nothing.
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	e.ExportTenant(t.Context(), os.Getenv("LOCKBOX_KILL_TENANT"))
	t.Fatal("not killed")
}

// The export process is SIGKILLed between writing and acknowledging. Its lock
// keeps other runs out until it expires; then a run rewrites the same
// objects, byte for byte, and nothing is lost or duplicated.
func TestMinIOKilledBetweenWriteAndAck(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "audit", false)
	f := setup(t) // miniredis, reachable over TCP by the child
	s := unlimited(redisstore.New(f.rdb, f.store.Limits()))
	tenant := uniqueTenant("contoso")
	n := fileActivity(t, s, tenant, 6)

	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledExportChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LOCKBOX_KILL_CHILD=1", "LOCKBOX_KILL_REDIS="+f.mini.Addr(), "LOCKBOX_KILL_S3=http://"+m.addr,
		"LOCKBOX_KILL_USER="+m.user, "LOCKBOX_KILL_PASS="+m.pass, "LOCKBOX_KILL_TENANT="+tenant)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "the child must die by SIGKILL: %s", out)

	keys, err := bucket.List(t.Context(), TenantPrefix(tenant))
	require.NoError(t, err)
	require.Len(t, keys, 1, "the child wrote its batch")
	written, err := bucket.Get(t.Context(), keys[0])
	require.NoError(t, err)
	left, err := f.rdb.XLen(t.Context(), redisstore.EventsKey(tenant)).Result()
	require.NoError(t, err)
	assert.EqualValues(t, n, left, "nothing acknowledged")

	// The dead run's lock still stands: a run now finds the tenant busy.
	e := NewExporter(f.store, bucket, testKey)
	res, err := e.ExportTenant(t.Context(), tenant)
	require.NoError(t, err)
	assert.True(t, res.Busy)

	// Once it expires, the next run redoes the planned batch.
	f.mini.FastForward(3 * time.Second)
	assert.Equal(t, n, exportAll(t, e, tenant))
	after, err := bucket.List(t.Context(), TenantPrefix(tenant))
	require.NoError(t, err)
	assert.Equal(t, keys, after)
	again, err := bucket.Get(t.Context(), keys[0])
	require.NoError(t, err)
	assert.Equal(t, written, again)
	rep, err := Verify(t.Context(), bucket, tenant, testPub)
	require.NoError(t, err)
	assert.EqualValues(t, n, rep.Events)
	assert.True(t, strings.HasSuffix(keys[0], ".jsonl"))
}
