package lockboxtest

import (
	"os"
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
