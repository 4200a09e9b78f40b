package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

// TestGitHubDocumentedVector reproduces the example of GitHub's "Validating
// webhook deliveries": secret "It's a Secret to Everybody", payload
// "Hello, World!".
func TestGitHubDocumentedVector(t *testing.T) {
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	body := []byte("Hello, World!")
	h := SignFixture(KindGitHub, "It's a Secret to Everybody", body, fixtureNow)
	assert.Equal(t, want, h.Get("X-Hub-Signature-256"))

	s := &Source{Name: "gh", Kind: KindGitHub, secrets: []secret{secret("It's a Secret to Everybody")}}
	d, err := s.Verify(http.Header{"X-Hub-Signature-256": {want}, "X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}}, body, fixtureNow)
	require.NoError(t, err)
	assert.Equal(t, Delivery{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", SignatureHash: hashHex(mustHex(t, want[len("sha256="):]))}, d)
}

// TestZendeskTimestampPrecedesBody pins the documented order: the MAC
// covers the timestamp header, then the body, with nothing between.
func TestZendeskTimestampPrecedesBody(t *testing.T) {
	const key = "zendesk-signing-secret-0001"
	body := []byte(`{"say": "hello"}`)
	ts := "2021-07-25T10:00:00Z"
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + string(body)))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))

	now, _ := time.Parse(time.RFC3339, ts)
	h := SignFixture(KindZendesk, key, body, now)
	assert.Equal(t, want, h.Get(HeaderZendeskSignature))
	assert.Equal(t, ts, h.Get(HeaderZendeskTimestamp))
}

// verifierCase is one delivery presented to a source's verifier.
type verifierCase struct {
	name   string
	edit   func(h http.Header, body []byte) []byte // changes the signed delivery; returns the body sent
	now    time.Duration                           // receipt time after fixtureNow
	wantOK bool
	want   string // part of the error message
}

func tamper(body []byte) []byte { return append(append([]byte(nil), body[:len(body)-2]...), " }"...) }

// commonCases hold for every kind of source: sig is its signature header.
func commonCases(sig string) []verifierCase {
	return []verifierCase{
		{name: "good", wantOK: true},
		{name: "missing", edit: func(h http.Header, b []byte) []byte { h.Del(sig); return b }, want: "missing " + sig},
		{name: "empty", edit: func(h http.Header, b []byte) []byte { h.Set(sig, ""); return b }, want: "missing " + sig},
		{name: "twice", edit: func(h http.Header, b []byte) []byte { h.Add(sig, h.Get(sig)); return b }, want: "send " + sig + " once"},
		{name: "tampered body", edit: func(h http.Header, b []byte) []byte { return tamper(b) }, want: "does not match"},
		{name: "empty body", edit: func(h http.Header, b []byte) []byte { return nil }, want: "does not match"},
	}
}

// hexCases hold for Jira and GitHub: sha256=<lower-case hex>.
func hexCases(sig string) []verifierCase {
	return append(commonCases(sig),
		verifierCase{name: "wrong secret", edit: func(h http.Header, b []byte) []byte {
			h.Set(sig, "sha256="+hex.EncodeToString(macOf("not-the-configured-secret", b)))
			return b
		}, want: "signature does not match"},
		verifierCase{name: "upper-case hex", edit: func(h http.Header, b []byte) []byte {
			h.Set(sig, "sha256="+strings.ToUpper(strings.TrimPrefix(h.Get(sig), "sha256=")))
			return b
		}, want: "64 lower-case hex digits"},
		verifierCase{name: "no prefix", edit: func(h http.Header, b []byte) []byte {
			h.Set(sig, strings.TrimPrefix(h.Get(sig), "sha256="))
			return b
		}, want: "must be sha256="},
		verifierCase{name: "sha1 prefix", edit: func(h http.Header, b []byte) []byte {
			h.Set(sig, "sha1="+strings.TrimPrefix(h.Get(sig), "sha256="))
			return b
		}, want: "must be sha256="},
		verifierCase{name: "truncated", edit: func(h http.Header, b []byte) []byte {
			h.Set(sig, h.Get(sig)[:len(h.Get(sig))-2])
			return b
		}, want: "64 lower-case hex digits"},
	)
}

