package auth_test

import (
	"net/http"
	"strconv"
	"testing"

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

// FuzzBearerToken: whatever the token, it is refused with a 401 or yields a
// principal with a valid subject and tenant.
func FuzzBearerToken(f *testing.F) {
	tok, _ := auth.Mint(jwtSecret, auth.NewClaims("alice", "contoso", []string{"lockbox.approver"}, now, 3600e9))
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Add(tok[:len(tok)-2])
	v := verifier()
	f.Fuzz(func(t *testing.T, token string) {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		p, err := v.Authenticate(h, nil, lockbox.KindUser)
		if err != nil {
			if lockbox.KindOf(err) != lockbox.KindUnauthorized {
				t.Fatalf("got %v, want 401", err)
			}
			return
		}
		if !lockbox.ValidRequesterID(p.Subject) || !lockbox.ValidTenantID(p.TenantID) {
			t.Fatalf("accepted a principal with invalid identity: %+v", p)
		}
	})
}
