package passkey_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/passkey"
	"lockbox.dev/shared/passkey/passkeytest"
	"lockbox.dev/shared/redisstore"
)

func hours(n int) *int { return &n }

func TestStatementEncoding(t *testing.T) {
	st := lockbox.Statement{TenantID: "contoso", RequestID: "4f1c", Action: lockbox.ActionApprove, Duration: hours(2),
		Reason: "checked: ticket\nINC-1 ✓", Time: time.Date(2026, 12, 7, 9, 30, 0, 123e6, time.UTC)}
	want := "lockbox-decision-v1\ntenant=7:contoso\nrequest=4:4f1c\naction=7:approve\nduration=1:2\n" +
		"reason=25:checked: ticket\nINC-1 ✓\ntime=24:2026-12-07T09:30:00.123Z\n"
	assert.Equal(t, want, string(st.Encode()))
	back, err := lockbox.DecodeStatement(st.Encode())
	require.NoError(t, err)
	assert.Equal(t, st.Encode(), back.Encode())

	deny := st
	deny.Action, deny.Duration = lockbox.ActionDeny, nil
	assert.Contains(t, string(deny.Encode()), "\nduration=0:\n")
	assert.NotEqual(t, st.Digest(), deny.Digest())

	for _, bad := range []string{
		strings.Replace(want, "reason=25", "reason=24", 1),        // a wrong length
		strings.Replace(want, "duration=1:2", "duration=2:02", 1), // not canonical
		strings.Replace(want, "lockbox-decision-v1", "lockbox-decision-v2", 1),
		want + "x",
		strings.Replace(want, "tenant=7", "tenant=07", 1),
	} {
		_, err := lockbox.DecodeStatement([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

// env is a tenant requiring passkeys with approver alice, who registered
// the software authenticator auth.
type env struct {
	*apitest.Env
	auth  *passkeytest.Authenticator
	alice lockbox.Principal
}

func setup(t *testing.T, require_ *lockbox.PasskeyRequirement) env {
	t.Helper()
	e := apitest.New(t)
	e.Configure("contoso", func(s *lockbox.Settings) { s.RequirePasskey = require_ })
	alice := lockbox.Principal{Kind: lockbox.KindUser, Subject: "alice", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleApprover}}
	auth := passkeytest.New(apitest.PasskeyOrigin, "portal.example")
	options, state, err := e.Cases.BeginPasskeyRegistration(t.Context(), alice)
	require.NoError(t, err)
	pk, err := e.Cases.FinishPasskeyRegistration(t.Context(), alice, state, auth.Register(options), "YubiKey 5C NFC")
	require.NoError(t, err)
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(auth.CredID), pk.ID)
	assert.Equal(t, int64(-7), pk.Algorithm)
	return env{Env: e, auth: auth, alice: alice}
}

func (e env) statement(r lockbox.Request, a lockbox.Action, reason string, d *int) lockbox.Statement {
	return lockbox.Statement{TenantID: r.TenantID, RequestID: r.RequestID, Action: a, Duration: d, Reason: reason, Time: e.Now}
}

func events(t *testing.T, e *apitest.Env, tenant string) []string {
	msgs, err := e.Redis.XRange(t.Context(), redisstore.EventsKey(tenant), "-", "+").Result()
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		out = append(out, m.Values[redisstore.EventField].(string))
	}
	return out
}

func TestPasskeySignedApproval(t *testing.T) {
	e := setup(t, &lockbox.PasskeyRequirement{All: true})
	r := e.File("contoso", "eng-7")
	e.Advance(time.Minute)

	// Token only: 403 PasskeyRequired, nothing written.
	before := e.Snapshot()
	_, err := e.Cases.Decide(t.Context(), e.alice, lockbox.ActionApprove, lockbox.DecisionInput{RequestID: r.RequestID, Reason: "ok"})
	require.Error(t, err)
	assert.Equal(t, "PasskeyRequired", err.(*lockbox.Error).Code)
	assert.Equal(t, before, e.Snapshot(), "a refused decision writes nothing")

	// Signed: approved, the signature kept, its digest in the audit log.
	st := e.statement(r, lockbox.ActionApprove, "verified with the customer", hours(4))
	in := lockbox.DecisionInput{RequestID: r.RequestID, Reason: st.Reason, Duration: st.Duration, Passkey: e.auth.Assert(st)}
	got, err := e.Cases.Decide(t.Context(), e.alice, lockbox.ActionApprove, in)
	require.NoError(t, err)
	assert.Equal(t, lockbox.StatusApproved, got.Status)
	require.Len(t, got.PasskeySignatures, 1)
	sig := got.PasskeySignatures[0]
	assert.Equal(t, string(st.Encode()), sig.Statement)
	d := st.Digest()
	assert.Equal(t, strings.ToLower(strings.TrimSpace(hexOf(d[:]))), sig.Digest)
	stored, err := e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	assert.Equal(t, got.PasskeySignatures, stored.PasskeySignatures)
	evs := events(t, e.Env, "contoso")
	last := evs[len(evs)-1]
	assert.Contains(t, last, lockbox.OpSignDecision)
	assert.Contains(t, last, sig.Digest)
	assert.Contains(t, evs[len(evs)-2], lockbox.OpApprove)

	// The same statement again is refused (here on a second request with
	// the first's assertion: another request id, so another digest too).
	before = e.Snapshot()
	_, err = e.Cases.Revoke(t.Context(), e.alice, lockbox.DecisionInput{RequestID: r.RequestID, Reason: st.Reason, Passkey: in.Passkey})
	require.Error(t, err, "an approval's assertion does not revoke")
	assert.Equal(t, "PasskeyInvalid", err.(*lockbox.Error).Code)
	assert.Equal(t, before, e.Snapshot())

	// Offline: the export verifies the kept signature; a tampered
	// statement or key does not.
	exp, err := e.Cases.PasskeyExport(t.Context(), e.alice, "")
	require.NoError(t, err)
	pk, ok := exp.Find(sig.CredentialID)
	require.True(t, ok)
	require.NoError(t, passkey.VerifySignature(sig, pk, exp.RPID, exp.Origins))

	tampered := sig
	tampered.Statement = strings.Replace(sig.Statement, "duration=1:4", "duration=1:8", 1)
	assert.Error(t, passkey.VerifySignature(tampered, pk, exp.RPID, exp.Origins), "a changed statement")
	tampered.Digest = hexOf(sha(tampered.Statement))
	assert.Error(t, passkey.VerifySignature(tampered, pk, exp.RPID, exp.Origins), "a changed statement with its digest recomputed")

	other := passkeytest.New(apitest.PasskeyOrigin, "portal.example")
	badKey := pk
	badKey.PublicKey = base64.RawURLEncoding.EncodeToString(other.COSEKey())
	assert.Error(t, passkey.VerifySignature(sig, badKey, exp.RPID, exp.Origins), "another key")
	assert.Error(t, passkey.VerifySignature(sig, pk, "evil.example", exp.Origins), "another relying party")
}

func TestPasskeyRefusals(t *testing.T) {
	e := setup(t, &lockbox.PasskeyRequirement{All: true})
	r := e.File("contoso", "eng-7")
	approve := func(st lockbox.Statement, a *lockbox.PasskeyAssertion) error {
		_, err := e.Cases.Decide(t.Context(), e.alice, st.Action, lockbox.DecisionInput{RequestID: st.RequestID, Reason: st.Reason,
			Duration: st.Duration, Passkey: a})
		return err
	}
	st := e.statement(r, lockbox.ActionApprove, "ok", nil)
	before := e.Snapshot()
	refused := func(name string, err error) {
		t.Helper()
		require.Error(t, err, name)
		assert.Contains(t, []string{"PasskeyInvalid", "InvalidRequest"}, err.(*lockbox.Error).Code, name)
		assert.Equal(t, before, e.Snapshot(), name)
	}

	// An assertion over another statement than the decision sent.
	other := st
	other.Reason = "something else"
	refused("another reason", approve(st, e.auth.Assert(other)))
	longer := st
	longer.Duration = hours(8)
	refused("another duration", approve(st, e.auth.Assert(longer)))
	// A statement too old or from the future.
	old := st
	old.Time = e.Now.Add(-6 * time.Minute)
	refused("too old", approve(old, e.auth.Assert(old)))
	// A bad signature.
	a := e.auth.Assert(st)
	sig, _ := lockbox.DecodeB64URL(a.Signature)
	sig[len(sig)-1] ^= 1
	a.Signature = base64.RawURLEncoding.EncodeToString(sig)
	refused("a bad signature", approve(st, a))
	// Another origin.
	phish := *e.auth
	phish.Origin = "https://portal.example.evil"
	refused("another origin", approve(st, phish.Assert(st)))
	// Without user verification.
	nouv := *e.auth
	nouv.UV = false
	refused("no user verification", approve(st, nouv.Assert(st)))
	// Someone else's passkey (bob's authenticator, never registered).
	bob := passkeytest.New(apitest.PasskeyOrigin, "portal.example")
	refused("an unregistered passkey", approve(st, bob.Assert(st)))
	// A counter that went back (a cloned authenticator).
	e.auth.Counter = 0
	a = e.auth.Assert(st)
	require.NoError(t, approve(st, a))
	clone := *e.auth
	clone.Counter = 0
	r2 := e.File("contoso", "eng-8")
	st2 := e.statement(r2, lockbox.ActionDeny, "no", nil)
	before = e.Snapshot()
	refused("a counter that did not increase", approve(st2, clone.Assert(st2)))
	require.NoError(t, approve(st2, e.auth.Assert(st2)))
}

func TestPasskeyByAccessLevel(t *testing.T) {
	e := setup(t, &lockbox.PasskeyRequirement{Levels: []string{"Write", "admin"}})
	read := e.File("contoso", "eng-7") // apitest files Read requests
	_, err := e.Cases.Decide(t.Context(), e.alice, lockbox.ActionApprove, lockbox.DecisionInput{RequestID: read.RequestID, Reason: "ok"})
	require.NoError(t, err, "Read is not listed")

	in := apitest.CreateInput("contoso", "eng-8")
	in.AccessLevel = "WRITE"
	w := lockbox.NewRequest(in, lockbox.NewID(), e.Now, e.Store.Limits())
	w.FiledBy = "service:webhook"
	w, _, err = e.Store.Create(t.Context(), w, lockbox.CreateOptions{})
	require.NoError(t, err)
	_, err = e.Cases.Decide(t.Context(), e.alice, lockbox.ActionDeny, lockbox.DecisionInput{RequestID: w.RequestID, Reason: "no"})
	require.Error(t, err)
	assert.Equal(t, "PasskeyRequired", err.(*lockbox.Error).Code, "levels compare without case")
	// Revoke of the Read grant is not covered either.
	_, err = e.Cases.Revoke(t.Context(), e.alice, lockbox.DecisionInput{RequestID: read.RequestID, Reason: "done"})
	require.NoError(t, err)
}

// The API takes the passkey in the decision's body (lockbox-approve,
// lockbox-deny, lockbox-revoke): strictly decoded like the rest.
func TestPasskeyThroughTheAPI(t *testing.T) {
	e := setup(t, &lockbox.PasskeyRequirement{All: true})
	r := e.File("contoso", "eng-7")
	tok := e.Token("alice", "contoso", lockbox.RoleApprover)

	resp := e.Serve(api.Approve, e.Post(tok, apitest.JSON(map[string]any{"requestId": r.RequestID, "reason": "ok"})))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(resp.Body))
	assert.Equal(t, "PasskeyRequired", apitest.ErrorOf(t, resp).Code)

	st := e.statement(r, lockbox.ActionApprove, "ok", nil)
	body := apitest.JSON(map[string]any{"requestId": r.RequestID, "reason": "ok", "passkey": e.auth.Assert(st)})
	resp = e.Serve(api.Approve, e.Post(tok, strings.Replace(body, `"time"`, `"tiMe"`, 1)))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "an unknown field inside passkey")
	resp = e.Serve(api.Approve, e.Post(tok, body))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	var got lockbox.Request
	require.NoError(t, json.Unmarshal(resp.Body, &got))
	require.Len(t, got.PasskeySignatures, 1)
	assert.Equal(t, "alice", got.PasskeySignatures[0].By)

	e.Advance(time.Minute)
	st = e.statement(r, lockbox.ActionRevoke, "done", nil)
	resp = e.Serve(api.Revoke, e.Post(tok, apitest.JSON(map[string]any{"requestId": r.RequestID, "reason": "done", "passkey": e.auth.Assert(st)})))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	require.NoError(t, json.Unmarshal(resp.Body, &got))
	require.Len(t, got.PasskeySignatures, 2)
	assert.Equal(t, lockbox.ActionRevoke, got.PasskeySignatures[1].Action)
}

