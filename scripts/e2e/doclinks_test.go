package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/readme"
)

// Every relative link of the repository's Markdown documents (the README,
// docs/, each function's and the scripts' README) names a file that exists
// and, with a fragment, a heading of that file; so moving a section from
// one document to another cannot leave a link behind.
func TestDocLinksResolve(t *testing.T) {
	repo := repoRoot(t)
	var docs []string
	for _, pattern := range []string{"*.md", "docs/*.md", "functions/*/README.md", "scripts/README.md", "template/*/README.md"} {
		m, err := filepath.Glob(filepath.Join(repo, pattern))
		require.NoError(t, err)
		docs = append(docs, m...)
	}
	require.Greater(t, len(docs), 10)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		anchors[path] = readme.Anchors(string(raw))
		return anchors[path]
	}
	checked := 0
	for _, doc := range docs {
		raw, err := os.ReadFile(doc)
		require.NoError(t, err)
		name, _ := filepath.Rel(repo, doc)
		for _, l := range readme.Links(string(raw)) {
			if strings.Contains(l.Target, "://") || strings.HasPrefix(l.Target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(l.Target, "#")
			target := doc
			if path != "" {
				target = filepath.Join(filepath.Dir(doc), filepath.FromSlash(path))
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: the link %s names no file of the repository", name, l.Line, l.Target)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(target, ".md") && !anchorsOf(target)[frag] {
				t.Errorf("%s:%d: the link %s names no heading of %s", name, l.Line, l.Target, filepath.Base(target))
			}
			checked++
		}
	}
	t.Logf("%d links of %d documents resolve", checked, len(docs))
}
