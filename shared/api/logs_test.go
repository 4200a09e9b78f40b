package api_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// A whole workflow, failures included, logged at debug level: no secret,
// token, signature or request body appears in any line.
func TestLogsNeverLeak(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	old := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(old)

	e := apitest.New(t)
	e.Cases.Log = logger
	justification := "customer database 4f1c9e shows corrupted index pages"
	in := apitest.CreateInput("contoso", "eng-7")
	in.Justification = justification
	body := apitest.JSON(in)

	var secrets []string
	secrets = append(secrets, string(apitest.WebhookSecret), string(apitest.JWTSecret), justification, body)
	call := func(flow api.Flow, req handler.Request) handler.Response {
		if tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "); tok != "" {
			secrets = append(secrets, tok)
		}
		if sig := req.Header.Get(auth.HeaderSignature); sig != "" {
			secrets = append(secrets, sig, strings.TrimPrefix(sig, "sha256="))
		}
		return serve(e, flow, req)
	}

	created := call(api.Create, e.Signed(body))
	require.Equal(t, http.StatusCreated, created.StatusCode)
	id := apitest.Decode[lockbox.Request](t, created).RequestID
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)
	call(api.Create, e.Signed(body))                                             // replayed
	call(api.Create, e.Post(e.Token("eng-8", "x", lockbox.RoleRequester), body)) // forbidden
	call(api.List, e.Get(e.Token("rita", "contoso", lockbox.RoleReader), ""))
	call(api.List, e.Get(alice+"x", "")) // bad token
	require.Equal(t, http.StatusOK, call(api.Approve, e.Post(alice, decide(id))).StatusCode)
	call(api.Deny, e.Post(alice, decide(id))) // conflict
	e.Mini.Close()
	require.Equal(t, http.StatusServiceUnavailable, call(api.Approve, e.Post(alice, decide(id))).StatusCode)

	// A misconfigured function logs what is missing, never a secret's value.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretJWT), []byte("short-but-secret"), 0o600))
	secrets = append(secrets, "short-but-secret")
	t.Setenv("secret_mount_path", dir)
	t.Setenv("redis_url", "")
	resp, err := httpapi.Serve(app.API(config.Needs{Webhook: true, JWT: true}).Get, e.Signed(body), api.Create)
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.NotContains(t, string(resp.Body), "redis_url", "callers see no configuration details")

	out := logs.String()
	require.Contains(t, out, "lockbox request filed", "the workflow was logged")
	require.Contains(t, out, "function is misconfigured")
	for _, s := range secrets {
		assert.NotContains(t, out, s)
	}
	assert.NotContains(t, out, "Bearer")
}
