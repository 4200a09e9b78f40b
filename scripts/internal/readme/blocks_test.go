package readme

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
	blocks, err := Blocks(md)
	require.NoError(t, err)
	assert.Equal(t, []Block{
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
		ok, why := b.Runnable()
		run[b.Line] = ok
		if !ok {
			assert.NotEmpty(t, why)
		}
	}
	assert.Equal(t, map[int]bool{3: true, 7: true, 10: false, 13: false, 16: false, 20: true, 24: true, 29: true}, run,
		"sh, bash and shell blocks run (unless skipped); other languages, none, and $ transcripts do not")
	assert.Equal(t, []string{"TestX"}, TestsNamed(blocks[7].Skip))
}

func TestParseReadmeBlocksRefusesBadMarkers(t *testing.T) {
	for name, md := range map[string]string{
		"skip without a reason":     "<!-- readme-test: skip -->\n```sh\nx\n```\n",
		"skip with an empty reason": "<!-- readme-test: skip ( ) -->\n```sh\nx\n```\n",
		"unknown directive":         "<!-- readme-test: run twice -->\n```sh\nx\n```\n",
		"needs nothing":             "<!-- readme-test: needs ( ) -->\n```sh\nx\n```\n",
		"needs a path":              "<!-- readme-test: needs (/usr/sbin/sshd) -->\n```sh\nx\n```\n",
		"not right before a fence":  "<!-- readme-test: skip (why) -->\n\n```sh\nx\n```\n",
		"not a line of its own":     "text <!-- readme-test: skip (why) -->\n```sh\nx\n```\n",
		"an unclosed fence":         "```sh\nx\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Blocks(md)
			require.Error(t, err)
			t.Log(err)
		})
	}
}

// A block may name the programs it needs, and root; Missing says which of
// them a machine lacks.
func TestParseReadmeNeeds(t *testing.T) {
	md := "<!-- readme-test: needs (nginx, sshd root) -->\n```sh\nnginx -v\n```\n"
	blocks, err := Blocks(md)
	require.NoError(t, err)
	require.Len(t, blocks, 1)
	b := blocks[0]
	assert.Equal(t, Block{Line: 2, Lang: "sh", Text: "nginx -v", Needs: []string{"nginx", "sshd", "root"}}, b)
	ok, _ := b.Runnable()
	assert.True(t, ok, "a block with needs is run where they are met")

	installed := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, n := range names {
				if n == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	assert.Empty(t, b.Missing(installed("nginx", "sshd"), 0))
	assert.Equal(t, []string{"root"}, b.Missing(installed("nginx", "sshd"), 1000))
	assert.Equal(t, []string{"sshd", "root"}, b.Missing(installed("nginx"), 1000))
	assert.Empty(t, Block{Lang: "sh"}.Missing(installed(), 1000), "a block that needs nothing lacks nothing")
}

// A skip reason may name the test that covers the block; the harness finds
// the repository's tests to check that it exists.
func TestDefinedTests(t *testing.T) {
	repo, err := filepath.Abs("../../..")
	require.NoError(t, err)
	defined, err := DefinedTests(repo)
	require.NoError(t, err)
	assert.True(t, defined["TestMakeRunExternalRedis"])
	assert.True(t, defined["TestREADMECommands"])
	assert.False(t, defined["TestNoSuchTest"])
}

// Marked finds the blocks a marker names, without their indentation, and
// refuses a name marking two blocks.
func TestMarked(t *testing.T) {
	md := strings.Join([]string{
		"<!-- example: one -->", // 1
		"```json",
		"{}",
		"```",
		"- in a list:",
		"  <!-- example: two words -->", // 6
		"  ```yaml",
		"  a:",
		"    b: 1",
		"  ```",
		"<!-- other: three -->",
		"```sh",
		"x",
		"```",
	}, "\n")
	got, err := Marked(md, "example")
	require.NoError(t, err)
	assert.Equal(t, map[string]Block{
		"one":       {Line: 2, Lang: "json", Text: "{}"},
		"two words": {Line: 7, Lang: "yaml", Text: "a:\n  b: 1"},
	}, got)

	_, err = Marked(md+"\n<!-- example: one -->\n```\ny\n```\n", "example")
	assert.ErrorContains(t, err, "marks a block already")
}

// Section ends at the next heading of its level or above, not at a deeper
// one, nor at a line of a code block that starts with #.
func TestSection(t *testing.T) {
	md := strings.Join([]string{
		"# Doc",
		"## A", // 2
		"text",
		"### A.1",
		"```sh",
		"# a comment, not a heading",
		"## nor this",
		"```",
		"#hashtag",
		"## B",
		"after",
	}, "\n")
	got, line, err := Section(md, "## A")
	require.NoError(t, err)
	assert.Equal(t, 2, line)
	assert.Equal(t, strings.Join(strings.Split(md, "\n")[1:9], "\n"), got)

	got, _, err = Section(md, "## B")
	require.NoError(t, err)
	assert.Equal(t, "## B\nafter", got)

	_, _, err = Section(md, "## C")
	assert.Error(t, err)
}
