package api_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

// attack is one security regression case: prepare state, then the call
// that must be refused with want (and code, when set) and change nothing.
type attack struct {
	name string
	prep func(e *apitest.Env) (api.Flow, handler.Request)
	want int
	code string
}

var (
	oldKey  = []byte("old-secret-0123456789abcdef")
	newKey  = []byte("new-secret-0123456789abcdef")
	rogue   = []byte("rogue-secret-0123456789abcdef")
	created = apitest.JSON(apitest.CreateInput("contoso", "eng-7"))
)

func serve(e *apitest.Env, flow api.Flow, req handler.Request) handler.Response {
	return e.Serve(flow, req)
}

// signedWith signs body with key at the env's clock.
func signedWith(e *apitest.Env, key []byte, body string) handler.Request {
	req := e.Signed(body)
	ts := e.Now.Unix()
	req.Header.Set(auth.HeaderSignature, auth.Sign(key, ts, []byte(body)))
	return req
}

func tokenWith(e *apitest.Env, key []byte, c jwt.Claims, method jwt.SigningMethod) string {
	tok, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		e.T.Fatal(err)
	}
	return tok
}

func claimsFor(e *apitest.Env, sub, tid string, roles ...string) auth.Claims {
	return auth.NewClaims(sub, tid, roles, e.Now, time.Hour)
}

func decide(id string) string { return `{"requestId":"` + id + `","reason":"ok"}` }

// rotate makes the verifier accept newKey and oldKey (a rotation in progress).
func rotate(e *apitest.Env) {
	e.Svc.Auth = auth.NewVerifier([][]byte{newKey, oldKey}, [][]byte{newKey, oldKey}, "", "", func() time.Time { return e.Now })
}

// revoke makes the verifier accept only newKey (the rotation finished).
func revoke(e *apitest.Env) {
	e.Svc.Auth = auth.NewVerifier([][]byte{newKey}, [][]byte{newKey}, "", "", func() time.Time { return e.Now })
}

func strictIssuer(e *apitest.Env) {
	e.Svc.Auth = auth.NewVerifier([][]byte{apitest.WebhookSecret}, [][]byte{apitest.JWTSecret}, "https://idp.contoso.example", "lockbox", func() time.Time { return e.Now })
}

