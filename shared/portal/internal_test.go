package portal

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
)

func TestTimeLeft(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                   "none",
		0:                              "none",
		30 * time.Second:               "less than a minute",
		time.Minute:                    "1 minute",
		59 * time.Minute:               "59 minutes",
		time.Hour:                      "1 hour",
		2*time.Hour + time.Minute:      "2 hours 1 minute",
		96 * time.Hour:                 "4 days",
		25*time.Hour + 59*time.Minute:  "1 day 1 hour",
		95*time.Hour + 59*time.Minute:  "3 days 23 hours",
		8*time.Hour - time.Millisecond: "7 hours 59 minutes",
	} {
		assert.Equal(t, want, timeLeft(d), "%s", d)
	}
}

func TestTokens(t *testing.T) {
	for range 100 {
		tok := randomToken()
		require.True(t, validToken(tok), tok)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("A", 42), strings.Repeat("A", 44), strings.Repeat("+", 43), strings.Repeat("A", 42) + "B",
		strings.Repeat("A", 42) + "=", strings.Repeat("é", 21) + "A"} {
		assert.False(t, validToken(bad), bad)
	}
	assert.NotEqual(t, sessionKey("a"), sessionKey("b"))
	assert.False(t, sameToken("", ""), "an empty token never matches")
	assert.True(t, sameToken("x", "x"))
	assert.False(t, sameToken("x", "y"))
}

func TestCaseLink(t *testing.T) {
	for raw, want := range map[string]string{
		"https://support.example/INC-1": "https://support.example/INC-1",
		"http://support.example/INC-1":  "http://support.example/INC-1",
		"javascript:alert(1)":           "",
		"data:text/html,<script>":       "",
		"//evil.example/x":              "",
		"https:///nohost":               "",
		"":                              "",
		"ftp://files.example/x":         "",
	} {
		assert.Equal(t, want, caseLink(raw), raw)
	}
}

func TestCell(t *testing.T) {
	for v, want := range map[string]string{"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "\rx": "'\rx", "ok": "ok", "": ""} {
		assert.Equal(t, want, cell(v), "%q", v)
	}
}

func TestCleanPath(t *testing.T) {
	for p, want := range map[string]bool{"/": true, "/requests/x": true, "": false, "x": false, "//": false, "/a/": false, "/a/../b": false,
		"/./a": false, "/" + strings.Repeat("a", 600): false} {
		assert.Equal(t, want, cleanPath(p), p)
	}
}

// An ID token's claims are read as the API reads a bearer token's.
func TestUserFromClaims(t *testing.T) {
	pr, err := lockbox.UserFromClaims("alice", map[string]any{"tid": "contoso", "roles": []any{"lockbox.approver", "admin", 3, "lockbox.reader", "lockbox.approver"}}, "tid", "roles")
	require.NoError(t, err)
	assert.Equal(t, lockbox.Principal{Kind: lockbox.KindUser, Subject: "alice", TenantID: "contoso",
		Roles: []lockbox.Role{lockbox.RoleApprover, lockbox.RoleReader}}, pr, "unknown roles dropped, each role once")
	pr, err = lockbox.UserFromClaims("alice", map[string]any{"org": "contoso", "groups": "lockbox.admin other"}, "org", "groups")
	require.NoError(t, err)
	assert.Equal(t, []lockbox.Role{lockbox.RoleAdmin}, pr.Roles, "a space-separated string is a list")
	for _, bad := range []struct {
		sub    string
		claims map[string]any
	}{
		{"", map[string]any{"tid": "contoso"}},
		{"has space", map[string]any{"tid": "contoso"}},
		{strings.Repeat("a", 129), map[string]any{"tid": "contoso"}},
		{"alice", map[string]any{}},
		{"alice", map[string]any{"tid": 7}},
		{"alice", map[string]any{"tid": "con toso"}},
	} {
		_, err := lockbox.UserFromClaims(bad.sub, bad.claims, "tid", "roles")
		assert.Equal(t, lockbox.KindUnauthorized, lockbox.KindOf(err), "%q %v", bad.sub, bad.claims)
	}
}

func TestTokenExpiry(t *testing.T) {
	// {"alg":"HS256"}.{"sub":"a","exp":1795770000}.sig
	assert.Equal(t, time.Unix(1795770000, 0), tokenExpiry("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIiwiZXhwIjoxNzk1NzcwMDAwfQ.c2ln"))
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.bm90IGpzb24.c", "a.eyJleHAiOiJzb29uIn0.c", "a.eyJleHAiOi0xfQ.c"} {
		assert.True(t, tokenExpiry(bad).IsZero(), bad)
	}
}

