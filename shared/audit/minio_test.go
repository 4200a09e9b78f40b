package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/redisstore"
)

// minioServer is a MinIO server of the test's own, on loopback, that the
// test can stop and start again.
type minioServer struct {
	t          testing.TB
	bin, dir   string
	addr       string
	user, pass string
	cmd        *exec.Cmd
}

// minioBinary finds the pinned MinIO: LOCKBOX_MINIO_BIN, PATH, or GOPATH/bin
// (scripts/install-minio.sh). Without it the test is skipped, or fails in CI.
func minioBinary(t testing.TB) string {
	if p := os.Getenv("LOCKBOX_MINIO_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	if p := filepath.Join(build.Default.GOPATH, "bin", "minio"); fileExists(p) {
		return p
	}
	return lockboxtest.RequireService(t, "LOCKBOX_MINIO_BIN", "MinIO is not installed; scripts/install-minio.sh builds it (make test-integration does)")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func startMinIO(t testing.TB) *minioServer {
	t.Helper()
	port := freePort(t)
	pw := make([]byte, 12)
	rand.Read(pw)
	m := &minioServer{t: t, bin: minioBinary(t), dir: t.TempDir(), addr: "127.0.0.1:" + strconv.Itoa(port),
		user: "lockbox-test", pass: hex.EncodeToString(pw)}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func freePort(t testing.TB) int {
	l, err := (&netListener{}).listen()
	require.NoError(t, err)
	defer l.Close()
	return l.port()
}

func (m *minioServer) start() {
	m.t.Helper()
	console := freePort(m.t)
	m.cmd = exec.Command(m.bin, "server", m.dir, "--address", m.addr, "--console-address", "127.0.0.1:"+strconv.Itoa(console), "--quiet")
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.pass, "MINIO_BROWSER=off")
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(m.t, m.cmd.Start())
	// Ready means an S3 call succeeds: under load MinIO's health endpoint
	// answers before its object layer is initialised.
	probe := objectstore.New(objectstore.Config{Endpoint: "http://" + m.addr, PathStyle: true, AccessKey: m.user, SecretKey: m.pass})
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := probe.Client().ListBuckets(ctx, &s3.ListBucketsInput{})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("MinIO did not become ready on %s: %v", m.addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *minioServer) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

func (m *minioServer) store(t testing.TB, bucket string, objectLock bool) *objectstore.Store {
	s := objectstore.New(objectstore.Config{Endpoint: "http://" + m.addr, Bucket: bucket, PathStyle: true, AccessKey: m.user, SecretKey: m.pass})
	require.NoError(t, s.EnsureBucket(context.Background(), objectLock))
	return s
}

// exportFixture is Redis (real when LOCKBOX_TEST_REDIS_URL is set) with
// lockbox activity, and an exporter into a MinIO bucket.
func exportFixture(t *testing.T, bucket *objectstore.Store) (*redisstore.Store, redis.UniversalClient, *Exporter) {
	var rdb *redis.Client
	if url := os.Getenv("LOCKBOX_TEST_REDIS_URL"); url != "" {
		opt, err := redis.ParseURL(url)
		require.NoError(t, err)
		rdb = redis.NewClient(opt)
	} else {
		f := setup(t)
		rdb = f.rdb
	}
	t.Cleanup(func() { rdb.Close() })
	return unlimited(redisstore.New(rdb, lockbox.DefaultLimits)), rdb, NewExporter(redisstore.New(rdb, lockbox.DefaultLimits), bucket, testKey)
}

func uniqueTenant(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// fileActivity files n requests in tenant through the store and approves every other one.
func fileActivity(t *testing.T, s *redisstore.Store, tenant string, n int) int {
	events := 0
	for i := range n {
		in := lockbox.CreateInput{TenantID: tenant, ResourceType: "vm", ResourceIDs: []string{"vm-1"}, Justification: "why",
			SupportRequest: fmt.Sprintf("INC-%d", i), Requester: lockbox.Requester{ID: "eng-7"}}
		r, _, err := s.Create(t.Context(), lockbox.NewRequest(in, lockbox.NewID(), time.Now(), lockbox.DefaultLimits), lockbox.CreateOptions{})
		require.NoError(t, err)
		events++
		if i%2 == 0 {
			_, err = s.Act(t.Context(), tenant, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, time.Now()))
			require.NoError(t, err)
			events++
		}
	}
	return events
}

func exportAll(t *testing.T, e *Exporter, tenant string) int {
	total := 0
	for {
		res, err := e.ExportTenant(t.Context(), tenant)
		require.NoError(t, err)
		if res.Exported == 0 && !res.Busy {
			return total
		}
		total += res.Exported
	}
}

// All events of several tenants arrive exactly once and verify.
func TestMinIOExport(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "audit", false)
	s, _, e := exportFixture(t, bucket)
	e.Batch = 5
	want := map[string]int{}
	for _, prefix := range []string{"contoso", "fabrikam", "northwind"} {
		tenant := uniqueTenant(prefix)
		want[tenant] = fileActivity(t, s, tenant, 8)
	}
	for tenant, n := range want {
		assert.Equal(t, n, exportAll(t, e, tenant))
		rep, err := Verify(t.Context(), bucket, tenant, testPub)
		require.NoError(t, err)
		assert.EqualValues(t, n, rep.Events)
		assert.Equal(t, (n+4)/5, rep.Objects)
	}
}

// The export is killed between writing and acknowledging: the re-run writes
// the same objects, and nothing is duplicated.
func TestMinIOCrashBetweenWriteAndAck(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "audit", false)
	s, _, e := exportFixture(t, bucket)
	tenant := uniqueTenant("contoso")
	n := fileActivity(t, s, tenant, 6)
	e.afterPut = func() error { return errors.New("killed") }
	_, err := e.ExportTenant(t.Context(), tenant)
	require.Error(t, err)
	keys, err := bucket.List(t.Context(), TenantPrefix(tenant))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	before, err := bucket.Get(t.Context(), keys[0])
	require.NoError(t, err)

	e.afterPut = nil
	assert.Equal(t, n, exportAll(t, e, tenant))
	after, err := bucket.List(t.Context(), TenantPrefix(tenant))
	require.NoError(t, err)
	assert.Equal(t, keys, after, "the same key, no second object")
	body, err := bucket.Get(t.Context(), keys[0])
	require.NoError(t, err)
	assert.Equal(t, before, body, "the same bytes")
	rep, err := Verify(t.Context(), bucket, tenant, testPub)
	require.NoError(t, err)
	assert.EqualValues(t, n, rep.Events)
}

