package stack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "common.yml"), []byte(`
environment:
  redis_url: redis://${REDIS_HOST:-redis}:6379/0
  pending_ttl: 96h
  max_body_bytes: 1048576
  debug: true
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stack.yml"), []byte(`
version: 1.0
provider:
  name: openfaas
  gateway: ${OPENFAAS_URL:-http://127.0.0.1:8080}
functions:
  audit:
    lang: golang-lockbox
    handler: ./functions/audit
    image: ${REGISTRY:-ghcr.io/x}/audit:${TAG:-latest}
    environment_file: [common.yml]
    environment:
      pending_ttl: 1h
    secrets: [a, b]
    annotations:
      topic: cron-function
      schedule: "${AUDIT_SCHEDULE:-*/5 * * * *}"
  list:
    lang: golang-lockbox
    handler: ./functions/list
configuration:
  copy: [./shared]
`), 0o644))

	s, err := Load(filepath.Join(dir, "stack.yml"), lookup(map[string]string{"TAG": "v1", "AUDIT_SCHEDULE": "@every 1s"}))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080", s.Provider.Gateway, "default used")
	assert.Equal(t, []string{"audit", "list"}, s.Names())
	a := s.Functions["audit"]
	assert.Equal(t, "audit", a.Name)
	assert.Equal(t, "ghcr.io/x/audit:v1", a.Image, "variable and default")
	assert.Equal(t, map[string]string{
		"redis_url": "redis://redis:6379/0", "pending_ttl": "1h", "max_body_bytes": "1048576", "debug": "true",
	}, a.Environment, "function environment overrides the file; numbers and booleans read as strings")
	sched, ok := a.Cron()
	assert.True(t, ok)
	assert.Equal(t, "@every 1s", sched)
	_, ok = s.Functions["list"].Cron()
	assert.False(t, ok)
	assert.Equal(t, filepath.Join(dir, "functions/list"), s.Path(s.Functions["list"].Handler))
	assert.Equal(t, []string{"./shared"}, s.Configuration.Copy)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "stack.yml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	none := lookup(nil)
	_, err := Load(write("provider: {name: openfaas}\n"), none)
	assert.ErrorContains(t, err, "no functions")
	_, err = Load(write("functions:\n  f:\n    lang: go\n    handler: ./f\n    environment_file: [missing.yml]\n"), none)
	assert.ErrorContains(t, err, "missing.yml")
	_, err = Load(write("functions:\n  f:\n    handler: ./f\n"), none)
	assert.ErrorContains(t, err, "no lang")
	_, err = Load(write("functions:\n  f:\n    lang: go\n    handler: ./f\n    enviroment: {}\n"), none)
	assert.ErrorContains(t, err, "enviroment", "typos are not silently ignored")
}

func TestSubstitute(t *testing.T) {
	env := lookup(map[string]string{"A": "1", "EMPTY": ""})
	assert.Equal(t, "1 dflt dflt  $B ${ }", Substitute("${A} ${B:-dflt} ${EMPTY:-dflt} ${C} $B ${ }", env))
}