// base64Cases hold for Zendesk and ServiceNow HMAC.
func base64Cases(sig string, signed func(key string, b []byte, h http.Header) []byte) []verifierCase {
	return append(commonCases(sig),
		verifierCase{name: "wrong secret", edit: func(h http.Header, b []byte) []byte {
			h.Set(sig, base64.StdEncoding.EncodeToString(signed("not-the-configured-secret", b, h)))
			return b
		}, want: "signature does not match"},
		verifierCase{name: "unpadded", edit: func(h http.Header, b []byte) []byte {
			h.Set(sig, strings.TrimRight(h.Get(sig), "="))
			return b
		}, want: "base64 of an HMAC-SHA256"},
		verifierCase{name: "hex instead of base64", edit: func(h http.Header, b []byte) []byte {
			raw, _ := base64.StdEncoding.DecodeString(h.Get(sig))
			h.Set(sig, hex.EncodeToString(raw))
			return b
		}, want: "base64 of an HMAC-SHA256"},
	)
}

func macOf(key string, parts ...[]byte) []byte { return sum(secret(key), parts...) }

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVerify(t *testing.T) {
	zendeskSigned := func(key string, b []byte, h http.Header) []byte {
		if key == "" {
			key = "zendesk-fixture-secret-current-0001"
		}
		return macOf(key, []byte(h.Get(HeaderZendeskTimestamp)), b)
	}
	snSigned := func(key string, b []byte, _ http.Header) []byte {
		if key == "" {
			key = "servicenow-fixture-hmac-secret-0001"
		}
		return macOf(key, b)
	}
	basic := func(user, pass string) func(h http.Header, b []byte) []byte {
		return func(h http.Header, b []byte) []byte {
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
			return b
		}
	}
	zendesk := append(base64Cases(HeaderZendeskSignature, zendeskSigned),
		verifierCase{name: "timestamp missing", edit: func(h http.Header, b []byte) []byte { h.Del(HeaderZendeskTimestamp); return b }, want: "missing " + HeaderZendeskTimestamp},
		verifierCase{name: "expired", now: MaxSkew + time.Second, want: "more than 5 minutes away"},
		verifierCase{name: "from the future", now: -MaxSkew - time.Second, want: "more than 5 minutes away"},
		verifierCase{name: "just inside the window", now: MaxSkew, wantOK: true},
		verifierCase{name: "timestamp not RFC 3339", edit: func(h http.Header, b []byte) []byte {
			h.Set(HeaderZendeskTimestamp, "1777896030")
			h.Set(HeaderZendeskSignature, base64.StdEncoding.EncodeToString(zendeskSigned("", b, h)))
			return b
		}, want: "must be an RFC 3339 time"},
		verifierCase{name: "timestamp changed", edit: func(h http.Header, b []byte) []byte {
			h.Set(HeaderZendeskTimestamp, fixtureNow.Add(time.Second).Format(time.RFC3339))
			return b
		}, want: "signature does not match"},
	)
	serviceNowBasic := []verifierCase{
		{name: "good", wantOK: true},
		{name: "missing", edit: func(h http.Header, b []byte) []byte { h.Del("Authorization"); return b }, want: "missing Authorization"},
		{name: "bearer", edit: func(h http.Header, b []byte) []byte { h.Set("Authorization", "Bearer x"); return b }, want: "must be Basic"},
		{name: "wrong password", edit: basic("lockbox-intake", "servicenow-fixture-password-0002"), want: "user name or password does not match"},
		{name: "wrong user", edit: basic("admin", "servicenow-fixture-password-0001"), want: "user name or password does not match"},
		{name: "user prefix", edit: basic("lockbox-intak", "servicenow-fixture-password-0001"), want: "user name or password does not match"},
		{name: "tampered body still authenticates", edit: func(h http.Header, b []byte) []byte { return tamper(b) }, wantOK: true},
	}
	for _, tc := range []struct {
		source  string
		fixture string
		cases   []verifierCase
	}{
		{"jira", "jira-created", hexCases(HeaderJiraSignature)},
		{"github", "github-created", hexCases(HeaderGitHubSignature)},
		{"zendesk", "zendesk-created", zendesk},
		{"servicenow-hmac", "servicenow-created", base64Cases("X-SN-Signature", snSigned)},
		{"servicenow", "servicenow-created", serviceNowBasic},
	} {
		s := exampleSource(t, tc.source)
		for _, c := range tc.cases {
			t.Run(tc.source+"/"+c.name, func(t *testing.T) {
				body := fixture(t, tc.fixture)
				h := s.Sign(body, fixtureNow)
				if c.edit != nil {
					body = c.edit(h, body)
				}
				d, err := s.Verify(h, body, fixtureNow.Add(c.now))
				if c.wantOK {
					require.NoError(t, err)
					assert.NotEmpty(t, d.ID)
					return
				}
				requireKind(t, lockbox.KindUnauthorized, err)
				assert.Contains(t, err.Error(), c.want)
				assert.Equal(t, Delivery{}, d)
			})
		}
	}
}

