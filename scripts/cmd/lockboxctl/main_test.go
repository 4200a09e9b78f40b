package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/config"
)

// audit-pubkey prints the hex public key of the signing key make run
// generates (64 hex characters), which auditverify accepts.
func TestAuditPubkey(t *testing.T) {
	dir := t.TempDir()
	seed := strings.Repeat("42", 32)
	if err := os.WriteFile(filepath.Join(dir, config.SecretAuditSigning), []byte(seed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, info bytes.Buffer
	if err := auditPubkey([]string{"-secrets", dir}, &out, &info); err != nil {
		t.Fatal(err)
	}
	s, _ := hex.DecodeString(seed)
	pub := ed25519.NewKeyFromSeed(s).Public().(ed25519.PublicKey)
	if got, want := out.String(), hex.EncodeToString(pub)+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := info.String(), audit.KeyID(pub); !strings.Contains(got, want) {
		t.Errorf("got %q, want it to name key %s", got, want)
	}
	parsed, err := audit.ParsePublicKey(out.String())
	if err != nil || !parsed.Equal(pub) {
		t.Errorf("auditverify -pubkey of the output: got %x, %v; want %x", parsed, err, pub)
	}
	if strings.Contains(out.String()+info.String(), seed) {
		t.Error("the output shows the private seed")
	}
}

func TestAuditPubkeyRefuses(t *testing.T) {
	dir := t.TempDir()
	var out, info bytes.Buffer
	if err := auditPubkey([]string{"-secrets", dir}, &out, &info); err == nil {
		t.Error("no key file: got no error")
	}
	if err := os.WriteFile(filepath.Join(dir, config.SecretAuditSigning), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auditPubkey([]string{"-secrets", dir}, &out, &info); err == nil {
		t.Error("a malformed key: got no error")
	}
	if err := auditPubkey([]string{"-secrets", dir, "extra"}, &out, &info); err == nil {
		t.Error("an argument: got no error")
	}
	if out.Len() != 0 {
		t.Errorf("got output %q, want none", out.String())
	}
}
