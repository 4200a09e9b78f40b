package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README harness itself: which blocks it finds, runs and skips.
func TestParseReadmeBlocks(t *testing.T) {
	md := strings.Join([]string{
		"# Title", // 1
		"",
		"```sh", // 3
		"make run",
		"```",
		"<!-- readme-test: skip (needs Docker and a registry) -->", // 6
		"```sh", // 7
		"make up",
		"```",
		"```sql", // 10
		"SELECT 1;",
		"```",
		"```", // 13
		"a diagram",
		"```",
		"```bash", // 16
		"$ make run",
		"started",
		"```",
		"  ```sh", // 20: indented, as in a list
		"  echo indented",
		"    echo more",
		"  ```",
		"````sh", // 24: a longer fence holds a shorter one
		"```",
		"````",
		"text with ```inline``` code and `<!-- readme-test: skip (why) -->` in prose", // 27
		"<!--readme-test:skip(covered by TestX)-->",
		"~~~shell", // 29
		"echo tilde",
		"~~~",
	}, "\n")
	blocks, err := parseReadmeBlocks(md)
	require.NoError(t, err)
	assert.Equal(t, []readmeBlock{
		{Line: 3, Lang: "sh", Text: "make run"},
		{Line: 7, Lang: "sh", Text: "make up", Skip: "needs Docker and a registry"},
		{Line: 10, Lang: "sql", Text: "SELECT 1;"},
		{Line: 13, Text: "a diagram"},
		{Line: 16, Lang: "bash", Text: "$ make run\nstarted"},
		{Line: 20, Lang: "sh", Text: "echo indented\n  echo more"},
		{Line: 24, Lang: "sh", Text: "```"},
		{Line: 29, Lang: "shell", Text: "echo tilde", Skip: "covered by TestX"},
	}, blocks)

	run := map[int]bool{}
	for _, b := range blocks {
		ok, why := b.runnable()
		run[b.Line] = ok
		if !ok {
			assert.NotEmpty(t, why)
		}
	}
	assert.Equal(t, map[int]bool{3: true, 7: true, 10: false, 13: false, 16: false, 20: true, 24: true, 29: true}, run,
		"sh, bash and shell blocks run (unless skipped); other languages, none, and $ transcripts do not")
	assert.Equal(t, []string{"TestX"}, testNames.FindAllString(blocks[7].Skip, -1))
}

func TestParseReadmeBlocksRefusesBadMarkers(t *testing.T) {
	for name, md := range map[string]string{
		"skip without a reason":     "<!-- readme-test: skip -->\n```sh\nx\n```\n",
		"skip with an empty reason": "<!-- readme-test: skip ( ) -->\n```sh\nx\n```\n",
		"unknown directive":         "<!-- readme-test: run twice -->\n```sh\nx\n```\n",
		"not right before a fence":  "<!-- readme-test: skip (why) -->\n\n```sh\nx\n```\n",
		"not a line of its own":     "text <!-- readme-test: skip (why) -->\n```sh\nx\n```\n",
		"an unclosed fence":         "```sh\nx\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseReadmeBlocks(md)
			require.Error(t, err)
			t.Log(err)
		})
	}
}

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

// The prelude makes an HTTP error fail curl, as any failing command.
func TestReadmePreludeCurlFailsOnHTTPError(t *testing.T) {
	requireBinary(t, "curl", "apt-get install -y curl")
	srv, _ := testGateway(t)
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

// A skip reason may name the test that covers the block; the harness finds
// the repository's tests to check that it exists.
func TestDefinedTests(t *testing.T) {
	defined, err := definedTests(repoRoot(t))
	require.NoError(t, err)
	assert.True(t, defined["TestMakeRunExternalRedis"])
	assert.True(t, defined["TestREADMECommands"])
	assert.False(t, defined["TestNoSuchTest"])
}