// MinIO stopped: nothing is lost; the events are exported once it is back.
func TestMinIOStoppedAndBack(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "audit", false)
	s, rdb, e := exportFixture(t, bucket)
	tenant := uniqueTenant("contoso")
	n := fileActivity(t, s, tenant, 4)

	m.stop()
	_, err := e.ExportTenant(t.Context(), tenant)
	require.Error(t, err)
	assert.Equal(t, lockbox.KindUnavailable, lockbox.KindOf(err))
	left, err := rdb.XLen(t.Context(), redisstore.EventsKey(tenant)).Result()
	require.NoError(t, err)
	assert.EqualValues(t, n, left, "every event still in Redis")

	m.start()
	assert.Equal(t, n, exportAll(t, e, tenant))
	rep, err := Verify(t.Context(), bucket, tenant, testPub)
	require.NoError(t, err)
	assert.EqualValues(t, n, rep.Events)
}

// Two exporters at once never interleave: every seq lands exactly once.
func TestMinIOConcurrentRuns(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "audit", false)
	s, rdb, e1 := exportFixture(t, bucket)
	e2 := NewExporter(redisstore.New(rdb, lockbox.DefaultLimits), bucket, testKey)
	e1.Batch, e2.Batch = 4, 4
	tenant := uniqueTenant("contoso")
	n := fileActivity(t, s, tenant, 30)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, e := range []*Exporter{e1, e2, e1, e2} {
		wg.Go(func() {
			got := exportAll(t, e, tenant)
			mu.Lock()
			total += got
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, n, total)
	rep, err := Verify(t.Context(), bucket, tenant, testPub)
	require.NoError(t, err)
	assert.EqualValues(t, n, rep.Events)
}

// The verifier reads the real bucket: an edited line, a deleted object and
// swapped objects are each found.
func TestMinIOVerifierDetectsTampering(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "audit", false)
	s, _, e := exportFixture(t, bucket)
	e.Batch = 3
	tenant := uniqueTenant("contoso")
	fileActivity(t, s, tenant, 6) // 9 events, 3 objects
	exportAll(t, e, tenant)
	keys, err := bucket.List(t.Context(), TenantPrefix(tenant))
	require.NoError(t, err)
	require.Len(t, keys, 3)
	orig := map[string][]byte{}
	for _, k := range keys {
		orig[k], err = bucket.Get(t.Context(), k)
		require.NoError(t, err)
	}
	restore := func() {
		for k, v := range orig {
			require.NoError(t, bucket.Put(t.Context(), k, v, time.Time{}))
		}
	}
	check := func(name string, seq uint64, object string) {
		_, err := Verify(t.Context(), bucket, tenant, testPub)
		var b *BreakError
		require.ErrorAs(t, err, &b, name)
		assert.Equal(t, seq, b.Seq, name)
		assert.Equal(t, object, b.Object, name)
		restore()
	}

	// The middle object holds seqs 4..6; the first approval in it is edited.
	edited := uint64(4)
	for _, line := range bytes.Split(orig[keys[1]], []byte("\n")) {
		if bytes.Contains(line, []byte(`"alice"`)) {
			break
		}
		edited++
	}
	require.NoError(t, bucket.Put(t.Context(), keys[1], bytes.Replace(orig[keys[1]], []byte(`"alice"`), []byte(`"mallory"`), 1), time.Time{}))
	check("edited line", edited, keys[1])

	require.NoError(t, bucket.Delete(t.Context(), keys[1], ""))
	check("deleted object", 4, keys[2])

	require.NoError(t, bucket.Put(t.Context(), keys[0], orig[keys[2]], time.Time{}))
	require.NoError(t, bucket.Put(t.Context(), keys[2], orig[keys[0]], time.Time{}))
	check("swapped objects", 1, keys[0])

	_, err = Verify(t.Context(), bucket, tenant, testPub)
	require.NoError(t, err, "restored archive verifies")
}

