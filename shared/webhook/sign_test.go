package webhook_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/webhook"
)

// newSecret returns a fresh "whsec_" secret of n random bytes.
func newSecret(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// TestSignSpecVector reproduces the Standard Webhooks specification's test
// vector exactly.
func TestSignSpecVector(t *testing.T) {
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	assert.Equal(t, want, got, "got %s, want %s", got, want)
}

// TestSignAgreesWithReferenceLibrary signs random deliveries with both.
func TestSignAgreesWithReferenceLibrary(t *testing.T) {
	for i := range 50 {
		secret := newSecret(t, 24+i%41)
		id := fmt.Sprintf("msg_%d_%s", i, strings.Repeat("x", i))
		ts := time.Unix(1_600_000_000+int64(i)*7919, int64(i)*1000) // sub-second parts are dropped
		body := make([]byte, i*37)
		_, err := rand.Read(body)
		require.NoError(t, err)

		ref, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		want, err := ref.Sign(id, ts, body)
		require.NoError(t, err)
		got, err := webhook.Sign(secret, id, ts, body)
		require.NoError(t, err)
		assert.Equal(t, want, got, "delivery %d: got %s, want %s", i, got, want)
	}
}

// TestHeaders builds the three headers, which the reference library accepts.
func TestHeaders(t *testing.T) {
	secret := newSecret(t, 32)
	body := []byte(`{"type":"lockbox.request.created"}`)
	now := time.Now()
	h, err := webhook.Headers(secret, "evt-1.hook-a", now, body)
	require.NoError(t, err)

	assert.Len(t, h, 3, "got headers %v, want the three webhook-* headers", h)
	assert.Equal(t, "evt-1.hook-a", h.Get("webhook-id"), "got webhook-id %q, want %q", h.Get("webhook-id"), "evt-1.hook-a")
	wantTS := strconv.FormatInt(now.Unix(), 10)
	assert.Equal(t, wantTS, h.Get("webhook-timestamp"), "got webhook-timestamp %q, want %q", h.Get("webhook-timestamp"), wantTS)
	assert.True(t, strings.HasPrefix(h.Get("webhook-signature"), "v1,"), "got webhook-signature %q, want v1,…", h.Get("webhook-signature"))

	ref, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	assert.NoError(t, ref.Verify(body, h), "got the reference verifier's refusal, want acceptance")
	assert.Error(t, ref.Verify([]byte(`{"type":"lockbox.request.approved"}`), h), "got acceptance of another body, want a refusal")

	other, err := standardwebhooks.NewWebhook(newSecret(t, 32))
	require.NoError(t, err)
	assert.Error(t, other.Verify(body, h), "got acceptance under another secret, want a refusal")
}

// TestSignRefusesBadSecretsAndIDs: secrets must be whsec_ and the base64 of
// 24..64 bytes, and no error quotes them; ids must fit in a header.
func TestSignRefusesBadSecretsAndIDs(t *testing.T) {
	raw := base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuv"))
	for name, secret := range map[string]string{
		"no prefix":      raw,
		"other prefix":   "wh_" + raw,
		"not base64":     "whsec_!!!not-base64-but-long-enough-to-count!!!",
		"url base64":     "whsec_" + base64.URLEncoding.EncodeToString([]byte("\xfb\xff0123456789abcdefghijklmnopqrstuv")),
		"too short":      "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghijklm")),
		"too long":       "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)),
		"empty":          "",
		"only a prefix":  "whsec_",
		"trailing space": "whsec_" + raw + " ",
	} {
		_, err := webhook.Sign(secret, "id", time.Now(), []byte("{}"))
		if assert.Error(t, err, "%s: got no error, want a refusal", name) && secret != "" && secret != "whsec_" {
			assert.NotContains(t, err.Error(), strings.TrimPrefix(secret, "whsec_"), "%s: got %q, want the secret left out", name, err)
		}
		_, err = webhook.Headers(secret, "id", time.Now(), []byte("{}"))
		assert.Error(t, err, "%s: got headers, want a refusal", name)
	}

	secret := newSecret(t, 32)
	for _, id := range []string{"", "a b", "line\nbreak", "tab\t", "é", strings.Repeat("x", 257)} {
		_, err := webhook.Sign(secret, id, time.Now(), []byte("{}"))
		assert.Error(t, err, "id %q: got no error, want a refusal", id)
	}
	_, err := webhook.Sign(secret, strings.Repeat("x", 256), time.Now(), []byte("{}"))
	assert.NoError(t, err, "got a refusal of a 256-character id, want a signature")
}
