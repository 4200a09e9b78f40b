package main

import (
	"fmt"
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

	"lockbox.dev/scripts/internal/stack"
)

// The README's Configuration table is the list of settings. These tests
// hold lockbox.env.yml and stack.yml to it, so that every documented
// setting has its documented default and can be overridden for make run
// (`max_pending_per_tenant=3 make run`): issue 9, defect 15.

// notInStack are documented variables that neither lockbox.env.yml nor
// stack.yml set, and why.
var notInStack = map[string]string{
	// OpenFaaS mounts secrets there; make run and make bench point each
	// function at its own folder, and the value in a stack file would be
	// the platform's default anyway.
	"secret_mount_path": "set by the platform (OpenFaaS, make run, make bench), not by the stack",
}

// defaultKind says what a Configuration table's default column holds.
type defaultKind int

const (
	defaultValue    defaultKind = iota // a value, in backticks
	defaultRequired                    // (required): no default, the stack must give one
	defaultUnset                       // unset: off unless given
)

// configVar is one variable of the README's Configuration table.
type configVar struct {
	Name    string
	Kind    defaultKind
	Default string // for defaultValue
	Line    int    // in README.md
}

// A variable, default or list item in backticks.
var backticked = regexp.MustCompile("`([^`]*)`")

// readmeConfigTable reads the variables of the table under the README's
// "## Configuration" heading. A row names one or more variables in
// backticks in its "variable" column; its "default" column holds one
// default for all of them or one per variable, separated by commas, each a
// value in backticks, "(required)" or "unset".
func readmeConfigTable(readme string) ([]configVar, error) {
	lines := strings.Split(readme, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == "## Configuration" })
	if start < 0 {
		return nil, fmt.Errorf(`README.md has no "## Configuration" heading`)
	}
	var vars []configVar
	varCol, defCol := -1, -1
	inTable := false
	for i := start + 1; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "#") {
			break // the next section
		}
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break // the end of the first table
			}
			continue
		}
		cells := tableCells(line)
		switch {
		case !inTable:
			inTable = true
			varCol, defCol = slices.Index(cells, "variable"), slices.Index(cells, "default")
			if varCol < 0 || defCol < 0 {
				return nil, fmt.Errorf("README.md:%d: the Configuration table needs a \"variable\" and a \"default\" column: %s", i+1, line)
			}
			continue
		case strings.Trim(strings.Join(cells, ""), "-: ") == "":
			continue // the separator row
		case len(cells) <= max(varCol, defCol):
			return nil, fmt.Errorf("README.md:%d: a row with too few cells: %s", i+1, line)
		}
		names := backticked.FindAllStringSubmatch(cells[varCol], -1)
		if len(names) == 0 {
			return nil, fmt.Errorf("README.md:%d: no variable in backticks in %q", i+1, cells[varCol])
		}
		defs, err := parseDefaults(cells[defCol])
		if err != nil {
			return nil, fmt.Errorf("README.md:%d: %w", i+1, err)
		}
		if len(defs) != 1 && len(defs) != len(names) {
			return nil, fmt.Errorf("README.md:%d: %d variables but %d defaults in %q: give one default for all or one per variable",
				i+1, len(names), len(defs), cells[defCol])
		}
		for j, n := range names {
			v := defs[0]
			if len(defs) > 1 {
				v = defs[j]
			}
			v.Name, v.Line = n[1], i+1
			vars = append(vars, v)
		}
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("README.md: no variables in the Configuration table")
	}
	return vars, nil
}

// tableCells splits a Markdown table row into its trimmed cells.
func tableCells(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(row), "|"), "|")
	cells := strings.Split(row, "|")
	for i, c := range cells {
		cells[i] = strings.TrimSpace(c)
	}
	return cells
}

