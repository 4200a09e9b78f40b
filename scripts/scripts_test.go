// Package scripts holds the tests of the shell scripts in this folder.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gitRepo makes an empty git repository and returns a function that runs
// git in it.
func gitRepo(t *testing.T) (string, func(args ...string)) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not on PATH")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %s\n%s", strings.Join(args, " "), out)
	}
	git("init", "-q")
	return dir, git
}

// check-file-sizes.sh fails, naming them, on files in git's index over the
// limit (1 MiB unless given), whatever the working tree holds, and passes
// once they are gone from the index.
func TestCheckFileSizes(t *testing.T) {
	script, err := filepath.Abs("check-file-sizes.sh")
	require.NoError(t, err)
	dir, git := gitRepo(t)
	write := func(name string, size int) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644))
	}
	check := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(script, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	write("docs/at the limit.png", 1<<20)
	write("README.md", 100)
	git("add", ".")
	out, err := check()
	require.NoError(t, err, "a file of exactly 1 MiB is allowed:\n%s", out)

	write("scripts/bench/bench", 1<<20+1)
	write("untracked", 2<<20)
	git("add", "scripts/bench/bench")
	out, err = check()
	require.Error(t, err, "a tracked file over 1 MiB")
	assert.Contains(t, out, "scripts/bench/bench (1048577 bytes)")
	assert.NotContains(t, out, "at the limit")
	assert.NotContains(t, out, "untracked", "only what git tracks")

	out, err = check("100")
	require.Error(t, err)
	assert.Contains(t, out, "docs/at the limit.png (1048576 bytes)", "a name with a space, under a lower limit")
	assert.NotContains(t, out, "README.md", "100 bytes is not over 100")

	// The index counts, not the working tree: an emptied file is still
	// too big until the change is staged.
	write("scripts/bench/bench", 0)
	_, err = check()
	require.Error(t, err)
	git("rm", "-q", "--cached", "-f", "scripts/bench/bench")
	out, err = check()
	require.NoError(t, err, out)
}