// TestRotatedSecretVerifies: during a rotation a delivery signed with any
// configured secret verifies, whichever position it has.
func TestRotatedSecretVerifies(t *testing.T) {
	body := fixture(t, "jira-created")
	for _, key := range []string{"jira-fixture-secret-current-0001", "jira-fixture-secret-previous-0000"} {
		s := exampleSource(t, "jira")
		h := SignFixture(KindJira, key, body, fixtureNow)
		_, err := s.Verify(h, body, fixtureNow)
		require.NoError(t, err, key)
	}
	s := exampleSource(t, "servicenow")
	s.secrets = append([]secret{secret("servicenow-next-password-0002")}, s.secrets...)
	h := s.Sign(body, fixtureNow) // signed with the new first secret
	_, err := s.Verify(h, body, fixtureNow)
	require.NoError(t, err)
	s.secrets = s.secrets[1:]
	_, err = s.Verify(h, body, fixtureNow)
	requireKind(t, lockbox.KindUnauthorized, err)
}

func TestDeliveryIdentity(t *testing.T) {
	body := fixture(t, "jira-created")
	jira := exampleSource(t, "jira")
	h := jira.Sign(body, fixtureNow)
	d, err := jira.Verify(h, body, fixtureNow)
	require.NoError(t, err)
	assert.Equal(t, h.Get(HeaderJiraDelivery), d.ID)
	assert.False(t, d.Derived)
	mac := mustHex(t, strings.TrimPrefix(h.Get(HeaderJiraSignature), "sha256="))
	assert.Equal(t, hashHex(mac), d.SignatureHash)

	// Without a usable delivery id, the id is derived from the signature.
	for _, id := range [][]string{nil, {""}, {"a b"}, {strings.Repeat("x", 129)}, {"1", "2"}} {
		h.Del(HeaderJiraDelivery)
		for _, v := range id {
			h.Add(HeaderJiraDelivery, v)
		}
		d, err := jira.Verify(h, body, fixtureNow)
		require.NoError(t, err)
		assert.Equal(t, Delivery{ID: hashHex(mac), Derived: true, SignatureHash: hashHex(mac)}, d, "%q", id)
	}

	// Zendesk names the invocation, which its retries share.
	zd := exampleSource(t, "zendesk")
	zbody := fixture(t, "zendesk-created")
	zh := zd.Sign(zbody, fixtureNow)
	d, err = zd.Verify(zh, zbody, fixtureNow)
	require.NoError(t, err)
	assert.Equal(t, Delivery{ID: zh.Get(HeaderZendeskInvocation), SignatureHash: d.SignatureHash}, d)
	retry := zd.Sign(zbody, fixtureNow.Add(time.Minute))
	d2, err := zd.Verify(retry, zbody, fixtureNow.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, d.ID, d2.ID, "a retry is the same invocation")
	assert.NotEqual(t, d.SignatureHash, d2.SignatureHash, "signed anew")

	// Basic auth has no MAC: no signature hash, and without the configured
	// header an id derived from the body.
	sn := exampleSource(t, "servicenow")
	sbody := fixture(t, "servicenow-created")
	sh := sn.Sign(sbody, fixtureNow)
	d, err = sn.Verify(sh, sbody, fixtureNow)
	require.NoError(t, err)
	assert.Equal(t, Delivery{ID: sh.Get("X-SN-Delivery")}, d)
	sh.Del("X-SN-Delivery")
	d, err = sn.Verify(sh, sbody, fixtureNow)
	require.NoError(t, err)
	assert.Equal(t, Delivery{ID: hashHex(sbody), Derived: true}, d)
}

