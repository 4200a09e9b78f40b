package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

// make run against the user's own Redis, the README's
// `redis_url=redis://127.0.0.1:6379/0 make run` (issue 9, defect 1): make
// run leaves .secrets/redis-password empty for it, which means no password,
// and a password the user writes into that file is used. In both cases a
// request filed through the gateway is stored in that Redis and read back.
// Before the fix every call of the password-less case was a 500 ("secret
// redis-password is empty").
//
// The password-less run is also started with max_pending_per_tenant=1, a
// documented setting given to make run's environment, which must reach the
// functions (issue 9, defect 15).
func TestMakeRunExternalRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	for _, tc := range []struct {
		name     string
		password string
	}{
		{name: "without a password"},
		{name: "with a password", password: "pw-" + randomHex(t, 12)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := startRedisServer(t, tc.password)
			cfg := stackConfig{env: map[string]string{"redis_url": rs.URL}}
			if tc.password != "" {
				// As a user writes it, with echo's newline.
				cfg.secrets = map[string]string{"redis-password": tc.password + "\n"}
				anon := redisServer{URL: rs.URL}.client(t)
				require.Error(t, anon.Ping(t.Context()).Err(), "the server must refuse clients without the password")
			} else {
				cfg.env["max_pending_per_tenant"] = "1"
			}
			rdb := rs.client(t)
			require.Zero(t, rdb.DBSize(t.Context()).Val(), "a fresh server")

			s := startStack(t, cfg)
			assert.Equal(t, rs.URL, s.Redis.URL)
			assert.Contains(t, s.Redis.Desc, "(from redis_url)", "make run must not start a Redis of its own")
			pw, err := os.ReadFile(filepath.Join(s.opts.SecretsDir, "redis-password"))
			require.NoError(t, err)
			if tc.password == "" {
				assert.Empty(t, pw, "make run writes an empty redis-password for a Redis given by redis_url")
			}
			secret := func(name string) []byte {
				b, err := os.ReadFile(filepath.Join(s.opts.SecretsDir, name))
				require.NoError(t, err)
				return b
			}

			// File a request as the ticketing system does: a signed webhook.
			body := `{"tenantId":"contoso","resourceType":"postgres","resourceIds":["db-1"],"justification":"slow queries",` +
				`"supportRequest":"INC-1001","requester":{"id":"eng-7"}}`
			status, created := fileRequest(t, s.Gateway, secret("lockbox-webhook-secret"), body)
			require.Equal(t, http.StatusCreated, status, "lockbox-create: %s", created)
			var req lockbox.Request
			require.NoError(t, json.Unmarshal(created, &req), "%s", created)
			require.NotEmpty(t, req.RequestID)
			assert.Positive(t, rdb.DBSize(t.Context()).Val(), "the request is stored in the Redis of redis_url")

			// Read it back as the tenant's reader.
			tok, err := auth.Mint(secret("lockbox-jwt-secret"),
				auth.NewClaims("rita", "contoso", []string{string(lockbox.RoleReader)}, time.Now(), time.Hour))
			require.NoError(t, err)
			status, listed := httpCall(t, http.MethodGet, s.Gateway+"/function/lockbox-list?requestId="+req.RequestID, "",
				map[string]string{"Authorization": "Bearer " + tok})
			require.Equal(t, http.StatusOK, status, "lockbox-list: %s", listed)
			var page struct{ Value []lockbox.Request }
			require.NoError(t, json.Unmarshal(listed, &page), "%s", listed)
			require.Len(t, page.Value, 1, "%s", listed)
			assert.Equal(t, req.RequestID, page.Value[0].RequestID)
			assert.Equal(t, lockbox.StatusPending, page.Value[0].Status)

			if cfg.env["max_pending_per_tenant"] == "1" {
				// The tenant's one pending request is its cap.
				status, refused := fileRequest(t, s.Gateway, secret("lockbox-webhook-secret"), strings.Replace(body, "INC-1001", "INC-1002", 1))
				assert.Equal(t, http.StatusTooManyRequests, status,
					"max_pending_per_tenant=1 from make run's environment must reach lockbox-create: %s", refused)
			}
		})
	}
}

// fileRequest posts body to lockbox-create as a signed webhook and returns
// the status and body of the answer.
func fileRequest(t *testing.T, gateway string, webhookSecret []byte, body string) (int, []byte) {
	t.Helper()
	ts := time.Now().Unix()
	return httpCall(t, http.MethodPost, gateway+"/function/lockbox-create", body, map[string]string{
		"Content-Type":       "application/json",
		auth.HeaderTimestamp: fmt.Sprint(ts),
		auth.HeaderSignature: auth.Sign(webhookSecret, ts, []byte(body)),
	})
}

// httpCall makes one HTTP call and returns the answer's status and body.
func httpCall(t *testing.T, method, url, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
