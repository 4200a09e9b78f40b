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

// Without -pubkey, the key comes from make run's signing key, and it says
// so; without that file, -pubkey is required.
func TestVerifyingKeys(t *testing.T) {
	seed := bytes.Repeat([]byte{0x42}, ed25519.SeedSize)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	dir := t.TempDir()

	var info bytes.Buffer
	if _, err := verifyingKeys(nil, dir, &info); err == nil || !strings.Contains(err.Error(), "-pubkey is required") {
		t.Errorf("no key file: got %v, want -pubkey required", err)
	}

	if err := os.WriteFile(filepath.Join(dir, config.SecretAuditSigning), []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := verifyingKeys(nil, dir, &info)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].Equal(pub) {
		t.Errorf("got %x, want [%x]", keys, pub)
	}
	if got := info.String(); !strings.Contains(got, "no -pubkey") || !strings.Contains(got, audit.KeyID(pub)) {
		t.Errorf("got %q, want it to say the key was derived, and which", got)
	}

	var flag publicKeys
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
	if err := flag.Set(hex.EncodeToString(other)); err != nil {
		t.Fatal(err)
	}
	info.Reset()
	keys, err = verifyingKeys(flag, dir, &info)
	if err != nil || len(keys) != 1 || !keys[0].Equal(other) || info.Len() != 0 {
		t.Errorf("with -pubkey: got %x, %v, %q; want the flag's key only, silently", keys, err, info.String())
	}
	if err := flag.Set("not a key"); err == nil {
		t.Error("-pubkey with a malformed key: got no error")
	}

	if err := os.WriteFile(filepath.Join(dir, config.SecretAuditSigning), []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyingKeys(nil, dir, &info); err == nil {
		t.Error("a malformed signing key: got no error")
	}
}