func TestSecurityRegressions(t *testing.T) {
	cursorOf := func(e *apitest.Env, token, query string) string {
		for range 3 {
			e.File("contoso", "eng-7")
		}
		resp := serve(e, api.List, e.Get(token, query))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
		next := apitest.Decode[api.ListResponse](t, resp).NextCursor
		require.NotNil(t, next)
		return *next
	}
	reader := func(e *apitest.Env) string { return e.Token("rita", "contoso", lockbox.RoleReader) }
	approver := func(e *apitest.Env) string { return e.Token("alice", "contoso", lockbox.RoleApprover) }

	attacks := []attack{
		// Replays of signed deliveries.
		{"byte-identical delivery replayed", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			require.Equal(t, http.StatusCreated, serve(e, api.Create, req).StatusCode)
			return api.Create, req
		}, 401, "ReplayedRequest"},
		{"replay from a replica whose clock is 2 minutes behind, 10 minutes after a replica 2 minutes ahead took it", func(e *apitest.Env) (api.Flow, handler.Request) {
			// Real time (miniredis) stands at R; the first replica's clock
			// reads R+2m, and the delivery is signed for R+6m (4 minutes
			// ahead of that clock, inside the 5-minute window).
			real := e.Now
			ts := real.Add(6 * time.Minute)
			req := e.Signed(created)
			req.Header.Set(auth.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
			req.Header.Set(auth.HeaderSignature, auth.Sign(apitest.WebhookSecret, ts.Unix(), []byte(created)))
			e.Now = real.Add(2 * time.Minute)
			require.Equal(t, http.StatusCreated, serve(e, api.Create, req).StatusCode)
			// 10 minutes and a second later, a replica whose clock is 2
			// minutes behind still accepts the signature (it reads R+8m1s):
			// a replay memory of exactly 10 minutes would have forgotten it.
			e.Mini.FastForward(10*time.Minute + time.Second)
			e.Now = real.Add(8*time.Minute + time.Second)
			return api.Create, req
		}, 401, "ReplayedRequest"},
		{"replay with the signature's hex in upper case (found by fuzzing)", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			require.Equal(t, http.StatusCreated, serve(e, api.Create, req).StatusCode)
			again := e.Signed(created)
			again.Header.Set(auth.HeaderSignature, "sha256="+strings.ToUpper(strings.TrimPrefix(req.Header.Get(auth.HeaderSignature), "sha256=")))
			return api.Create, again
		}, 401, "Unauthorized"},
		{"replay four minutes later", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			require.Equal(t, http.StatusCreated, serve(e, api.Create, req).StatusCode)
			e.Advance(4 * time.Minute)
			return api.Create, req
		}, 401, "ReplayedRequest"},
		{"replay after the window", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			require.Equal(t, http.StatusCreated, serve(e, api.Create, req).StatusCode)
			e.Advance(6 * time.Minute)
			return api.Create, req
		}, 401, "Unauthorized"},
		{"captured signature on another body", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Body = []byte(strings.Replace(created, "eng-7", "eng-666", 1))
			return api.Create, req
		}, 401, "Unauthorized"},
		{"captured signature with a shifted timestamp", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Header.Set(auth.HeaderTimestamp, strconv.FormatInt(e.Now.Unix()+1, 10))
			return api.Create, req
		}, 401, "Unauthorized"},
		{"signed list query altered", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.SignedGet("tenantId=contoso")
			req.QueryString = "tenantId=contoso&status=Approved"
			return api.List, req
		}, 401, "Unauthorized"},

		// Rotated and revoked keys.
		{"webhook signed with a revoked key", func(e *apitest.Env) (api.Flow, handler.Request) {
			revoke(e)
			return api.Create, signedWith(e, oldKey, created)
		}, 401, "Unauthorized"},
		{"webhook signed with a key never configured", func(e *apitest.Env) (api.Flow, handler.Request) {
			rotate(e)
			return api.Create, signedWith(e, rogue, created)
		}, 401, "Unauthorized"},
		{"token signed with a revoked key", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			revoke(e)
			return api.Approve, e.Post(tokenWith(e, oldKey, claimsFor(e, "alice", "contoso", "lockbox.approver"), jwt.SigningMethodHS256), decide(r.RequestID))
		}, 401, "Unauthorized"},
		{"token signed with a key never configured", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			rotate(e)
			return api.Approve, e.Post(tokenWith(e, rogue, claimsFor(e, "alice", "contoso", "lockbox.approver"), jwt.SigningMethodHS256), decide(r.RequestID))
		}, 401, "Unauthorized"},

		// Algorithm confusion.
		{"alg none", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(e, "alice", "contoso", "lockbox.approver")).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return api.Approve, e.Post(tok, decide(r.RequestID))
		}, 401, "Unauthorized"},
		{"alg HS512 with the right secret", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(tokenWith(e, apitest.JWTSecret, claimsFor(e, "alice", "contoso", "lockbox.approver"), jwt.SigningMethodHS512), decide(r.RequestID))
		}, 401, "Unauthorized"},
		{"alg HS384 with the right secret", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, claimsFor(e, "rita", "contoso", "lockbox.reader"), jwt.SigningMethodHS384), "")
		}, 401, "Unauthorized"},
		{"header alg rewritten to none, HS256 signature kept", func(e *apitest.Env) (api.Flow, handler.Request) {
			parts := strings.Split(reader(e), ".")
			parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			return api.List, e.Get(strings.Join(parts, "."), "")
		}, 401, "Unauthorized"},
		{"payload edited, signature kept (tenant switched)", func(e *apitest.Env) (api.Flow, handler.Request) {
			parts := strings.Split(e.Token("mallory", "fabrikam", lockbox.RoleReader), ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "fabrikam", "contoso", 1)))
			return api.List, e.Get(strings.Join(parts, "."), "")
		}, 401, "Unauthorized"},

		// Issuer and audience.
		{"wrong issuer", func(e *apitest.Env) (api.Flow, handler.Request) {
			strictIssuer(e)
			c := claimsFor(e, "rita", "contoso", "lockbox.reader")
			c.Issuer, c.Audience = "https://evil.example", jwt.ClaimStrings{"lockbox"}
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},
		{"missing audience", func(e *apitest.Env) (api.Flow, handler.Request) {
			strictIssuer(e)
			c := claimsFor(e, "rita", "contoso", "lockbox.reader")
			c.Issuer = "https://idp.contoso.example"
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},
		{"audience of another service", func(e *apitest.Env) (api.Flow, handler.Request) {
			strictIssuer(e)
			c := claimsFor(e, "rita", "contoso", "lockbox.reader")
			c.Issuer, c.Audience = "https://idp.contoso.example", jwt.ClaimStrings{"billing"}
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},

		// Tokens for another tenant.
		{"another tenant's approver approves", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(e.Token("mallory", "fabrikam", lockbox.RoleApprover), decide(r.RequestID))
		}, 404, "NotFound"},
		{"another tenant's approver denies", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Deny, e.Post(e.Token("mallory", "fabrikam", lockbox.RoleApprover), decide(r.RequestID))
		}, 404, "NotFound"},
		{"another tenant's reader reads by id", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.List, e.Get(e.Token("mallory", "fabrikam", lockbox.RoleReader), "requestId="+r.RequestID)
		}, 404, "NotFound"},
		{"another tenant's reader names the tenant", func(e *apitest.Env) (api.Flow, handler.Request) {
			e.File("contoso", "eng-7")
			return api.List, e.Get(e.Token("mallory", "fabrikam", lockbox.RoleReader), "tenantId=contoso")
		}, 403, "Forbidden"},
		{"requester reads another engineer's request", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.List, e.Get(e.Token("eng-8", "provider", lockbox.RoleRequester), "tenantId=contoso&requestId="+r.RequestID)
		}, 404, "NotFound"},
		{"tenant claim with a trailing space", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, claimsFor(e, "rita", "contoso ", "lockbox.reader"), jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},
		{"tenant claim with a hash tag", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, claimsFor(e, "rita", "contoso}{x", "lockbox.reader"), jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},
		{"tenant claim as a number", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := jwt.MapClaims{"sub": "rita", "tid": 42, "roles": []string{"lockbox.reader"}, "exp": e.Now.Add(time.Hour).Unix()}
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},

		// Role escalation.
		{"reader approves", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(reader(e), decide(r.RequestID))
		}, 403, "Forbidden"},
		{"reader files", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.Create, e.Post(reader(e), created)
		}, 403, "Forbidden"},
		{"requester approves", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(e.Token("eng-8", "contoso", lockbox.RoleRequester), decide(r.RequestID))
		}, 403, "Forbidden"},
		{"requester who is also approver approves", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(e.Token("eng-8", "contoso", lockbox.RoleApprover, lockbox.RoleRequester), decide(r.RequestID))
		}, 403, "Forbidden"},
		{"requester files for someone else", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.Create, e.Post(e.Token("eng-8", "provider", lockbox.RoleRequester), created)
		}, 403, "Forbidden"},
		{"operator approves", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(e.Token("ops", "contoso", lockbox.RoleOperator), decide(r.RequestID))
		}, 403, "Forbidden"},
		{"role in upper case", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(tokenWith(e, apitest.JWTSecret, claimsFor(e, "alice", "contoso", "LOCKBOX.APPROVER"), jwt.SigningMethodHS256), decide(r.RequestID))
		}, 403, "Forbidden"},
		{"made-up admin role", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(tokenWith(e, apitest.JWTSecret, claimsFor(e, "alice", "contoso", "lockbox.admin", "admin"), jwt.SigningMethodHS256), decide(r.RequestID))
		}, 403, "Forbidden"},
		{"signed webhook approves", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Signed(decide(r.RequestID))
		}, 401, "Unauthorized"},
		{"approver approves their own request", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "alice")
			return api.Approve, e.Post(approver(e), decide(r.RequestID))
		}, 403, "SelfApproval"},
		{"approver denies their own request", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "alice")
			return api.Deny, e.Post(approver(e), decide(r.RequestID))
		}, 403, "SelfApproval"},
		{"token with no roles lists", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(e.Token("rita", "contoso"), "")
		}, 403, "Forbidden"},

		// Cursor tampering.
		{"cursor replayed by another tenant", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := cursorOf(e, reader(e), "limit=1")
			return api.List, e.Get(e.Token("mallory", "fabrikam", lockbox.RoleReader), "limit=1&cursor="+url.QueryEscape(c))
		}, 400, "InvalidRequest"},
		{"cursor forged for another tenant", func(e *apitest.Env) (api.Flow, handler.Request) {
			forged := base64.RawURLEncoding.EncodeToString([]byte("v1|contoso|||99"))
			return api.List, e.Get(e.Token("mallory", "fabrikam", lockbox.RoleReader), "cursor="+forged)
		}, 400, "InvalidRequest"},
		{"requester's cursor without the requester scope", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := cursorOf(e, e.Token("eng-7", "provider", lockbox.RoleRequester), "tenantId=contoso&limit=1")
			return api.List, e.Get(reader(e), "limit=1&cursor="+url.QueryEscape(c))
		}, 400, "InvalidRequest"},
		{"cursor for another status filter", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := cursorOf(e, reader(e), "limit=1")
			return api.List, e.Get(reader(e), "status=Approved&limit=1&cursor="+url.QueryEscape(c))
		}, 400, "InvalidRequest"},
		{"cursor with seq 0", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(reader(e), "cursor="+base64.RawURLEncoding.EncodeToString([]byte("v1|contoso|||0")))
		}, 400, "InvalidRequest"},
		{"cursor with a negative seq", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(reader(e), "cursor="+base64.RawURLEncoding.EncodeToString([]byte("v1|contoso|||-5")))
		}, 400, "InvalidRequest"},

		// Oversized and malformed headers.
		{"9 KB bearer token", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(strings.Repeat("a", 9000), "")
		}, 401, "Unauthorized"},
		{"10 KB signature header", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Header.Set(auth.HeaderSignature, "sha256="+strings.Repeat("a", 10240))
			return api.Create, req
		}, 401, "Unauthorized"},
		{"100-digit timestamp", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Header.Set(auth.HeaderTimestamp, strings.Repeat("9", 100))
			return api.Create, req
		}, 401, "Unauthorized"},
		{"negative timestamp", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Header.Set(auth.HeaderTimestamp, "-1")
			return api.Create, req
		}, 401, "Unauthorized"},
		{"300-character Idempotency-Key", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Header.Set(api.HeaderIdempotencyKey, strings.Repeat("k", 300))
			return api.Create, req
		}, 400, "InvalidRequest"},
		{"Idempotency-Key with a newline", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Header.Set(api.HeaderIdempotencyKey, "a\nb")
			return api.Create, req
		}, 400, "InvalidRequest"},
		{"signature and token together", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Signed(created)
			req.Header.Set("Authorization", "Bearer "+e.Token("ops", "provider", lockbox.RoleOperator))
			return api.Create, req
		}, 401, "Unauthorized"},
		{"empty bearer", func(e *apitest.Env) (api.Flow, handler.Request) {
			req := e.Get("", "")
			return api.List, req
		}, 401, "Unauthorized"},
		{"signed body over 64 KiB", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.Create, e.Signed(`{"justification":"` + strings.Repeat("j", 64<<10) + `"}`)
		}, 413, "PayloadTooLarge"},
		{"expired token", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(e.ExpiredToken("rita", "contoso", lockbox.RoleReader), "")
		}, 401, "Unauthorized"},
		{"token not valid for another hour", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := claimsFor(e, "rita", "contoso", "lockbox.reader")
			c.NotBefore = jwt.NewNumericDate(e.Now.Add(time.Hour))
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},
		{"subject with a space", func(e *apitest.Env) (api.Flow, handler.Request) {
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, claimsFor(e, "rita admin", "contoso", "lockbox.reader"), jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},

		// Identities in another spelling, and whoever filed.
		{"approver approves their own request spelt in upper case", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "eng-7")
			return api.Approve, e.Post(e.Token("ENG-7", "contoso", lockbox.RoleApprover), decide(r.RequestID))
		}, 403, "SelfApproval"},
		{"approver denies their own request spelt in another Unicode form", func(e *apitest.Env) (api.Flow, handler.Request) {
			r := e.File("contoso", "zoë") // NFC
			return api.Deny, e.Post(e.Token("ZOE\u0308", "contoso", lockbox.RoleApprover), decide(r.RequestID))
		}, 403, "SelfApproval"},
		{"operator who is also an approver approves what they filed", func(e *apitest.Env) (api.Flow, handler.Request) {
			olga := e.Token("olga", "contoso", lockbox.RoleOperator, lockbox.RoleApprover)
			resp := serve(e, api.Create, e.Post(e.Token("olga", "contoso", lockbox.RoleOperator), created))
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			return api.Approve, e.Post(olga, decide(apitest.Decode[lockbox.Request](t, resp).RequestID))
		}, 403, "Forbidden"},
		{"approver approves what they filed as an operator", func(e *apitest.Env) (api.Flow, handler.Request) {
			resp := serve(e, api.Create, e.Post(e.Token("olga", "contoso", lockbox.RoleOperator), created))
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			return api.Approve, e.Post(e.Token("Olga", "contoso", lockbox.RoleApprover), decide(apitest.Decode[lockbox.Request](t, resp).RequestID))
		}, 403, "SelfApproval"},

		// Token lifetimes.
		{"token valid for 100 years", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := claimsFor(e, "rita", "contoso", "lockbox.reader")
			c.ExpiresAt = jwt.NewNumericDate(e.Now.AddDate(100, 0, 0))
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},
		{"token without iat valid for two days", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := claimsFor(e, "rita", "contoso", "lockbox.reader")
			c.IssuedAt, c.ExpiresAt = nil, jwt.NewNumericDate(e.Now.Add(48*time.Hour))
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},
		{"token issued in the future", func(e *apitest.Env) (api.Flow, handler.Request) {
			c := claimsFor(e, "rita", "contoso", "lockbox.reader")
			c.IssuedAt = jwt.NewNumericDate(e.Now.Add(time.Hour))
			return api.List, e.Get(tokenWith(e, apitest.JWTSecret, c, jwt.SigningMethodHS256), "")
		}, 401, "Unauthorized"},

		// Idempotency keys.
		{"Idempotency-Key reused with another body", func(e *apitest.Env) (api.Flow, handler.Request) {
			first := e.Signed(created)
			first.Header.Set(api.HeaderIdempotencyKey, "INC-1001-1")
			require.Equal(t, http.StatusCreated, serve(e, api.Create, first).StatusCode)
			e.Advance(time.Second)
			other := e.Signed(strings.Replace(created, "disk latency", "disk errors", 1))
			other.Header.Set(api.HeaderIdempotencyKey, "INC-1001-1")
			return api.Create, other
		}, 409, "IdempotencyKeyReused"},

		// Usage caps.
		{"engineer's pending cap", func(e *apitest.Env) (api.Flow, handler.Request) {
			e.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 100, MaxPendingPerRequester: 2, MaxActiveGrantsPerRequester: 5}
			e.File("contoso", "eng-7")
			e.File("contoso", "eng-7")
			return api.Create, e.Signed(created)
		}, 429, "TooManyRequests"},
		{"tenant's pending cap", func(e *apitest.Env) (api.Flow, handler.Request) {
			e.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 2, MaxPendingPerRequester: 100, MaxActiveGrantsPerRequester: 5}
			e.File("contoso", "eng-1")
			e.File("contoso", "eng-2")
			return api.Create, e.Signed(created)
		}, 429, "TooManyRequests"},
		{"engineer's grant cap on filing", func(e *apitest.Env) (api.Flow, handler.Request) {
			e.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 100, MaxPendingPerRequester: 100, MaxActiveGrantsPerRequester: 1}
			r := e.File("contoso", "eng-7")
			require.Equal(t, http.StatusOK, serve(e, api.Approve, e.Post(approver(e), decide(r.RequestID))).StatusCode)
			return api.Create, e.Post(e.Token("eng-7", "provider", lockbox.RoleRequester), created)
		}, 429, "TooManyRequests"},
		{"engineer's grant cap on approving", func(e *apitest.Env) (api.Flow, handler.Request) {
			e.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 100, MaxPendingPerRequester: 100, MaxActiveGrantsPerRequester: 1}
			first, second := e.File("contoso", "eng-7"), e.File("contoso", "eng-7")
			require.Equal(t, http.StatusOK, serve(e, api.Approve, e.Post(approver(e), decide(first.RequestID))).StatusCode)
			return api.Approve, e.Post(approver(e), decide(second.RequestID))
		}, 429, "TooManyRequests"},
	}

	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e := apitest.New(t)
			flow, req := a.prep(e)
			before := e.Snapshot()
			resp := serve(e, flow, req)
			assert.Equal(t, a.want, resp.StatusCode, string(resp.Body))
			if resp.StatusCode >= 400 {
				assert.Equal(t, a.code, apitest.ErrorOf(t, resp).Code)
			}
			assert.Equal(t, before, e.Snapshot(), "the refused call changed Redis")
			if a.want == http.StatusTooManyRequests {
				secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				assert.NoError(t, err, "Retry-After")
				assert.Positive(t, secs)
			}
		})
	}
	assert.GreaterOrEqual(t, len(attacks), 60)
}

