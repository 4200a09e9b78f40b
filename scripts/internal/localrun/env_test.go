package localrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/readme"
	"lockbox.dev/scripts/internal/stack"
)

// Every documented setting given to make run's environment reaches every
// function that has it, as `max_pending_per_tenant=3 make run` must;
// redis_url and s3_endpoint reach them as the services make run uses.
func TestMakeRunEnvironmentOverridesEveryDocumentedVariable(t *testing.T) {
	repo, err := filepath.Abs("../../..")
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(repo, "docs", "configuration.md"))
	require.NoError(t, err)
	vars, err := readme.ConfigTable(string(raw))
	require.NoError(t, err)
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
	local := localEnv("http://127.0.0.1:8080", &Running{Redis: Service{URL: given["redis_url"]}, S3: Service{URL: given["s3_endpoint"]},
		Mail: Service{URL: "smtp://127.0.0.1:2525"}}, lookup)

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
