package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"lockbox.dev/scripts/internal/readme"
)

// stackSecrets are the secrets stack.yml lists, each with the functions that
// list it.
func stackSecrets(t *testing.T, repo string) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "stack.yml"))
	require.NoError(t, err)
	var f struct {
		Functions map[string]struct {
			Secrets []string `yaml:"secrets"`
		} `yaml:"functions"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f), "stack.yml")
	out := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(f.Functions)) {
		for _, s := range f.Functions[name].Secrets {
			out[s] = append(out[s], name)
		}
	}
	return out
}

// secretCreate is a `faas-cli secret create <name>` line of a shell block,
// and its comment, which marks an optional secret: "# optional".
var secretCreate = regexp.MustCompile(`^\s*faas-cli secret create (\S+)[^#]*(#.*)?$`)

// isOptional reads a secret's marking in the README: "# optional" ending
// its deploy step, "optional" in the needed column of Configuration's
// secrets table ("yes" otherwise).
func isOptional(mark string) bool {
	return regexp.MustCompile(`^(#\s*)?optional\b`).MatchString(strings.TrimSpace(mark))
}

// deploySteps returns the secrets the shell blocks of a document's section
// create (the README's "Deploying to OpenFaaS"), each with whether the step
// marks it optional and its line.
func deploySteps(t *testing.T, doc, text, heading string) map[string]readmeSecret {
	t.Helper()
	section, first, err := readme.Section(text, heading)
	require.NoError(t, err, doc)
	blocks, err := readme.Blocks(section)
	require.NoError(t, err)
	out := map[string]readmeSecret{}
	for _, b := range blocks {
		for i, l := range strings.Split(b.Text, "\n") {
			if m := secretCreate.FindStringSubmatch(l); m != nil {
				out[m[1]] = readmeSecret{optional: isOptional(m[2]), line: first + b.Line + i}
			}
		}
	}
	return out
}

// readmeSecret is a secret as one place of the README shows it.
type readmeSecret struct {
	optional bool
	line     int
}

// secretsTable returns the secrets of the table in the README's
// Configuration section (columns secret and needed).
func secretsTable(t *testing.T, text string) map[string]readmeSecret {
	t.Helper()
	section, first, err := readme.Section(text, "# Configuration")
	require.NoError(t, err, "docs/configuration.md")
	rows, err := readme.Table(section, "secret", "needed")
	require.NoError(t, err, "docs/configuration.md")
	out := map[string]readmeSecret{}
	for _, r := range rows {
		needed := r.Cells["needed"]
		require.True(t, needed == "yes" || isOptional(needed), "docs/configuration.md:%d: needed is yes or optional, not %q", first+r.Line-1, needed)
		for _, name := range readme.Names(r.Cells["secret"]) {
			out[name] = readmeSecret{optional: isOptional(needed), line: first + r.Line - 1}
		}
	}
	return out
}

// Every secret a function lists in stack.yml is created by the README's
// deployment steps (OpenFaaS deploys a function only once every secret it
// lists exists) and described in the Configuration section's secrets
// table; every secret the steps create is one stack.yml lists. Which are
// optional (may be blank) the README says in both places, "# optional" on
// the step and "optional" in the table, and the two agree.
func TestREADMEDeploySecrets(t *testing.T) {
	repo := repoRoot(t)
	deploy, err := os.ReadFile(filepath.Join(repo, "docs", "deploy.md"))
	require.NoError(t, err)
	configuration, err := os.ReadFile(filepath.Join(repo, "docs", "configuration.md"))
	require.NoError(t, err)
	listed := stackSecrets(t, repo)
	require.NotEmpty(t, listed, "stack.yml lists no secret")
	steps := deploySteps(t, "docs/deploy.md", string(deploy), "# Deploying to OpenFaaS")
	table := secretsTable(t, string(configuration))

	for _, name := range slices.Sorted(maps.Keys(listed)) {
		fns := strings.Join(listed[name], ", ")
		step, created := steps[name]
		assert.True(t, created, "stack.yml lists the secret %s (for %s), but docs/deploy.md's steps never create it", name, fns)
		row, described := table[name]
		assert.True(t, described, "stack.yml lists the secret %s (for %s), but docs/configuration.md's secrets table does not describe it", name, fns)
		if created && described {
			assert.Equal(t, row.optional, step.optional, "docs/configuration.md:%d says %s is %s, docs/deploy.md:%d says %s", row.line, name,
				neededWord(row.optional), step.line, neededWord(step.optional))
		}
	}
	for name, step := range steps {
		_, ok := listed[name]
		assert.True(t, ok, "docs/deploy.md:%d creates the secret %s, which no function of stack.yml lists", step.line, name)
	}
	var optional []string
	for name, s := range steps {
		if s.optional {
			optional = append(optional, name)
		}
	}
	slices.Sort(optional)
	t.Logf("%d secrets in stack.yml; optional: %s", len(listed), strings.Join(optional, ", "))
}

func neededWord(optional bool) string {
	if optional {
		return "optional"
	}
	return "needed"
}

// kubernetesDoc and its section that creates the secrets.
const (
	kubernetesDoc     = "docs/kubernetes.md"
	kubernetesSecrets = "## 3. The secrets"
)

// docs/kubernetes.md's steps create every secret stack.yml lists, as
// docs/deploy.md's do, and no other; a secret docs/configuration.md's
// table says is needed is not marked optional there (the page may need
// more than docs/deploy.md: its own Redis has a password).
func TestKubernetesDeploySecrets(t *testing.T) {
	repo := repoRoot(t)
	configuration, err := os.ReadFile(filepath.Join(repo, "docs", "configuration.md"))
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(repo, kubernetesDoc))
	require.NoError(t, err)
	listed := stackSecrets(t, repo)
	require.NotEmpty(t, listed, "stack.yml lists no secret")
	table := secretsTable(t, string(configuration))
	steps := deploySteps(t, kubernetesDoc, string(raw), kubernetesSecrets)

	for _, name := range slices.Sorted(maps.Keys(listed)) {
		step, created := steps[name]
		if !assert.True(t, created, "stack.yml lists the secret %s (for %s), but %s's %q never creates it",
			name, strings.Join(listed[name], ", "), kubernetesDoc, kubernetesSecrets) {
			continue
		}
		if row, ok := table[name]; ok && !row.optional {
			assert.False(t, step.optional, "%s:%d marks %s optional, docs/configuration.md:%d says it is needed", kubernetesDoc, step.line, name, row.line)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(steps)) {
		_, ok := listed[name]
		assert.True(t, ok, "%s:%d creates the secret %s, which no function of stack.yml lists", kubernetesDoc, steps[name].line, name)
	}
	t.Logf("%s creates the %d secrets of stack.yml", kubernetesDoc, len(steps))
}
