// Package apitest builds what the functions' handler tests need: real
// dependencies over miniredis, real webhook signatures and real tokens, and
// a snapshot of Redis to prove that a refused call changed nothing.
package apitest

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auditjob"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/netguard"
	"lockbox.dev/shared/passkey"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisstore"
	"lockbox.dev/shared/usecase"
)

// The secrets of the test environment: random letters, so that a log line
// holding any eight characters of one has leaked it (none is a run of the
// words a log line says, such as the names of the secret files).
var (
	WebhookSecret = []byte("Wq7Tz2Lr9Xm4Kc8Vb1Np6Hs3Jd5Fg0Ya")
	JWTSecret     = []byte("jR5uE8oN2wQ7yT4iP1aS6dF9gH3kL0zX")
)

// Env is one test's Lockbox: miniredis, the store and the service handed to
// the function under test.
type Env struct {
	T     testing.TB
	Mini  *miniredis.Miniredis
	Redis *redis.Client
	Store *redisstore.Store
	// Cases are the use cases every transport calls; Svc the API
	// functions' service on them.
	Cases *usecase.Service
	Svc   *api.Service
	Now   time.Time
}

// New returns a fresh environment whose clock stands at a fixed instant;
// Advance moves it together with miniredis's TTLs.
func New(t testing.TB) *Env {
	t.Helper()
	m := miniredis.RunT(t)
	opt := &redis.Options{Addr: m.Addr()}
	redisclient.Tune(opt)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	e := &Env{T: t, Mini: m, Redis: rdb, Now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	e.Store = redisstore.New(rdb, lockbox.DefaultLimits)
	e.Cases = &usecase.Service{
		Store:         e.Store,
		SettingsStore: e.Store,
		Lockdowns:     e.Store,
		Emergencies:   e.Store,
		DeliveryLog:   e.Store,
		Marks:         e.Store,
		Passkeys:      e.Store,
		RP:            PasskeyRP,
		URLs:          netguard.Guard{},
		Now:           func() time.Time { return e.Now },
		Log:           discardLogger(),
	}
	e.Svc = &api.Service{
		Cases: e.Cases,
		Auth:  auth.NewVerifier([][]byte{WebhookSecret}, [][]byte{JWTSecret}, "", "", func() time.Time { return e.Now }),
	}
	return e
}

// PasskeyRP is the passkey relying party of the test environment: the
// portal at PasskeyOrigin.
var PasskeyRP = func() *passkey.RP {
	rp, err := passkey.New("portal.example", []string{PasskeyOrigin})
	if err != nil {
		panic(err)
	}
	return rp
}()

// PasskeyOrigin is the origin of the test environment's portal.
const PasskeyOrigin = "https://portal.example" // #nosec G101 -- an origin, not a credential

// AuditKey signs the audit checkpoints of the test environment;
// AuditPublicKey verifies them.
var (
	AuditKey       = ed25519.NewKeyFromSeed([]byte("lockbox-test-audit-signing-key!!"))
	AuditPublicKey = AuditKey.Public().(ed25519.PublicKey)
)

// Audit returns lockbox-audit's handler on the environment's store and
// clock, exporting to bucket in batches of batch events.
func (e *Env) Audit(bucket audit.ObjectStore, batch int) *auditjob.Handler {
	exp := audit.NewExporter(e.Store, bucket, AuditKey)
	exp.Batch = batch
	exp.Now = func() time.Time { return e.Now }
	job := &auditjob.Job{Store: e.Store, Exporter: exp, Now: func() time.Time { return e.Now }, Log: discardLogger()}
	return &auditjob.Handler{Job: job, Auth: e.Svc.Auth}
}

// Lazy returns the environment's service for a function's svc variable.
func (e *Env) Lazy() *app.Lazy[*api.Service] { return app.Fixed(e.Svc) }

// Serve calls flow as a function would, failing the test if the call is
// answered with an error (the template would answer a bare 500).
func (e *Env) Serve(flow api.Flow, req handler.Request) handler.Response {
	resp, err := httpapi.Serve(e.Lazy().Get, req, flow)
	if err != nil {
		e.T.Fatalf("Serve returned an error: %v", err)
	}
	return resp
}

// Advance moves the clock and miniredis's TTLs by d.
func (e *Env) Advance(d time.Duration) {
	e.Now = e.Now.Add(d)
	e.Mini.FastForward(d)
}

// Signed returns a JSON POST carrying body signed with the webhook secret.
func (e *Env) Signed(body string) handler.Request {
	h := http.Header{"Content-Type": {"application/json"}}
	ts := e.Now.Unix()
	h.Set(auth.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(auth.HeaderSignature, auth.Sign(WebhookSecret, ts, []byte(body)))
	return handler.Request{Method: http.MethodPost, Header: h, Body: []byte(body)}
}

// Token mints a token for sub in tenant tid with roles, valid for a day.
func (e *Env) Token(sub, tid string, roles ...lockbox.Role) string {
	return e.mint(sub, tid, roles, e.Now, 24*time.Hour)
}

// ExpiredToken mints a token that expired a minute ago.
func (e *Env) ExpiredToken(sub, tid string, roles ...lockbox.Role) string {
	return e.mint(sub, tid, roles, e.Now.Add(-time.Hour), 59*time.Minute)
}

// TokenWith mints a token like Token whose claims edit changes first (amr,
// iss, lockbox_isolated: what the provider's policy checks).
func (e *Env) TokenWith(edit func(c *auth.Claims), sub, tid string, roles ...lockbox.Role) string {
	return e.mintWith(edit, sub, tid, roles, e.Now, 24*time.Hour)
}

func (e *Env) mint(sub, tid string, roles []lockbox.Role, at time.Time, ttl time.Duration) string {
	return e.mintWith(nil, sub, tid, roles, at, ttl)
}

func (e *Env) mintWith(edit func(c *auth.Claims), sub, tid string, roles []lockbox.Role, at time.Time, ttl time.Duration) string {
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	c := auth.NewClaims(sub, tid, rs, at, ttl)
	if edit != nil {
		edit(&c)
	}
	tok, err := auth.Mint(JWTSecret, c)
	if err != nil {
		e.T.Fatal(err)
	}
	return tok
}

// Post returns a JSON POST of body with a bearer token.
func (e *Env) Post(token, body string) handler.Request {
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + token}}
	return handler.Request{Method: http.MethodPost, Header: h, Body: []byte(body)}
}