// TestSignMatchesVendors pins the headers each vendor sends, as Sign
// produces them for lockboxctl send-fixture.
func TestSignMatchesVendors(t *testing.T) {
	body := []byte(`{"a":1}`)
	c := exampleConfig(t)
	want := map[string][]string{
		"jira":            {"Content-Type", "User-Agent", "X-Hub-Signature", "X-Atlassian-Webhook-Identifier"},
		"github":          {"Content-Type", "User-Agent", "X-Github-Event", "X-Hub-Signature-256", "X-Github-Delivery"},
		"zendesk":         {"Content-Type", "X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp", "X-Zendesk-Webhook-Id", "X-Zendesk-Webhook-Invocation-Id"},
		"servicenow":      {"Content-Type", "Authorization", "X-Sn-Delivery"},
		"servicenow-hmac": {"Content-Type", "X-Sn-Signature", "X-Sn-Delivery"},
	}
	for _, name := range c.Names() {
		s, err := c.Source(name)
		require.NoError(t, err)
		h := s.Sign(body, fixtureNow)
		var keys []string
		for k := range h {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, want[name], keys, name)
		_, err = s.Verify(h, body, fixtureNow)
		require.NoError(t, err, name)
		assert.Equal(t, h, s.Sign(body, fixtureNow), "signing is deterministic")
	}
	zh := SignFixture(KindZendesk, "zendesk-fixture-secret-current-0001", body, fixtureNow.Add(123*time.Millisecond))
	assert.Equal(t, "2026-05-04T12:00:30Z", zh.Get(HeaderZendeskTimestamp))
	assert.Regexp(t, `^[0-9]{10}$`, zh.Get(HeaderZendeskInvocation))
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, SignFixture(KindGitHub, "github-fixture-secret-current-0001", body, fixtureNow).Get(HeaderGitHubDelivery))
}

// TestBase64IsCanonical: one MAC has one spelling, the padded standard
// alphabet.
func TestBase64IsCanonical(t *testing.T) {
	mac := make([]byte, sha256.Size)
	for i := range mac {
		mac[i] = 0xfb // encodes to '+' and '/' in the standard alphabet
	}
	_, err := decodeBase64MAC(base64.StdEncoding.EncodeToString(mac), "X")
	require.NoError(t, err)
	for _, v := range []string{
		base64.URLEncoding.EncodeToString(mac),
		base64.RawStdEncoding.EncodeToString(mac),
		" " + base64.StdEncoding.EncodeToString(mac),
		base64.StdEncoding.EncodeToString(mac[:31]),
		base64.StdEncoding.EncodeToString(append(mac, 0)),
	} {
		_, err := decodeBase64MAC(v, "X")
		requireKind(t, lockbox.KindUnauthorized, err)
	}
}

func TestVerifyWithoutKindIsInternal(t *testing.T) {
	_, err := (&Source{Name: "x"}).Verify(http.Header{}, nil, fixtureNow)
	requireKind(t, lockbox.KindInternal, err)
}
