package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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

// minLeak is the shortest run of a secret's characters that a log line
// may not hold.
const minLeak = 8

// secret is a value no log line may hold any minLeak characters of.
type secret struct{ name, value string }

// leaks names each secret that logs hold a run of minLeak characters of
// (all of it, for a secret shorter than that), with the run found.
func leaks(logs string, secrets []secret) []string {
	var found []string
	for _, s := range secrets {
		r := []rune(s.value)
		n := min(minLeak, len(r))
		for i := 0; n > 0 && i+n <= len(r); i++ {
			if run := string(r[i : i+n]); strings.Contains(logs, run) {
				found = append(found, fmt.Sprintf("%s: %q", s.name, run))
				break
			}
		}
	}
	return found
}

// loggedFields are the fields of a body that logs may carry: ids.
var loggedFields = []string{"tenantId", "requestId", "supportRequest", "requester.id"}

// bodySecrets are the strings of a JSON body but the fields logs may carry,
// each a secret: a log line may hold no run of minLeak characters of the
// body's private values (its justification, resources, case link, reason,
// the requester's name...) outside the ids in them (a case link may hold
// the support request's number).
func bodySecrets(t *testing.T, name, body string) []secret {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(body), &v), "body %s", name)
	var private []secret
	var ids []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(strings.TrimPrefix(path+"."+k, "."), x)
			}
		case []any:
			for _, x := range v {
				walk(path, x)
			}
		case string:
			if slices.Contains(loggedFields, path) {
				ids = append(ids, v)
			} else {
				private = append(private, secret{name + " " + path, v})
			}
		}
	}
	walk("", v)
	var out []secret
	for _, p := range private {
		parts := []string{p.value}
		for _, id := range ids {
			var next []string
			for _, part := range parts {
				next = append(next, strings.Split(part, id)...)
			}
			parts = next
		}
		for _, part := range parts {
			if part != "" {
				out = append(out, secret{p.name, part})
			}
		}
	}
	return out
}

// justification is the private text the workflow files.
const justification = "customer database 4f1c9e shows corrupted index pages"

// leakWorkflow runs a whole workflow, failures included, logged at debug
// level, with the use cases logging through plant(logger); each call must
// be answered with the status it expects. It returns the logs and every
// secret, token, signature and private value of a body the calls carried.
func leakWorkflow(t *testing.T, plant func(*slog.Logger) *slog.Logger) (string, []secret) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	old := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(old) })

	e := apitest.New(t)
	e.Cases.Log = plant(logger)
	in := apitest.CreateInput("contoso", "eng-7")
	in.Justification = justification
	in.ResourceIDs = []string{"vm-payroll-db-01", "vm-payroll-db-02"}
	in.SupportCaseURL = "https://support.example/cases/INC-1001?view=7Hq2"
	body := apitest.JSON(in)
	decision := func(id string) string {
		return apitest.JSON(lockbox.DecisionInput{RequestID: id, Reason: "reviewed the corrupted pages with the DBA"})
	}

	secrets := []secret{
		{"webhook secret", string(apitest.WebhookSecret)},
		{"JWT secret", string(apitest.JWTSecret)},
		{"justification", justification},
	}
	call := func(flow api.Flow, req handler.Request, want int) handler.Response {
		t.Helper()
		if tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "); tok != "" {
			secrets = append(secrets, secret{"token", tok})
		}
		if sig := req.Header.Get(auth.HeaderSignature); sig != "" {
			secrets = append(secrets, secret{"signature", sig}, secret{"signature's hex", strings.TrimPrefix(sig, "sha256=")})
		}
		if len(req.Body) > 0 {
			secrets = append(secrets, bodySecrets(t, "body", string(req.Body))...)
		}
		resp := serve(e, flow, req)
		require.Equal(t, want, resp.StatusCode, "%s", resp.Body)
		return resp
	}

	created := call(api.Create, e.Signed(body), http.StatusCreated)
	id := apitest.Decode[lockbox.Request](t, created).RequestID
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)
	call(api.Create, e.Signed(body), http.StatusUnauthorized)                                          // replayed
	call(api.Create, e.Post(e.Token("eng-8", "x", lockbox.RoleRequester), body), http.StatusForbidden) // for someone else
	call(api.List, e.Get(e.Token("rita", "contoso", lockbox.RoleReader), ""), http.StatusOK)
	call(api.List, e.Get(alice+"x", ""), http.StatusUnauthorized) // bad token
	call(api.Approve, e.Post(alice, decision(id)), http.StatusOK)
	call(api.Deny, e.Post(alice, decision(id)), http.StatusConflict)
	e.Mini.Close()
	call(api.Approve, e.Post(alice, decision(id)), http.StatusServiceUnavailable)

	// A misconfigured function logs what is missing, never a secret's value.
	dir := t.TempDir()
	misconfigured := "Pd3Xq8Rk1Zt6Wn4Jv"
	require.NoError(t, os.WriteFile(filepath.Join(dir, config.SecretJWT), []byte(misconfigured), 0o600))
	secrets = append(secrets, secret{"a misconfigured function's JWT secret", misconfigured})
	t.Setenv("secret_mount_path", dir)
	t.Setenv("redis_url", "")
	resp, err := httpapi.Serve(app.API(config.Needs{Webhook: true, JWT: true}).Get, e.Signed(body), api.Create)
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.NotContains(t, string(resp.Body), "redis_url", "callers see no configuration details")
	return logs.String(), secrets
}

// A whole workflow, failures included, logged at debug level: no line holds
// eight characters in a row of a secret, token, signature, justification or
// any private value of a body.
func TestLogsNeverLeak(t *testing.T) {
	out, secrets := leakWorkflow(t, func(l *slog.Logger) *slog.Logger { return l })
	require.Contains(t, out, "lockbox request filed", "the workflow was logged")
	require.Contains(t, out, "lockbox request approve")
	require.Contains(t, out, "function is misconfigured")
	assert.Empty(t, leaks(out, secrets), "the logs leak")
	assert.NotContains(t, out, "Bearer")
}

// The leak check sees part of a secret: a logger planted to write the
// first 40 characters of the justification, or 8 characters of the JWT
// secret, fails it, though the logs hold neither whole.
func TestLogsNeverLeakCatchesPlantedLeaks(t *testing.T) {
	for _, c := range []struct {
		name, leaked, whole string
	}{
		{"justification", string([]rune(justification)[:40]), justification},
		{"JWT secret", string(apitest.JWTSecret[12:20]), string(apitest.JWTSecret)},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, secrets := leakWorkflow(t, func(l *slog.Logger) *slog.Logger { return l.With("hint", c.leaked) })
			require.Contains(t, out, c.leaked, "the planted logger wrote")
			require.NotContains(t, out, c.whole, "the plant leaks part of the secret, not all of it")
			found := leaks(out, secrets)
			require.NotEmpty(t, found, "the leak was missed")
			assert.Contains(t, found[0], c.name+": ")
		})
	}
}