// A sealed value opens with the key that sealed it among others (a
// rotation: the new key first), for the same purpose only; altered, cut,
// or under keys that do not include its own, it does not.
func TestSeal(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	v, err := seal(oldKey, "state", []byte("hello"))
	require.NoError(t, err)
	assert.NotContains(t, v, "hello")
	again, err := seal(oldKey, "state", []byte("hello"))
	require.NoError(t, err)
	assert.NotEqual(t, v, again, "a random nonce each time")

	got, err := unseal([][]byte{newKey, oldKey}, "state", v)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
	for name, bad := range map[string]struct {
		keys    [][]byte
		purpose string
		value   string
	}{
		"key removed":     {[][]byte{newKey}, "state", v},
		"another purpose": {[][]byte{oldKey}, "session", v},
		"altered":         {[][]byte{oldKey}, "state", v[:10] + string(v[10]^1) + v[11:]},
		"cut":             {[][]byte{oldKey}, "state", v[:len(v)-1]},
		"empty":           {[][]byte{oldKey}, "state", ""},
		"not base64url":   {[][]byte{oldKey}, "state", v[:10] + "+" + v[11:]},
	} {
		_, err := unseal(bad.keys, bad.purpose, bad.value)
		assert.ErrorIs(t, err, errUnsealed, name)
	}
	_, err = seal([]byte("short"), "state", nil)
	assert.Error(t, err)

	// A session's credential is sealed under a key derived from its id.
	s := &session{id: randomToken(), Via: viaToken}
	require.NoError(t, s.sealCred("tok"))
	cred, err := s.openCred()
	require.NoError(t, err)
	assert.Equal(t, "tok", cred)
	other := &session{id: randomToken(), Via: viaToken, Cred: s.Cred}
	_, err = other.openCred()
	assert.ErrorIs(t, err, errUnsealed, "another session's id does not open it")
	s.Via = viaOIDC
	_, err = s.openCred()
	assert.ErrorIs(t, err, errUnsealed, "a token is not a refresh token")
}

// returnPath keeps the portal's own pages and nothing else.
func TestReturnPath(t *testing.T) {
	const id = "c6ecd88c-2c0f-454c-b149-cfc611ad5c66"
	for raw, want := range map[string]string{
		"":                             "",
		"/":                            "/",
		"/requests":                    "/requests",
		"/requests/" + id:              "/requests/" + id,
		"/requests?status=Pending":     "/requests?status=Pending",
		"/activity?type=approved&q=x":  "/activity?type=approved&q=x",
		"/settings":                    "/settings",
		"//evil.example":               "",
		"///evil.example":              "",
		`/\evil.example`:               "",
		`\\evil.example`:               "",
		"https://evil.example/":        "",
		"HTTPS://evil.example/":        "",
		"http:evil.example":            "",
		"javascript:alert(1)":          "",
		"data:text/html,x":             "",
		"%2F%2Fevil.example":           "",
		"/%2F%2Fevil.example":          "",
		"/%2fevil.example":             "",
		"/%5cevil.example":             "",
		"/%09/evil.example":            "",
		"/\t/evil.example":             "",
		"/requests\r\nLocation: //x":   "",
		"/requests#//evil.example":     "",
		"/requests?next=%2F%2Fevil":    "",
		"/requests?a=1?b":              "",
		"/requests?a=%zz":              "",
		"/requests/../login":           "",
		"/requests/./" + id:            "",
		"/requests/":                   "",
		"/requests/x y":                "",
		"/requests/" + id + "/x":       "",
		"/login":                       "",
		"/logout":                      "",
		"/oidc/login":                  "",
		"/oidc/callback":               "",
		"/activity.csv":                "",
		"/static/portal.css":           "",
		"evil.example":                 "",
		" /requests":                   "",
		"/" + strings.Repeat("a", 300): "",
	} {
		assert.Equal(t, want, returnPath(raw), "%q", raw)
	}
	assert.Equal(t, "/login?m=expired&next=%2Frequests%2F"+id, loginWith("expired", "/requests/"+id))
	assert.Equal(t, "/login", loginWith("", "/"))
	assert.Equal(t, "/login", loginWith("", "//evil.example"))
}