func TestPasskeyRegistrationAndRemoval(t *testing.T) {
	e := setup(t, nil)
	list, opts, err := e.Cases.MyPasskeys(t.Context(), e.alice)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "YubiKey 5C NFC", list[0].Name)
	assert.NotNil(t, opts)

	// The same authenticator twice is refused; a requester holds none.
	options, state, err := e.Cases.BeginPasskeyRegistration(t.Context(), e.alice)
	require.NoError(t, err)
	assert.Contains(t, string(options), base64.RawURLEncoding.EncodeToString(e.auth.CredID), "excluded")
	_, err = e.Cases.FinishPasskeyRegistration(t.Context(), e.alice, state, e.auth.Register(options), "again")
	require.Error(t, err)
	eng := lockbox.Principal{Kind: lockbox.KindUser, Subject: "eng-7", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleRequester}}
	_, _, err = e.Cases.BeginPasskeyRegistration(t.Context(), eng)
	assert.Equal(t, lockbox.KindForbidden, lockbox.KindOf(err))
	// A tampered attestation is refused.
	options, state, err = e.Cases.BeginPasskeyRegistration(t.Context(), e.alice)
	require.NoError(t, err)
	other := passkeytest.New("https://evil.example", "portal.example")
	_, err = e.Cases.FinishPasskeyRegistration(t.Context(), e.alice, state, other.Register(options), "phished")
	require.Error(t, err, "another origin")

	// Removed: it signs nothing more, and stays in the export.
	require.NoError(t, e.Cases.RemovePasskey(t.Context(), e.alice, list[0].ID))
	list, _, err = e.Cases.MyPasskeys(t.Context(), e.alice)
	require.NoError(t, err)
	assert.Empty(t, list)
	exp, err := e.Cases.PasskeyExport(t.Context(), e.alice, "")
	require.NoError(t, err)
	require.Len(t, exp.Passkeys, 1)
	assert.NotNil(t, exp.Passkeys[0].Removed)
	r := e.File("contoso", "eng-7")
	st := e.statement(r, lockbox.ActionApprove, "ok", nil)
	_, err = e.Cases.Decide(t.Context(), e.alice, lockbox.ActionApprove, lockbox.DecisionInput{RequestID: r.RequestID, Reason: "ok",
		Passkey: e.auth.Assert(st)})
	require.Error(t, err)
	evs := strings.Join(events(t, e.Env, "contoso"), "\n")
	assert.Contains(t, evs, lockbox.OpRegisterPasskey)
	assert.Contains(t, evs, lockbox.OpRemovePasskey)
}