// parseDefaults reads a default column: comma-separated items (commas
// inside backticks do not count), each a value in backticks (the first
// one; words after it are commentary), "(required)" or "unset".
func parseDefaults(cell string) ([]configVar, error) {
	var items []string
	var cur strings.Builder
	inTicks := false
	for _, r := range cell {
		switch {
		case r == '`':
			inTicks = !inTicks
		case r == ',' && !inTicks:
			items = append(items, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	items = append(items, cur.String())
	out := make([]configVar, 0, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		switch m := backticked.FindStringSubmatch(item); {
		case m != nil:
			out = append(out, configVar{Kind: defaultValue, Default: m[1]})
		case strings.HasPrefix(item, "(required)"):
			out = append(out, configVar{Kind: defaultRequired})
		case strings.HasPrefix(item, "unset"):
			out = append(out, configVar{Kind: defaultUnset})
		default:
			return nil, fmt.Errorf("cannot read the default %q: write a value in backticks, (required) or unset", item)
		}
	}
	return out, nil
}

// stackEnvironments are the environments stack.yml gives its functions
// itself (not through an environment_file), by function.
func stackEnvironments(t *testing.T, repo string) map[string]map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "stack.yml"))
	require.NoError(t, err)
	var f struct {
		Functions map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"functions"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f), "stack.yml")
	out := map[string]map[string]string{}
	for name, fn := range f.Functions {
		out[name] = fn.Environment
	}
	return out
}

