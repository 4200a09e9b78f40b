package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/passkey/passkeytest"
)

// A tenant's archive with passkey-signed decisions, exported as
// lockbox-audit exports it, verifies offline against the tenant's passkeys
// export; a key changed in the export, or a statement changed in the
// archive (even with the chain and checkpoint recomputed by whoever holds
// the signing key), does not.
func TestRunVerifiesPasskeySignatures(t *testing.T) {
	e := apitest.New(t)
	e.Configure("contoso", func(s *lockbox.Settings) { s.RequirePasskey = &lockbox.PasskeyRequirement{All: true} })
	alice := lockbox.Principal{Kind: lockbox.KindUser, Subject: "alice", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleApprover}}
	auth := passkeytest.New(apitest.PasskeyOrigin, "portal.example")
	options, state, err := e.Cases.BeginPasskeyRegistration(t.Context(), alice)
	require.NoError(t, err)
	_, err = e.Cases.FinishPasskeyRegistration(t.Context(), alice, state, auth.Register(options), "YubiKey")
	require.NoError(t, err)
	decide := func(a lockbox.Action, reason string, d *int) {
		r := e.File("contoso", "eng-7")
		st := lockbox.Statement{TenantID: "contoso", RequestID: r.RequestID, Action: a, Duration: d, Reason: reason, Time: e.Now}
		_, err := e.Cases.Decide(t.Context(), alice, a, lockbox.DecisionInput{RequestID: r.RequestID, Reason: reason, Duration: d,
			Passkey: auth.Assert(st)})
		require.NoError(t, err)
		e.Advance(time.Minute)
	}
	four := 4
	decide(lockbox.ActionApprove, "verified with the customer", &four)
	decide(lockbox.ActionDeny, "no ticket", nil)

	endpoint, store := fakeS3(t, "lockbox-audit", false)
	exporter := audit.NewExporter(e.Store, store, apitest.AuditKey)
	exporter.Now = func() time.Time { return e.Now }
	_, err = exporter.ExportTenant(t.Context(), "contoso")
	require.NoError(t, err)

	exp, err := e.Cases.PasskeyExport(t.Context(), alice, "")
	require.NoError(t, err)
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "passkeys.json")
	wire, err := json.Marshal(exp)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keysFile, wire, 0o600))
	run := func(keys string) (int, string) {
		t.Helper()
		env := map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
		var out bytes.Buffer
		code := runWith([]string{"-tenant", "contoso", "-endpoint", endpoint, "-bucket", "lockbox-audit", "-secrets", dir,
			"-pubkey", hex.EncodeToString(apitest.AuditPublicKey), "-passkeys", keys}, env, &out)
		return code, out.String()
	}
	code, out := run(keysFile)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "2 passkey signatures verified")
	assert.Contains(t, out, "SignLockboxDecision")

	// Another public key in the export.
	other := exp
	other.Passkeys = append([]lockboxPasskey(nil), exp.Passkeys...)
	other.Passkeys[0].PublicKey = base64.RawURLEncoding.EncodeToString(passkeytest.New(apitest.PasskeyOrigin, "portal.example").COSEKey())
	forged := filepath.Join(dir, "forged.json")
	wire, err = json.Marshal(other)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(forged, wire, 0o600))
	code, out = run(forged)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "passkey signature does not verify")

	// The approval's statement rewritten (4 hours → 8), its digest, the
	// chain and the checkpoint recomputed and signed again.
	names, err := store.List(t.Context(), audit.TenantPrefix("contoso"))
	require.NoError(t, err)
	require.Len(t, names, 1)
	body, err := store.Get(t.Context(), names[0])
	require.NoError(t, err)
	var recs []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r audit.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		recs = append(recs, r)
	}
	edited := false
	prev := audit.ZeroHash
	var rewritten []byte
	for i := range recs {
		r := &recs[i]
		if r.OperationName == lockbox.OpSignDecision && !edited {
			var sig lockbox.PasskeySignature
			require.NoError(t, json.Unmarshal([]byte(r.Reason), &sig))
			sig.Statement = strings.Replace(sig.Statement, "duration=1:4", "duration=1:8", 1)
			st, err := lockbox.DecodeStatement([]byte(sig.Statement))
			require.NoError(t, err)
			d := st.Digest()
			sig.Digest = hex.EncodeToString(d[:])
			r.Reason, edited = sig.JSON(), true
		}
		r.PrevHash = prev
		r.Hash = r.ComputeHash()
		prev = r.Hash
		rewritten = append(append(rewritten, r.Canonical()...), '\n')
	}
	require.True(t, edited)
	require.NoError(t, store.Put(t.Context(), names[0], rewritten, time.Time{}))
	last := recs[len(recs)-1]
	cp, err := audit.NewCheckpoint("contoso", last.Seq, last.Hash, last.Time, names).Sign(apitest.AuditKey)
	require.NoError(t, err)
	require.NoError(t, store.Put(t.Context(), audit.CheckpointKey("contoso", last.Seq), cp, time.Time{}))
	code, out = run(keysFile)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "BROKEN")
	assert.Contains(t, out, "passkey signature does not verify")
}

type lockboxPasskey = lockbox.Passkey

func runWith(args []string, env map[string]string, out *bytes.Buffer) int {
	return run(args, func(k string) string { return env[k] }, out, out)
}