func TestRequirePasskeySetting(t *testing.T) {
	for doc, want := range map[string]string{`true`: "*", `false`: "", `null`: "", `["Write","Admin"]`: "\nwrite\nadmin\n"} {
		var s lockbox.Settings
		require.NoError(t, json.Unmarshal([]byte(`{"requirePasskey":`+doc+`}`), &s), doc)
		assert.Equal(t, want, s.RequirePasskey.Stored(), doc)
	}
	for _, doc := range []string{`"yes"`, `1`, `{"all":true}`} {
		var s lockbox.Settings
		assert.Error(t, json.Unmarshal([]byte(`{"requirePasskey":`+doc+`}`), &s), doc)
	}
	s := lockbox.DefaultSettings(true)
	s.RequirePasskey = &lockbox.PasskeyRequirement{Levels: []string{"Write", "write"}}
	assert.Error(t, s.Validate(false), "a repeated level")
	s.RequirePasskey = &lockbox.PasskeyRequirement{Levels: []string{"has space"}}
	assert.Error(t, s.Validate(false))
	b, _ := json.Marshal(lockbox.Settings{RequirePasskey: &lockbox.PasskeyRequirement{Levels: []string{"Write"}}})
	assert.Contains(t, string(b), `"requirePasskey":["Write"]`)
}