// With retention, an exported object cannot be deleted or overwritten
// before its time: deleting its version is refused, and writing the key
// again only adds a version beside it.
func TestMinIOObjectLock(t *testing.T) {
	m := startMinIO(t)
	bucket := m.store(t, "locked", true)
	s, _, e := exportFixture(t, bucket)
	e.Retention = 24 * time.Hour
	tenant := uniqueTenant("contoso")
	fileActivity(t, s, tenant, 2)
	exportAll(t, e, tenant)
	keys, err := bucket.List(t.Context(), TenantPrefix(tenant))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	key := keys[0]
	original, err := bucket.Get(t.Context(), key)
	require.NoError(t, err)

	c := bucket.Client()
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("locked"), Key: aws.String(key)})
	require.NoError(t, err)
	assert.Equal(t, "COMPLIANCE", string(head.ObjectLockMode))
	require.NotNil(t, head.ObjectLockRetainUntilDate)
	assert.WithinDuration(t, time.Now().Add(24*time.Hour), *head.ObjectLockRetainUntilDate, time.Minute)
	version := aws.ToString(head.VersionId)
	require.NotEmpty(t, version)

	// Deleting the locked version is refused (MinIO: 400 InvalidRequest, AWS: 403).
	assert.Error(t, bucket.Delete(t.Context(), key, version))

	// Overwriting adds a version; the locked one is still there, unchanged.
	require.NoError(t, bucket.Put(t.Context(), key, []byte("forged\n"), time.Time{}))
	old, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("locked"), Key: aws.String(key), VersionId: aws.String(version)})
	require.NoError(t, err)
	var buf bytes.Buffer
	buf.ReadFrom(old.Body)
	old.Body.Close()
	assert.Equal(t, original, buf.Bytes())
}