// lockboxEnv is the environment of lockbox.env.yml.
func lockboxEnv(t *testing.T, repo string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "lockbox.env.yml"))
	require.NoError(t, err)
	var f struct {
		Environment map[string]string `yaml:"environment"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f), "lockbox.env.yml")
	return f.Environment
}

func readmeVars(t *testing.T, repo string) []configVar {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "README.md"))
	require.NoError(t, err)
	vars, err := readmeConfigTable(string(raw))
	require.NoError(t, err)
	return vars
}

// Every variable of the README's Configuration table is set with its
// documented default in lockbox.env.yml, which every function reads, or,
// when only one function uses it, in that function's environment in
// stack.yml (lockbox-audit's s3_* and audit_batch, whose stack.yml values
// are the deployment's, not the defaults). A variable documented in the
// README and set in neither fails here.
func TestEveryDocumentedVariableIsInTheStack(t *testing.T) {
	repo := repoRoot(t)
	vars := readmeVars(t, repo)
	shared := lockboxEnv(t, repo)
	perFunction := stackEnvironments(t, repo)
	for _, v := range vars {
		if why, ok := notInStack[v.Name]; ok {
			t.Logf("%s (README.md:%d) is not in the stack: %s", v.Name, v.Line, why)
			continue
		}
		value, ok := shared[v.Name]
		if !ok {
			var in []string
			for _, name := range slices.Sorted(maps.Keys(perFunction)) {
				if _, ok := perFunction[name][v.Name]; ok {
					in = append(in, name)
				}
			}
			if len(in) == 0 {
				t.Errorf("%s is documented (README.md:%d) but neither lockbox.env.yml nor a function's environment in stack.yml sets it: "+
					"add `%s: %s` to lockbox.env.yml so that make run can override it", v.Name, v.Line, v.Name, yamlDefault(v))
			} else {
				t.Logf("%s (README.md:%d) is set in stack.yml for %s", v.Name, v.Line, strings.Join(in, ", "))
			}
			continue
		}
		switch v.Kind {
		case defaultRequired:
			assert.NotEmpty(t, value, "%s (README.md:%d) is required: lockbox.env.yml must give it a value", v.Name, v.Line)
		case defaultUnset:
			assert.Empty(t, value, "%s (README.md:%d) is unset by default: lockbox.env.yml must set it to \"\"", v.Name, v.Line)
		default:
			assert.Equal(t, v.Default, value, "%s: lockbox.env.yml and its documented default (README.md:%d) differ", v.Name, v.Line)
		}
	}
}

// Every variable the stack sets (lockbox.env.yml, and each function's
// environment in stack.yml) is documented in the README's Configuration
// table: a setting nobody can read about is one nobody can use.
func TestEveryStackVariableIsDocumented(t *testing.T) {
	repo := repoRoot(t)
	documented := map[string]bool{}
	for _, v := range readmeVars(t, repo) {
		documented[v.Name] = true
	}
	for k := range lockboxEnv(t, repo) {
		assert.True(t, documented[k], "%s is set in lockbox.env.yml but not documented in README.md's Configuration table", k)
	}
	for fn, env := range stackEnvironments(t, repo) {
		for k := range env {
			assert.True(t, documented[k], "%s is set for %s in stack.yml but not documented in README.md's Configuration table", k, fn)
		}
	}
}

// yamlDefault is how a documented default is written in lockbox.env.yml.
func yamlDefault(v configVar) string {
	switch v.Kind {
	case defaultRequired:
		return "<value>"
	case defaultUnset:
		return `""`
	}
	return fmt.Sprintf("%q", v.Default)
}

// Every documented setting given to make run's environment reaches every
// function that has it, as `max_pending_per_tenant=3 make run` must;
// redis_url and s3_endpoint reach them as the services make run uses.
func TestMakeRunEnvironmentOverridesEveryDocumentedVariable(t *testing.T) {
	repo := repoRoot(t)
	vars := readmeVars(t, repo)
	given := map[string]string{"max_pending_per_tenant": "3"}
	for _, v := range vars {
		if _, ok := given[v.Name]; !ok {
			given[v.Name] = "override-" + v.Name
		}
	}
	lookup := func(k string) (string, bool) { v, ok := given[k]; return v, ok }
	st, err := stack.Load(filepath.Join(repo, "stack.yml"), lookup)
	require.NoError(t, err)
	// What run does with redis_url and s3_endpoint when they are given.
	local := localEnv("http://127.0.0.1:8080", &running{Redis: service{URL: given["redis_url"]}, S3: service{URL: given["s3_endpoint"]},
		Mail: service{URL: "smtp://127.0.0.1:2525"}}, lookup)

	for _, name := range st.Names() {
		fn := st.Functions[name]
		env := functionEnv(fn, lookup, local)
		for _, v := range vars {
			if _, ok := fn.Environment[v.Name]; !ok {
				continue // not a setting of this function
			}
			assert.Equal(t, given[v.Name], env[v.Name], "%s=%s given to make run does not reach %s", v.Name, given[v.Name], name)
		}
		// The one the issue names, which every function with Redis has.
		if _, ok := fn.Environment["redis_url"]; ok {
			assert.Equal(t, "3", env["max_pending_per_tenant"], "max_pending_per_tenant=3 make run: %s", name)
		}
	}
}

// What the runtime decides itself wins over a stack file naming it too.
func TestEnvListRuntimeValuesWin(t *testing.T) {
	list := envList(map[string]string{"secret_mount_path": "/var/openfaas/secrets", "listen_addr": ":8082", "a": "1"}, "/tmp/s", "127.0.0.1:1")
	last := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		last[k] = v // exec keeps the last of duplicates
	}
	assert.Equal(t, "/tmp/s", last["secret_mount_path"])
	assert.Equal(t, "127.0.0.1:1", last["listen_addr"])
	assert.Equal(t, "1", last["a"])
}

// The table reader itself, on the shapes of row it accepts and refuses.
func TestReadmeConfigTable(t *testing.T) {
	readme := "# X\n\n## Configuration\n\ntext\n\n| variable | default | meaning |\n|---|---|---|\n" +
		"| `a` | (required) | x |\n| `b`, `c` | `1`, `2` | y |\n| `d`, `e` | `10s` | z |\n| `f` | unset | w |\n" +
		"| `g`, `h` | (required), `x,y` (commentary) | v |\n\nafter\n\n| variable | default |\n|---|---|\n| `ignored` | `1` |\n"
	vars, err := readmeConfigTable(readme)
	require.NoError(t, err)
	assert.Equal(t, []configVar{
		{Name: "a", Kind: defaultRequired, Line: 9},
		{Name: "b", Default: "1", Line: 10}, {Name: "c", Default: "2", Line: 10},
		{Name: "d", Default: "10s", Line: 11}, {Name: "e", Default: "10s", Line: 11},
		{Name: "f", Kind: defaultUnset, Line: 12},
		{Name: "g", Kind: defaultRequired, Line: 13}, {Name: "h", Default: "x,y", Line: 13},
	}, vars)

	for _, bad := range []string{
		"## Configuration\n\n| variable | default |\n|---|---|\n| `a`, `b`, `c` | `1`, `2` |\n",
		"## Configuration\n\n| variable | default |\n|---|---|\n| `a` | one hour |\n",
		"## Configuration\n\n| name | value |\n|---|---|\n| `a` | `1` |\n",
		"## Config\n",
	} {
		_, err := readmeConfigTable(bad)
		assert.Error(t, err, "%q", bad)
	}
}