// Legitimate calls the defences must not break.
func TestSecurityStillAllows(t *testing.T) {
	t.Run("a retry with a fresh signature and the same key gets the original", func(t *testing.T) {
		e := apitest.New(t)
		first := e.Signed(created)
		first.Header.Set(api.HeaderIdempotencyKey, "INC-1001-1")
		r1 := serve(e, api.Create, first)
		require.Equal(t, http.StatusCreated, r1.StatusCode)
		e.Advance(time.Second)
		retry := e.Signed(created)
		retry.Header.Set(api.HeaderIdempotencyKey, "INC-1001-1")
		r2 := serve(e, api.Create, retry)
		require.Equal(t, http.StatusOK, r2.StatusCode, string(r2.Body))
		assert.Equal(t, apitest.Decode[lockbox.Request](t, r1).RequestID, apitest.Decode[lockbox.Request](t, r2).RequestID)
	})
	t.Run("a byte-identical retried delivery with its key gets the original", func(t *testing.T) {
		e := apitest.New(t)
		req := e.Signed(created)
		req.Header.Set(api.HeaderIdempotencyKey, "INC-1001-1")
		r1 := serve(e, api.Create, req)
		require.Equal(t, http.StatusCreated, r1.StatusCode)
		before := e.SnapshotWithoutReplayMarkers()
		r2 := serve(e, api.Create, req) // the same headers, signature and body
		require.Equal(t, http.StatusOK, r2.StatusCode, string(r2.Body))
		assert.Equal(t, apitest.Decode[lockbox.Request](t, r1).RequestID, apitest.Decode[lockbox.Request](t, r2).RequestID)
		assert.Equal(t, before, e.SnapshotWithoutReplayMarkers(), "nothing filed twice")
	})
	t.Run("an Idempotency-Key clash never names the request filed under the key", func(t *testing.T) {
		e := apitest.New(t)
		first := e.Signed(created)
		first.Header.Set(api.HeaderIdempotencyKey, "INC-1001-1")
		id := apitest.Decode[lockbox.Request](t, serve(e, api.Create, first)).RequestID
		e.Advance(time.Second)
		other := e.Signed(strings.Replace(created, "disk latency", "disk errors", 1))
		other.Header.Set(api.HeaderIdempotencyKey, "INC-1001-1")
		resp := serve(e, api.Create, other)
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		assert.NotContains(t, string(resp.Body), id)
	})
	t.Run("an Idempotency-Key of another tenant or another caller is another key", func(t *testing.T) {
		e := apitest.New(t)
		first := e.Signed(created)
		first.Header.Set(api.HeaderIdempotencyKey, "K-1")
		require.Equal(t, http.StatusCreated, serve(e, api.Create, first).StatusCode)
		e.Advance(time.Second)
		elsewhere := e.Signed(apitest.JSON(apitest.CreateInput("fabrikam", "eng-7")))
		elsewhere.Header.Set(api.HeaderIdempotencyKey, "K-1")
		resp := serve(e, api.Create, elsewhere)
		assert.Equal(t, http.StatusCreated, resp.StatusCode, "another tenant: %s", resp.Body)
		mine := e.Post(e.Token("eng-7", "provider", lockbox.RoleRequester), strings.Replace(created, "disk latency", "disk errors", 1))
		mine.Header.Set(api.HeaderIdempotencyKey, "K-1")
		resp = serve(e, api.Create, mine)
		assert.Equal(t, http.StatusCreated, resp.StatusCode, "another caller in the same tenant: %s", resp.Body)
	})
	t.Run("one engineer at their pending cap leaves room for the others", func(t *testing.T) {
		e := apitest.New(t)
		e.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 100, MaxPendingPerRequester: 1, MaxActiveGrantsPerRequester: 5}
		e.File("contoso", "eng-7")
		resp := serve(e, api.Create, e.Signed(created))
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Contains(t, apitest.ErrorOf(t, resp).Message, "engineer")
		assert.Equal(t, http.StatusCreated, serve(e, api.Create, e.Signed(apitest.JSON(apitest.CreateInput("contoso", "eng-8")))).StatusCode)
	})
	t.Run("during a rotation both keys work", func(t *testing.T) {
		e := apitest.New(t)
		rotate(e)
		assert.Equal(t, http.StatusCreated, serve(e, api.Create, signedWith(e, oldKey, created)).StatusCode)
		e.Advance(time.Second)
		assert.Equal(t, http.StatusCreated, serve(e, api.Create, signedWith(e, newKey, created)).StatusCode)
		tok := tokenWith(e, oldKey, claimsFor(e, "rita", "contoso", "lockbox.reader"), jwt.SigningMethodHS256)
		assert.Equal(t, http.StatusOK, serve(e, api.List, e.Get(tok, "")).StatusCode)
	})
	t.Run("a cap frees up when a grant ends", func(t *testing.T) {
		e := apitest.New(t)
		e.Store.Caps = redisstore.Caps{MaxPendingPerTenant: 100, MaxPendingPerRequester: 100, MaxActiveGrantsPerRequester: 1}
		r := e.File("contoso", "eng-7")
		alice := e.Token("alice", "contoso", lockbox.RoleApprover)
		require.Equal(t, http.StatusOK, serve(e, api.Approve, e.Post(alice, decide(r.RequestID))).StatusCode)
		eng7 := e.Token("eng-7", "provider", lockbox.RoleRequester)
		resp := serve(e, api.Create, e.Post(eng7, created))
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, strconv.Itoa(8*3600), resp.Header.Get("Retry-After"), "until the 8-hour grant ends")
		e.Advance(8 * time.Hour)
		resp = serve(e, api.Create, e.Post(e.Token("eng-7", "provider", lockbox.RoleRequester), created))
		require.Equal(t, http.StatusCreated, resp.StatusCode, "the ended grant is not counted before the sweep settles it")
		second := apitest.Decode[lockbox.Request](t, resp).RequestID
		e.Advance(time.Hour)
		require.Equal(t, http.StatusOK, serve(e, api.Approve, e.Post(e.Token("alice", "contoso", lockbox.RoleApprover), decide(second))).StatusCode)
		resp = serve(e, api.Create, e.Post(e.Token("eng-7", "provider", lockbox.RoleRequester), created))
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, strconv.Itoa(8*3600), resp.Header.Get("Retry-After"), "until the live grant ends, not the ended one")
	})
}
