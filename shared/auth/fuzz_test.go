package auth_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

// FuzzSignatureHeader: whatever the headers and body, a delivery is accepted
// only with the exact signature of that body and timestamp.
func FuzzSignatureHeader(f *testing.F) {
	body := `{"tenantId":"contoso"}`
	ts := strconv.FormatInt(now.Unix(), 10)
	f.Add(ts, auth.Sign(webhookSecret, now.Unix(), []byte(body)), body)
	f.Add(ts, "sha256=00", body)
	f.Add("-1", "sha256=", "")
	f.Add("99999999999999999999", "sha1=abc", body)
	f.Add(ts+" ", "SHA256="+auth.Sign(webhookSecret, now.Unix(), []byte(body))[7:], body)
	v := verifier()
	f.Fuzz(func(t *testing.T, timestamp, signature, payload string) {
		h := http.Header{}
		h.Set(auth.HeaderTimestamp, timestamp)
		h.Set(auth.HeaderSignature, signature)
		p, err := v.Authenticate(h, []byte(payload), lockbox.KindService)
		if err != nil {
			if lockbox.KindOf(err) != lockbox.KindUnauthorized {
				t.Fatalf("got %v, want 401", err)
			}
			return
		}
		n, perr := strconv.ParseInt(h.Get(auth.HeaderTimestamp), 10, 64)
		if perr != nil || h.Get(auth.HeaderSignature) != auth.Sign(webhookSecret, n, []byte(payload)) || p.Kind != lockbox.KindService {
			t.Fatalf("accepted a delivery that is not correctly signed: %q %q", timestamp, signature)
		}
	})
}

// FuzzBearerToken: whatever the token, it is refused with a 401 or it is an
// HS256 token signed with the configured secret, unexpired, and the
// principal is the one its claims name (checkAcceptedToken).
func FuzzBearerToken(f *testing.F) {
	tok, _ := auth.Mint(jwtSecret, auth.NewClaims("alice", "contoso", []string{"lockbox.approver"}, now, 3600e9))
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Add(tok[:len(tok)-2])
	v := verifier()
	authenticate := func(token string) (lockbox.Principal, error) {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		return v.Authenticate(h, nil, lockbox.KindUser)
	}
	f.Fuzz(func(t *testing.T, token string) {
		checkAcceptedToken(t, token, authenticate)
	})
}

// checkAcceptedToken runs token through authenticate. A refusal must be a
// 401. An accepted token must verify on its own (golang-jwt, HS256 alone,
// with the test's secret, exp required, at the test's time), and the
// principal must carry the token's sub and tid claims. It reports with
// t.Errorf only, so that a recorder can run it against a planted defect.
func checkAcceptedToken(t testing.TB, token string, authenticate func(string) (lockbox.Principal, error)) {
	t.Helper()
	p, err := authenticate(token)
	if err != nil {
		if lockbox.KindOf(err) != lockbox.KindUnauthorized {
			t.Errorf("got %v, want 401", err)
		}
		return
	}
	claims := jwt.MapClaims{}
	_, err = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(auth.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now })).
		ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return jwtSecret, nil })
	if err != nil {
		t.Errorf("accepted a token that does not verify (%v): %q", err, token)
		return
	}
	sub, _ := claims.GetSubject()
	tid, _ := claims["tid"].(string)
	if p.Kind != lockbox.KindUser || p.Subject != sub || p.TenantID != tid {
		t.Errorf("accepted a token as %+v, but it names sub %q in tid %q", p, sub, tid)
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// checkAcceptedToken catches each planted defect of a token check, on a
// token that shows it, and the real verifier passes the same token.
func TestCheckAcceptedTokenCatchesPlantedDefects(t *testing.T) {
	c := auth.NewClaims("alice", "contoso", []string{"lockbox.approver"}, now, time.Hour)
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	otherKey, err := auth.Mint([]byte("another-secret-0123456789"), c)
	require.NoError(t, err)
	expired, err := auth.Mint(jwtSecret, auth.NewClaims("alice", "contoso", nil, now.Add(-3*time.Hour), time.Hour))
	require.NoError(t, err)
	good, err := auth.Mint(jwtSecret, c)
	require.NoError(t, err)
	// claimsOf is a check that reads the claims and verifies nothing.
	claimsOf := func(token string) (jwt.MapClaims, error) {
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(token, claims)
		return claims, err
	}
	unverified := func(token string) (lockbox.Principal, error) {
		claims, err := claimsOf(token)
		if err != nil {
			return lockbox.Principal{}, lockbox.Unauthorizedf("malformed")
		}
		sub, _ := claims.GetSubject()
		return lockbox.UserFromClaims(sub, claims, "tid", "roles")
	}
	v := verifier()
	genuine := func(token string) (lockbox.Principal, error) {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		return v.Authenticate(h, nil, lockbox.KindUser)
	}
	cases := []struct {
		name, token string
		planted     func(string) (lockbox.Principal, error)
	}{
		{"alg none accepted", unsigned, unverified},
		{"another key's signature accepted", otherKey, unverified},
		{"expiry not checked", expired, unverified},
		{"principal from another claim", good, func(token string) (lockbox.Principal, error) {
			p, err := genuine(token)
			p.TenantID = "fabrikam"
			return p, err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkAcceptedToken(t, c.token, genuine)
			r := &recorder{TB: t}
			checkAcceptedToken(r, c.token, c.planted)
			if len(r.failures) == 0 {
				t.Fatalf("the planted defect went unnoticed on %q", c.token)
			}
		})
	}
}
