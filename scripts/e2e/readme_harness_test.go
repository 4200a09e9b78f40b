package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testShell(t *testing.T) *shellSession {
	t.Helper()
	dir := t.TempDir()
	sh, err := startShell(dir, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(sh.close)
	return sh
}

// Blocks share one session: variables, functions and the working
// directory carry over; each block's output is its own.
func TestShellSessionCarriesState(t *testing.T) {
	sh := testShell(t)
	out, err := sh.run("X=one\nf() { echo \"f:$1\"; }\nmkdir sub && cd sub\necho first", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "first\n", out)
	out, err = sh.run("echo \"$X\"; f two; basename \"$PWD\"; echo err >&2", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "one\nf:two\nsub\nerr\n", out)
	out, err = sh.run("cat; echo read nothing", 10*time.Second)
	require.NoError(t, err, "a block's stdin is empty, not the session's input")
	assert.Equal(t, "read nothing\n", out)
}

// The first failing command fails the block, under errexit, nounset and
// pipefail, and ends the session.
func TestShellSessionFailures(t *testing.T) {
	for name, block := range map[string]string{
		"a failing command":       "echo before\nfalse\necho after",
		"an unset variable":       "echo before\necho \"$UNSET\"\necho after",
		"a failing pipeline":      "echo before\nfalse | cat\necho after",
		"a failing substitution":  "echo before\nX=$(false; echo x)\necho after",
		"exit":                    "echo before\nexit 0\necho after",
		"a syntax error":          "echo before\nif then",
		"a failing function call": "echo before\nf() { false; echo in f; }\nf\necho after",
	} {
		t.Run(name, func(t *testing.T) {
			sh := testShell(t)
			out, err := sh.run(block, time.Minute)
			require.Error(t, err)
			assert.Contains(t, out, "before")
			assert.NotContains(t, out, "after")
			assert.NotContains(t, out, "in f")
			_, err = sh.run("echo again", time.Minute)
			assert.ErrorContains(t, err, "the session is over")
		})
	}
}

func TestShellSessionTimeout(t *testing.T) {
	sh := testShell(t)
	start := time.Now()
	out, err := sh.run("echo started; sleep 30", 500*time.Millisecond)
	require.ErrorContains(t, err, "did not finish")
	assert.Equal(t, "started\n", out)
	assert.Less(t, time.Since(start), 10*time.Second)
}

// What a block leaves running in the background (a server a walk-through
// starts) ends with the session.
func TestShellSessionKillsWhatIsLeft(t *testing.T) {
	sh := testShell(t)
	out, err := sh.run("sleep 300 &\necho $!", time.Minute)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	require.NoError(t, err, "%q", out)
	require.NoError(t, syscall.Kill(pid, 0), "the background process runs while the session lasts")
	sh.close()
	assert.Eventually(t, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		// Gone, or a zombie of a parent that has not reaped it yet.
		return err != nil || strings.Contains(string(b), ") Z ")
	}, 5*time.Second, 20*time.Millisecond, "the background process outlived the session")
}

// The prelude makes an HTTP error fail curl, as any failing command.
func TestReadmePreludeCurlFailsOnHTTPError(t *testing.T) {
	requireBinary(t, "curl", "apt-get install -y curl")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		if r.URL.Query().Get("status") == "409" {
			status = http.StatusConflict
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"method":%q}`, r.Method)
	}))
	t.Cleanup(srv.Close)
	sh := testShell(t)
	_, err := sh.run(readmePrelude, time.Minute)
	require.NoError(t, err)
	out, err := sh.run("curl -s "+srv.URL+"/function/echo", time.Minute)
	require.NoError(t, err)
	assert.Contains(t, out, `"method":"GET"`)
	out, err = sh.run("curl -s "+srv.URL+"/function/echo?status=409", time.Minute)
	require.Error(t, err)
	assert.Contains(t, out, `"method":"GET"`, "the body of the error is shown")
}

// The work folder is the repository but for the entries the test owns.
func TestReadmeWorkDir(t *testing.T) {
	repo := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(repo, "Makefile"), []byte("all:\n"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(repo, "bin"), 0o700))
	own := t.TempDir()
	dir := readmeWorkDir(t, repo, map[string]string{"bin": own, ".secrets": own})
	for name, target := range map[string]string{"Makefile": filepath.Join(repo, "Makefile"), "bin": own, ".secrets": own} {
		got, err := os.Readlink(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, target, got, name)
	}
}