func hexOf(b []byte) string { return strings.ToLower(hexEncode(b)) }

// GET lockbox-settings?passkeys=export: the keys file of auditverify, for
// whoever may read the settings (an operator naming the tenant too).
func TestPasskeyExportThroughTheAPI(t *testing.T) {
	e := setup(t, nil)
	resp := e.Serve(api.Settings, e.Get(e.Token("rita", "contoso", lockbox.RoleReader), "passkeys=export"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	exp := apitest.Decode[passkey.Export](t, resp)
	assert.Equal(t, passkey.ExportVersion, exp.Version)
	assert.Equal(t, "portal.example", exp.RPID)
	assert.Equal(t, []string{apitest.PasskeyOrigin}, exp.Origins)
	require.Len(t, exp.Passkeys, 1)
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(e.auth.CredID), exp.Passkeys[0].ID)
	assert.Equal(t, "alice", exp.Passkeys[0].Subject)

	resp = e.Serve(api.Settings, e.Get(e.Token("op", "provider", lockbox.RoleOperator), "passkeys=export&tenantId=contoso"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	resp = e.Serve(api.Settings, e.Get(e.Token("rita", "contoso", lockbox.RoleReader), "passkeys=all"))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp = e.Serve(api.Settings, e.Get(e.Token("eng", "contoso", lockbox.RoleRequester), "passkeys=export"))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}
