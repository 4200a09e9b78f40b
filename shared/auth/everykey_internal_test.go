package auth

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"lockbox.dev/shared/lockbox"
)

// matcher is how a Verifier finds the configured key that gives a MAC (its
// match field).
type matcher = func(keys [][]byte, want []byte, macOf func(key []byte) []byte) int

// keyKinds are the two kinds of configured HMAC keys: a verifier with the
// keys of one kind, and a credential signed with one key.
var keyKinds = []struct {
	name     string
	verifier func(keys [][]byte, now time.Time) *Verifier
	signed   func(key []byte, now time.Time) (http.Header, []byte, lockbox.PrincipalKind, error)
}{
	{
		"webhook secret",
		func(keys [][]byte, now time.Time) *Verifier {
			return NewVerifier(keys, nil, "", "", func() time.Time { return now })
		},
		func(key []byte, now time.Time) (http.Header, []byte, lockbox.PrincipalKind, error) {
			body := []byte(`{"tenantId":"contoso"}`)
			h := http.Header{}
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			h.Set(HeaderSignature, Sign(key, now.Unix(), body))
			return h, body, lockbox.KindService, nil
		},
	},
	{
		"HS256 token secret",
		func(keys [][]byte, now time.Time) *Verifier {
			return NewVerifier(nil, keys, "", "", func() time.Time { return now })
		},
		func(key []byte, now time.Time) (http.Header, []byte, lockbox.PrincipalKind, error) {
			tok, err := Mint(key, NewClaims("alice", "contoso", []string{"lockbox.approver"}, now, time.Hour))
			h := http.Header{}
			h.Set("Authorization", "Bearer "+tok)
			return h, nil, lockbox.KindUser, err
		},
	},
}

// checkEveryKeyTried fails t unless a verifier that finds keys with match
// tries every configured key whatever matches, for webhook secrets and HS256
// secrets alike: with one to four keys (a secret file's lines), a credential
// signed with the key at each position is accepted after the MAC of every
// key was computed and the one at that position found; one signed with a
// key not configured (a wrong key at every position) is refused after the
// MAC of every key was computed. It reports with t.Errorf only, so that a
// recorder can run it against a planted defect.
func checkEveryKeyTried(t testing.TB, match matcher) {
	t.Helper()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	wrong := []byte("never-configured-0123456789")
	for _, kind := range keyKinds {
		for n := 1; n <= 4; n++ {
			keys := make([][]byte, n)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "%s-line-%d-0123456789abcdef", kind.name, i)
			}
			for right := -1; right < n; right++ {
				signer, what := wrong, "a key not configured"
				if right >= 0 {
					signer, what = keys[right], fmt.Sprintf("line %d", right+1)
				}
				desc := fmt.Sprintf("%s, %d lines, signed with %s", kind.name, n, what)
				v := kind.verifier(keys, now)
				calls, tried, found := 0, make([]bool, n), -2
				v.match = func(ks [][]byte, want []byte, macOf func([]byte) []byte) int {
					calls++
					found = match(ks, want, func(k []byte) []byte {
						for i := range keys {
							if bytes.Equal(k, keys[i]) {
								tried[i] = true
							}
						}
						return macOf(k)
					})
					return found
				}
				h, payload, accept, err := kind.signed(signer, now)
				if err != nil {
					t.Errorf("%s: %v", desc, err)
					return
				}
				_, err = v.Authenticate(h, payload, accept)
				switch {
				case calls != 1:
					t.Errorf("%s: the keys were looked up %d times, want once", desc, calls)
				case right >= 0 && err != nil:
					t.Errorf("%s: refused: %v", desc, err)
				case right < 0 && lockbox.KindOf(err) != lockbox.KindUnauthorized:
					t.Errorf("%s: got %v, want 401", desc, err)
				case found != right:
					t.Errorf("%s: found the key at index %d, want %d", desc, found, right)
				}
				for i, ok := range tried {
					if !ok {
						t.Errorf("%s: line %d was never tried", desc, i+1)
					}
				}
			}
		}
	}
}

// Every configured key is tried whatever matches (docs/SECURITY.md, row 1).
func TestEveryKeyTried(t *testing.T) {
	checkEveryKeyTried(t, everyKey)
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// checkEveryKeyTried catches each way of not trying every key.
func TestEveryKeyTriedCatchesPlantedDefects(t *testing.T) {
	planted := map[string]matcher{
		"returns at the first match": func(keys [][]byte, want []byte, macOf func([]byte) []byte) int {
			for i, k := range keys {
				if bytes.Equal(want, macOf(k)) {
					return i
				}
			}
			return -1
		},
		"tries the first line only": func(keys [][]byte, want []byte, macOf func([]byte) []byte) int {
			if len(keys) > 0 && bytes.Equal(want, macOf(keys[0])) {
				return 0
			}
			return -1
		},
		"stops computing once a key matched": func(keys [][]byte, want []byte, macOf func([]byte) []byte) int {
			found := -1
			for i, k := range keys {
				if found < 0 && bytes.Equal(want, macOf(k)) {
					found = i
				}
			}
			return found
		},
	}
	for name, match := range planted {
		r := &recorder{TB: t}
		checkEveryKeyTried(r, match)
		if len(r.failures) == 0 {
			t.Errorf("planted defect %q went unnoticed", name)
		}
	}
}
