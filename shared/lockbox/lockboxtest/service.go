package lockboxtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// RequireService returns the value of the environment variable that points a
// test at a real service (a Redis, a cluster, a MinIO binary). Without it the
// test is skipped with how to provide it, except in CI (CI set), where a
// missing service fails the test rather than letting it pass unseen.
func RequireService(t testing.TB, env, how string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set: CI must run this against the real service (%s)", env, how)
	}
	t.Skipf("%s is not set: %s", env, how)
	return ""
}

// TakeTurns holds an exclusive lock named after a shared test service (its
// address, as RequireService returned it) until the test ends. go test runs
// the packages of a module in parallel processes, and some tests disturb
// each other's work on one service: a whole stack's lockbox-audit sweeps
// and exports every tenant it finds, including another test's. Those tests
// take turns with this lock (a file lock in the temporary folder).
func TakeTurns(t testing.TB, service string) {
	t.Helper()
	sum := sha256.Sum256([]byte(service))
	path := filepath.Join(os.TempDir(), "lockbox-test-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- a fixed name in the temporary folder
	if err != nil {
		t.Fatalf("lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil { // #nosec G115 -- a file descriptor fits an int
		_ = f.Close()
		t.Fatalf("lock %s: %v", path, err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // #nosec G115 -- as above
		_ = f.Close()
	})
}