// Get returns a GET with a raw query string and a bearer token.
func (e *Env) Get(token, query string) handler.Request {
	return handler.Request{Method: http.MethodGet, Header: http.Header{"Authorization": {"Bearer " + token}}, QueryString: query}
}

// SignedGet returns a GET whose raw query string is signed with the webhook secret.
func (e *Env) SignedGet(query string) handler.Request {
	h := http.Header{}
	ts := e.Now.Unix()
	h.Set(auth.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(auth.HeaderSignature, auth.Sign(WebhookSecret, ts, []byte(query)))
	return handler.Request{Method: http.MethodGet, Header: h, QueryString: query}
}

// File creates a request in tenant for requester through the store and
// returns it.
func (e *Env) File(tenant, requester string) lockbox.Request {
	e.T.Helper()
	in := CreateInput(tenant, requester)
	r := lockbox.NewRequest(in, lockbox.NewID(), e.Now, e.Store.Limits())
	r.FiledBy = lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook"}.Key()
	r, _, err := e.Store.Create(e.T.Context(), r, lockbox.CreateOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	return r
}

// Configure changes tenant's settings as its admin "ada" would: f edits
// the current document, which is then stored.
func (e *Env) Configure(tenant string, f func(s *lockbox.Settings)) lockbox.Settings {
	e.T.Helper()
	prev, err := e.Store.Settings(e.T.Context(), tenant)
	if err != nil {
		e.T.Fatal(err)
	}
	next := prev
	f(&next)
	if err := next.Validate(true); err != nil {
		e.T.Fatal(err)
	}
	if next, err = next.Updated(prev, "ada"); err != nil {
		e.T.Fatal(err)
	}
	set, err := e.Store.PutSettings(e.T.Context(), tenant, next, prev.Version, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"},
		next.Changes(prev), e.Now)
	if err != nil {
		e.T.Fatal(err)
	}
	return set
}

// CreateInput is a valid create body for tenant and requester.
func CreateInput(tenant, requester string) lockbox.CreateInput {
	return lockbox.CreateInput{
		TenantID: tenant, ResourceType: "Microsoft.Compute/virtualMachines", ResourceIDs: []string{"vm-1", "vm-2"},
		AccessLevel: "Read", Justification: "disk latency on vm-1", SupportRequest: "INC-1001",
		SupportCaseURL: "https://support.example/cases/INC-1001", WorkItemSource: "ServiceNow",
		Requester: lockbox.Requester{ID: requester, DisplayName: "Support Engineer"},
	}
}

// JSON encodes v.
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Decode decodes a response body into a value of type T.
func Decode[T any](t *testing.T, resp handler.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", resp.StatusCode, err, resp.Body)
	}
	return v
}

// ErrorOf decodes an error response.
func ErrorOf(t *testing.T, resp handler.Response) ErrorDetail {
	t.Helper()
	return Decode[struct {
		Error ErrorDetail `json:"error"`
	}](t, resp).Error
}

// ErrorDetail is the error object of an error response.
type ErrorDetail struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	CurrentStatus string `json:"currentStatus"`
}

// Setup gives a function's tests a fresh environment: it points the
// function's deps variable at it and returns a caller of handle that fails
// the test if Handle returns an error (every call must be answered).
func Setup(t *testing.T, svc **app.Lazy[*api.Service], handle func(handler.Request) (handler.Response, error)) (*Env, func(handler.Request) handler.Response) {
	e := New(t)
	*svc = e.Lazy()
	return e, func(req handler.Request) handler.Response {
		t.Helper()
		resp, err := handle(req)
		if err != nil {
			t.Fatalf("Handle returned an error (the template would answer a bare 500): %v", err)
		}
		return resp
	}
}
