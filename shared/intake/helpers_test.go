package intake

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/lockbox"
)

// fixtureNow is when the tests' deliveries are signed and received.
var fixtureNow = time.Date(2026, 5, 4, 12, 0, 30, 0, time.UTC)

// exampleConfig loads the example configuration (package fixtures).
func exampleConfig(t testing.TB) *Config {
	t.Helper()
	c, err := Load(fixtures.Config())
	require.NoError(t, err)
	return c
}

// exampleSource returns the example configuration's source called name.
func exampleSource(t testing.TB, name string) *Source {
	t.Helper()
	s, err := exampleConfig(t).Source(name)
	require.NoError(t, err)
	return s
}

// fixture reads the fixture called name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.Body(name)
	require.NoError(t, err)
	return b
}

// requireKind asserts that err is a lockbox error of kind k.
func requireKind(t testing.TB, k lockbox.Kind, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, k, lockbox.KindOf(err), "error: %v", err)
}

// problemsOf returns the messages of the problems Load joined into err.
func problemsOf(t testing.TB, err error) []string {
	t.Helper()
	require.Error(t, err)
	j, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "Load must join its problems: %v", err)
	var out []string
	for _, e := range j.Unwrap() {
		out = append(out, e.Error())
	}
	return out
}

// loadErr loads doc and returns its problems.
func loadErr(t testing.TB, doc string) []string {
	t.Helper()
	_, err := Load([]byte(doc))
	return problemsOf(t, err)
}

func intp(n int) *int { return &n }
