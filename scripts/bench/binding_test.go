package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/sshca"
	"lockbox.dev/shared/usecase"
)

// An engineer's key is written as OpenSSH writes it: the CA's parser reads
// it back as the same Ed25519 key, and its fingerprint is the SHA-256 of
// the wire form the parser marshals.
func TestEngineerKey(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k := newEngineerKey(pub, "eng-1@bench")
	parsed, err := sshca.ParseUserKey(k.line)
	require.NoError(t, err)
	assert.Equal(t, "ssh-ed25519", parsed.Type())
	wire := parsed.Marshal()
	assert.Equal(t, []byte(pub), wire[len(wire)-ed25519.PublicKeySize:])
	sum := sha256.Sum256(wire)
	assert.Equal(t, "SHA256:"+base64.RawStdEncoding.EncodeToString(sum[:]), k.fingerprint)

	_, err = sshca.ParseUserKey(startupKey())
	assert.NoError(t, err, "the start-up probe's key")
}

// Checks spread over the engineers; allowed ones name the grant's two
// resources in turn, denied ones a resource no grant names; certificates
// are asked under each engineer's own request.
func TestBindingItems(t *testing.T) {
	g := grantSet{Tenant: "bench-check", Engineers: []string{"eng-a", "eng-b"}, IDs: []string{"id-a", "id-b"}}
	assert.Equal(t, []Item{{Tenant: "bench-check", Who: "eng-a", Key: "vm-1"}, {Tenant: "bench-check", Who: "eng-b", Key: "vm-1"},
		{Tenant: "bench-check", Who: "eng-a", Key: "vm-2"}, {Tenant: "bench-check", Who: "eng-b", Key: "vm-2"},
		{Tenant: "bench-check", Who: "eng-a", Key: "vm-1"}}, g.checkItems(5, true))
	for _, it := range g.checkItems(4, false) {
		assert.Equal(t, deniedResource, it.Key)
	}
	assert.Equal(t, []Item{{Tenant: "bench-check", Who: "eng-a", Key: "id-a"}, {Tenant: "bench-check", Who: "eng-b", Key: "id-b"},
		{Tenant: "bench-check", Who: "eng-a", Key: "id-a"}}, g.credentialItems(3))
}

