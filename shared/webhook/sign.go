// Package webhook is the webhook side of Lockbox's notifications: the
// payloads of the three formats a tenant's endpoint may take (standard,
// slack, teams), their signatures per the Standard Webhooks specification
// (https://www.standardwebhooks.com), and the sending, through the netguard
// Guard, without redirects, within a short timeout, with errors that say
// whether a retry can help.
//
// The package keeps no state between deliveries: which notifications go to
// which endpoint, the retries and their backoff are the notify job's.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// The Standard Webhooks headers of a delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// maxIDLen bounds a webhook-id: it travels in a header.
const maxIDLen = 256

var (
	errSecret = errors.New("webhook secret must be " + lockbox.WebhookSecretPrefix +
		" followed by the base64 of 24 to 64 bytes")
	errID = fmt.Errorf("webhook id must be 1..%d visible ASCII characters", maxIDLen)
)

// Sign returns the webhook-signature of a delivery: "v1," and the standard
// base64 of HMAC-SHA256 over id, ".", the Unix seconds of ts, "." and body,
// keyed with the bytes the secret ("whsec_<base64>") encodes. The error never
// contains the secret.
func Sign(secret string, id string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", fmt.Errorf("sign webhook: %w", err)
	}
	if !validID(id) {
		return "", fmt.Errorf("sign webhook: %w", errID)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Headers returns the three Standard Webhooks headers of a delivery:
// webhook-id (id), webhook-timestamp (the Unix seconds of ts) and
// webhook-signature (Sign).
func Headers(secret, id string, ts time.Time, body []byte) (http.Header, error) {
	sig, err := Sign(secret, id, ts, body)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 3)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h, nil
}

// secretKey decodes a "whsec_<base64>" secret (lockbox.ValidWebhookSecret).
func secretKey(secret string) ([]byte, error) {
	if !lockbox.ValidWebhookSecret(secret) {
		return nil, errSecret
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, lockbox.WebhookSecretPrefix))
	if err != nil {
		return nil, errSecret // unreachable after ValidWebhookSecret; the cause could quote the secret
	}
	return key, nil
}

// validID reports whether id can travel as a webhook-id header.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
