package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/config"
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
			if tc.password == "" {
				assert.Empty(t, s.secret(t, config.SecretRedisPassword), "make run writes an empty redis-password for a Redis given by redis_url")
			}

			// File a request as the ticketing system does: a signed webhook.
			body := `{"tenantId":"contoso","resourceType":"postgres","resourceIds":["db-1"],"justification":"slow queries",` +
				`"supportRequest":"INC-1001","requester":{"id":"eng-7"}}`
			status, created := s.file(t, body)
			require.Equal(t, http.StatusCreated, status, "lockbox-create: %s", created)
			var req lockbox.Request
			require.NoError(t, json.Unmarshal(created, &req), "%s", created)
			require.NotEmpty(t, req.RequestID)
			assert.Positive(t, rdb.DBSize(t.Context()).Val(), "the request is stored in the Redis of redis_url")

			// Read it back as the tenant's reader.
			status, listed := s.call(t, http.MethodGet, "/function/lockbox-list?requestId="+req.RequestID, "",
				s.as(t, "contoso", "rita", lockbox.RoleReader))
			require.Equal(t, http.StatusOK, status, "lockbox-list: %s", listed)
			var page struct{ Value []lockbox.Request }
			require.NoError(t, json.Unmarshal(listed, &page), "%s", listed)
			require.Len(t, page.Value, 1, "%s", listed)
			assert.Equal(t, req.RequestID, page.Value[0].RequestID)
			assert.Equal(t, lockbox.StatusPending, page.Value[0].Status)

			if cfg.env["max_pending_per_tenant"] == "1" {
				// The tenant's one pending request is its cap.
				status, refused := s.file(t, strings.Replace(body, "INC-1001", "INC-1002", 1))
				assert.Equal(t, http.StatusTooManyRequests, status,
					"max_pending_per_tenant=1 from make run's environment must reach lockbox-create: %s", refused)
			}
		})
	}
}