// lockboxServer serves lockbox-check at /check, lockbox-credential at
// /credential (their real flows on e) and a no-op at /noop, as the
// template hands calls to them.
func lockboxServer(t *testing.T, e *apitest.Env) *httptest.Server {
	flows := map[string]api.Flow{"/check": api.Check, "/credential": api.Credential}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		flow, ok := flows[r.URL.Path]
		if !ok {
			_, _ = w.Write([]byte(`{"ok":true}`))
			return
		}
		req := e.Get("", r.URL.RawQuery) // the template's request, then the call's own
		req.Method, req.Header, req.Body = r.Method, r.Header, body
		resp := e.Serve(flow, req)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The binding's calls, against lockbox-check's and lockbox-credential's
// own flows and the store: each succeeds on what the set-up granted, and
// fails when the answer is not the one its run measures.
func TestBindingCallers(t *testing.T) {
	e := apitest.New(t)
	e.Now = time.Now() // the set-up and the callers stamp with the real clock
	key, err := sshca.NewKey("bench test CA")
	require.NoError(t, err)
	ca, err := sshca.Parse(key)
	require.NoError(t, err)
	e.Svc.Credentials = usecase.CredentialConfig{CA: ca, TTL: time.Hour}
	b := &bench{redis: &redisServer{rdb: e.Redis}}
	grants, err := b.grantSetup("bench-check")
	require.NoError(t, err)
	require.Len(t, grants.IDs, checkEngineers)

	srv := lockboxServer(t, e)
	g := &generator{tokens: map[string]string{}, jwt: apitest.JWTSecret, client: srv.Client(), store: e.Store}
	ctx := context.Background()
	run := func(op, path, url string, items []Item) []error {
		t.Helper()
		call, err := g.caller(Job{Op: op, Path: path, URL: url, Items: items})
		require.NoError(t, err)
		var errs []error
		for _, it := range items {
			errs = append(errs, call(ctx, it))
		}
		return errs
	}
	allowed, denied := grants.checkItems(3, true), grants.checkItems(3, false)
	// Refused, but not NoGrant: the engineer's request waits for a decision.
	_, err = b.fill(grants.Tenant, 1, lockbox.DefaultLimits, func(int) string { return "eng-pending" })
	require.NoError(t, err)
	pending := []Item{{Tenant: grants.Tenant, Who: "eng-pending", Key: "vm-1"}}
	for _, c := range []struct {
		op, path, url string
		items         []Item
		ok            bool
	}{
		{"check", "http", srv.URL + "/check", allowed, true},
		{"check", "http", srv.URL + "/check", denied, false},
		{"checkdenied", "http", srv.URL + "/check", denied, true},
		{"checkdenied", "http", srv.URL + "/check", allowed, false},
		{"checkdenied", "http", srv.URL + "/check", pending, false},
		{"checkdenied", "redis", "", pending, false},
		{"check", "redis", "", allowed, true},
		{"check", "redis", "", denied, false},
		{"checkdenied", "redis", "", denied, true},
		{"checkdenied", "redis", "", allowed, false},
		{"noopcheck", "http", srv.URL + "/noop", allowed, true},
		{"noopcheck", "http", srv.URL + "/check", denied, false},
	} {
		for _, err := range run(c.op, c.path, c.url, c.items) {
			if c.ok {
				assert.NoError(t, err, "%s/%s", c.path, c.op)
			} else {
				assert.Error(t, err, "%s/%s on the other kind of item", c.path, c.op)
			}
		}
	}

	creds := grants.credentialItems(2)
	for _, err := range run("credential", "http", srv.URL+"/credential", creds) {
		assert.NoError(t, err)
	}
	for _, err := range run("credential", "redis", "", creds) {
		assert.NoError(t, err)
	}
	r, err := e.Store.Get(ctx, grants.Tenant, grants.IDs[0])
	require.NoError(t, err)
	require.NotNil(t, r.Usage)
	assert.Equal(t, 2, r.Usage.Credentials, "one certificate over HTTP, one issue straight to Redis")
	assert.Equal(t, 4, r.Usage.Checks, "its item was checked by the check runs and the checkdenied runs (which fail on it), over HTTP and to Redis")

	other := []Item{{Tenant: grants.Tenant, Who: grants.Engineers[1], Key: grants.IDs[0]}}
	for _, err := range run("credential", "http", srv.URL+"/credential", other) {
		assert.ErrorContains(t, err, "404", "another engineer's request")
	}
	for _, err := range run("credential", "http", srv.URL+"/noop", creds[:1]) {
		assert.ErrorContains(t, err, "no certificate")
	}
}

// The start-up probes of lockbox-check and lockbox-credential are real
// calls of their kind, answered as the start-up step expects: a refused
// check, and no certificate for a request that does not exist.
func TestBindingFirstCalls(t *testing.T) {
	e := apitest.New(t)
	e.Now = time.Now()
	key, err := sshca.NewKey("bench test CA")
	require.NoError(t, err)
	ca, err := sshca.Parse(key)
	require.NoError(t, err)
	e.Svc.Credentials = usecase.CredentialConfig{CA: ca, TTL: time.Hour}
	srv := lockboxServer(t, e)
	b := &bench{secrets: t.TempDir()}
	require.NoError(t, os.WriteFile(filepath.Join(b.secrets, "lockbox-jwt-secret"), apitest.JWTSecret, 0o600))
	for name, path := range map[string]string{"lockbox-check": "/check", "lockbox-credential": "/credential"} {
		first, want := b.firstCall(name, srv.URL+path)
		resp, err := srv.Client().Do(first())
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, name)
		assert.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, want, "%s: a refusal that ran the script", name)
	}
}
