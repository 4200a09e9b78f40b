package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSeed is the seed of testKey, as the secret file holds it.
const testSeed = "4242424242424242424242424242424242424242424242424242424242424242"

// testKey signs the tests' checkpoints (exporters under test sign with it
// too), testPub verifies them.
var (
	testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
	testPub = testKey.Public().(ed25519.PublicKey)
)

// otherKey is a key the verifier does not know.
var otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x07}, ed25519.SeedSize))

// sampleCheckpoint is a checkpoint of a batch of seqs 13..15 over two dates.
func sampleCheckpoint() Checkpoint {
	return NewCheckpoint("contoso", 15, strings.Repeat("ab", 32), "2026-11-28T00:00:01.000Z", []string{
		ObjectKey("contoso", "2026-11-27", 13, 14), ObjectKey("contoso", "2026-11-28", 15, 15)})
}

func pemBlock(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestCheckpointKey(t *testing.T) {
	if got, want := CheckpointKey("contoso", 15), "checkpoints/tenant=contoso/00000000000000000015.json"; got != want {
		t.Errorf("CheckpointKey: got %q, want %q", got, want)
	}
	if got, want := CheckpointPrefix("contoso"), "checkpoints/tenant=contoso/"; got != want {
		t.Errorf("CheckpointPrefix: got %q, want %q", got, want)
	}
	if strings.HasPrefix(CheckpointKey("contoso", 1), "audit/") {
		t.Error("checkpoints must stay out of the audit/ table")
	}
	tenant, seq, ok := parseCheckpointKey(CheckpointKey("contoso", 18446744073709551615))
	if !ok || tenant != "contoso" || seq != 18446744073709551615 {
		t.Errorf("parseCheckpointKey: got %q %d %v, want contoso, max uint64, true", tenant, seq, ok)
	}
	for _, k := range []string{"checkpoints/tenant=contoso/00000000000000000000.json", "checkpoints/tenant=contoso/15.json",
		"checkpoints/tenant=contoso/latest.json", "checkpoints/tenant=contoso/00000000000000000015.json.bak",
		"checkpoints/tenant=a:b/00000000000000000015.json", "audit/tenant=contoso/00000000000000000015.json"} {
		if _, _, ok := parseCheckpointKey(k); ok {
			t.Errorf("parseCheckpointKey(%q): got ok, want refused", k)
		}
	}
}

func TestKeyID(t *testing.T) {
	sum := sha256.Sum256(testPub)
	if got, want := KeyID(testPub), hex.EncodeToString(sum[:])[:16]; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// The secret file's forms: the 64 hex characters `make run` generates, or
// PEM PKCS#8 as openssl writes it.
func TestParseSigningKey(t *testing.T) {
	der, err := x509.MarshalPKCS8PrivateKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"hex":                    []byte(testSeed),
		"hex with a newline":     []byte(testSeed + "\n"),
		"upper-case hex, spaces": []byte("  " + strings.ToUpper(testSeed) + " \r\n"),
		"PEM PKCS#8":             pemBlock(t, "PRIVATE KEY", der),
	} {
		key, err := ParseSigningKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !key.Equal(testKey) {
			t.Errorf("%s: got another key than the seed's", name)
		}
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(testPub)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"empty":               nil,
		"63 hex":              []byte(testSeed[:63]),
		"66 hex":              []byte(testSeed + "42"),
		"not hex":             []byte(strings.Repeat("zz", 32)),
		"raw 32 bytes":        bytes.Repeat([]byte{0x42}, 32),
		"two lines":           []byte(testSeed + "\n" + testSeed),
		"PKCS#8 ECDSA":        pemBlock(t, "PRIVATE KEY", ecDER),
		"SEC 1 EC key":        pemBlock(t, "EC PRIVATE KEY", sec1),
		"public key":          pemBlock(t, "PUBLIC KEY", pubDER),
		"two PEM blocks":      append(pemBlock(t, "PRIVATE KEY", der), pemBlock(t, "PRIVATE KEY", der)...),
		"PEM with a bad body": []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"broken PEM":          []byte("-----BEGIN PRIVATE KEY-----\n" + testSeed),
	} {
		_, err := ParseSigningKey(in)
		if err == nil {
			t.Errorf("%s: got a key, want refused", name)
			continue
		}
		if strings.Contains(strings.ToLower(err.Error()), testSeed[:16]) {
			t.Errorf("%s: the error shows key material: %v", name, err)
		}
	}
}

// The verifier's forms: hex, base64, PEM PUBLIC KEY, each also from a file.
func TestParsePublicKey(t *testing.T) {
	der, err := x509.MarshalPKIXPublicKey(testPub)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]string{
		"hex":            hex.EncodeToString(testPub),
		"upper-case hex": strings.ToUpper(hex.EncodeToString(testPub)),
		"base64":         base64.StdEncoding.EncodeToString(testPub),
		"PEM":            string(pemBlock(t, "PUBLIC KEY", der)),
	}
	dir := t.TempDir()
	all := maps.Clone(forms)
	for name, s := range forms {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		all["@file holding "+name] = "@" + path
		all[name+" in white space"] = " \n" + s + "\n"
	}
	for name, s := range all {
		pub, err := ParsePublicKey(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !pub.Equal(testPub) {
			t.Errorf("%s: got %x, want %x", name, pub, testPub)
		}
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ in, says string }{
		"empty":                  {"", "empty"},
		"62 hex":                 {hex.EncodeToString(testPub)[:62], "want 64 hex"},
		"base64 of 31 bytes":     {base64.StdEncoding.EncodeToString(testPub[:31]), "want 64 hex"},
		"base64 without padding": {base64.RawStdEncoding.EncodeToString(testPub), "want 64 hex"},
		"PEM private key":        {string(pemBlock(t, "PRIVATE KEY", privDER)), "private key"},
		"PEM ECDSA public key":   {string(pemBlock(t, "PUBLIC KEY", ecDER)), "want an Ed25519 key"},
		"PEM of another type":    {string(pemBlock(t, "CERTIFICATE", der)), `"CERTIFICATE"`},
		"missing file":           {"@" + filepath.Join(dir, "missing"), "no such file"},
		"file without a key":     {"@" + garbage, garbage},
	} {
		_, err := ParsePublicKey(c.in)
		if err == nil {
			t.Errorf("%s: got a key, want refused", name)
		} else if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %q, want it to say %q", name, err, c.says)
		}
	}
}

// Signing is deterministic: a retried export writes the same bytes, whatever
// form the key file has.
func TestCheckpointSignIsDeterministic(t *testing.T) {
	c := sampleCheckpoint()
	first, err := c.Sign(testKey)
	if err != nil {
		t.Fatal(err)
	}
	again, err := sampleCheckpoint().Sign(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Errorf("signing twice: got\n%s\nthen\n%s", first, again)
	}
	der, err := x509.MarshalPKCS8PrivateKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	fromPEM, err := ParseSigningKey(pemBlock(t, "PRIVATE KEY", der))
	if err != nil {
		t.Fatal(err)
	}
	viaPEM, err := c.Sign(fromPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, viaPEM) {
		t.Errorf("the same key from PEM: got\n%s\nwant\n%s", viaPEM, first)
	}
	if c.KeyID != "" || c.Signature != "" {
		t.Errorf("Sign changed its receiver: keyId %q, signature %q", c.KeyID, c.Signature)
	}

	// NewCheckpoint keeps its own copy of the object keys.
	objects := []string{ObjectKey("contoso", "2026-11-28", 15, 15)}
	c = NewCheckpoint("contoso", 15, strings.Repeat("ab", 32), "2026-11-28T00:00:01.000Z", objects)
	objects[0] = "changed"
	if _, err := c.Sign(testKey); err != nil {
		t.Errorf("after the caller reused its slice: %v", err)
	}
}

// The format, pinned: changing it breaks every archive's verification.
func TestCheckpointFormat(t *testing.T) {
	body, err := sampleCheckpoint().Sign(testKey)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tenantId":"contoso","seq":15,"hash":"abababababababababababababababababababababababababababababababab",` +
		`"time":"2026-11-28T00:00:01.000Z","objects":["audit/tenant=contoso/date=2026-11-27/00000000000000000013-00000000000000000014.jsonl",` +
		`"audit/tenant=contoso/date=2026-11-28/00000000000000000015-00000000000000000015.jsonl"],"keyId":"` + KeyID(testPub) + `","signature":"`
	if !strings.HasPrefix(string(body), want) || !strings.HasSuffix(string(body), "\"}\n") || bytes.Count(body, []byte("\n")) != 1 {
		t.Fatalf("got\n%s\nwant\n%s<signature>\"}\\n", body, want)
	}
	if got, pinned := string(body), checkpointGolden; got != pinned {
		t.Errorf("got\n%s\nwant\n%s", got, pinned)
	}

	// The signature covers the canonical JSON with signature "", and
	// nothing more: anyone can check it with a stock Ed25519 library.
	var c Checkpoint
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil {
		t.Fatal(err)
	}
	c.Signature = ""
	var unsigned bytes.Buffer
	enc := json.NewEncoder(&unsigned)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(testPub, bytes.TrimSuffix(unsigned.Bytes(), []byte("\n")), sig) {
		t.Error("the signature does not verify over encoding/json's bytes of the unsigned checkpoint")
	}
	if got, want := c.canonical(), bytes.TrimSuffix(unsigned.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
		t.Errorf("canonical: got\n%s\nwant encoding/json's\n%s", got, want)
	}
}

// checkpointGolden is sampleCheckpoint signed with testKey.
const checkpointGolden = `{"tenantId":"contoso","seq":15,"hash":"abababababababababababababababababababababababababababababababab","time":"2026-11-28T00:00:01.000Z","objects":["audit/tenant=contoso/date=2026-11-27/00000000000000000013-00000000000000000014.jsonl","audit/tenant=contoso/date=2026-11-28/00000000000000000015-00000000000000000015.jsonl"],"keyId":"3097e2dee2cb4a34","signature":"ngCY33vVqrzBW49uxJiRq28LbLEvq/a4n1z5s4uqTZE1vms4eIE5blct2/6OgQWk+W69O+mtN420IabR/9eSAg=="}
`

// Sign refuses what the verifier would refuse, so an exporter bug fails the
// export instead of writing a checkpoint nobody can verify.
func TestCheckpointSignRefuses(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	day := func(d string, first, last uint64) string { return ObjectKey("contoso", d, first, last) }
	for name, c := range map[string]Checkpoint{
		"bad tenant":              NewCheckpoint("a/b", 15, hash, "2026-11-28T00:00:01.000Z", []string{day("2026-11-28", 15, 15)}),
		"seq 0":                   NewCheckpoint("contoso", 0, hash, "2026-11-28T00:00:01.000Z", []string{day("2026-11-28", 15, 15)}),
		"upper-case hash":         NewCheckpoint("contoso", 15, strings.ToUpper(hash), "2026-11-28T00:00:01.000Z", []string{day("2026-11-28", 15, 15)}),
		"short hash":              NewCheckpoint("contoso", 15, hash[:62], "2026-11-28T00:00:01.000Z", []string{day("2026-11-28", 15, 15)}),
		"time without ms":         NewCheckpoint("contoso", 15, hash, "2026-11-28T00:00:01Z", []string{day("2026-11-28", 15, 15)}),
		"time not in UTC":         NewCheckpoint("contoso", 15, hash, "2026-11-28T01:00:01.000+01:00", []string{day("2026-11-28", 15, 15)}),
		"no objects":              NewCheckpoint("contoso", 15, hash, "2026-11-28T00:00:01.000Z", nil),
		"another tenant's object": NewCheckpoint("contoso", 15, hash, "2026-11-28T00:00:01.000Z", []string{ObjectKey("fabrikam", "2026-11-28", 15, 15)}),
		"not an object key":       NewCheckpoint("contoso", 15, hash, "2026-11-28T00:00:01.000Z", []string{"audit/tenant=contoso/x.jsonl"}),
		"objects with a gap":      NewCheckpoint("contoso", 15, hash, "2026-11-28T00:00:01.000Z", []string{day("2026-11-27", 12, 13), day("2026-11-28", 15, 15)}),
		"objects out of order":    NewCheckpoint("contoso", 15, hash, "2026-11-28T00:00:01.000Z", []string{day("2026-11-28", 15, 15), day("2026-11-27", 13, 14)}),
		"objects end before seq":  NewCheckpoint("contoso", 15, hash, "2026-11-28T00:00:01.000Z", []string{day("2026-11-28", 14, 14)}),
		"time of another date":    NewCheckpoint("contoso", 15, hash, "2026-11-29T00:00:01.000Z", []string{day("2026-11-28", 15, 15)}),
	} {
		if body, err := c.Sign(testKey); err == nil {
			t.Errorf("%s: got\n%s\nwant refused", name, body)
		}
	}
	if _, err := sampleCheckpoint().Sign(testKey[:32]); err == nil {
		t.Error("a 32-byte private key: got signed, want refused")
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	body, err := sampleCheckpoint().Sign(testKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyCheckpoint(body, testPub)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleCheckpoint()
	if c.TenantID != want.TenantID || c.Seq != want.Seq || c.Hash != want.Hash || c.Time != want.Time ||
		strings.Join(c.Objects, " ") != strings.Join(want.Objects, " ") || c.KeyID != KeyID(testPub) {
		t.Errorf("got %+v, want %+v signed with %s", c, want, KeyID(testPub))
	}

	otherPub := otherKey.Public().(ed25519.PublicKey)
	forged := sampleCheckpoint()
	forged.KeyID = KeyID(testPub) // claims the right key, signed with another
	forged.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(otherKey, forged.canonical()))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte { return bytes.Replace(body, []byte(old), []byte(new), 1) }
	for name, c := range map[string]struct {
		body []byte
		pub  ed25519.PublicKey
		says string
	}{
		"another key":             {body, otherPub, "signed with key " + KeyID(testPub) + ", not with key " + KeyID(otherPub)},
		"a forged key id":         {append(forged.canonical(), '\n'), testPub, "does not verify"},
		"seq edited":              {edit(`"seq":15`, `"seq":16`), testPub, "malformed checkpoint"},
		"hash edited":             {edit(`"hash":"ab`, `"hash":"cd`), testPub, "does not verify"},
		"time edited":             {edit(`00:00:01.000Z`, `00:00:02.000Z`), testPub, "does not verify"},
		"an object dropped":       {edit(`"audit/tenant=contoso/date=2026-11-27/00000000000000000013-00000000000000000014.jsonl",`, ``), testPub, "does not verify"},
		"tenant edited":           {bytes.ReplaceAll(body, []byte("contoso"), []byte("fabrikam")), testPub, "does not verify"},
		"signature cut":           {edit(`","signature":"`, `","signature":"AAAA`), testPub, "not the base64"},
		"unknown field":           {edit(`{"tenantId"`, `{"extra":1,"tenantId"`), testPub, "unknown field"},
		"pretty printed":          {append(pretty.Bytes(), '\n'), testPub, "canonical"},
		"without its newline":     {bytes.TrimSuffix(body, []byte("\n")), testPub, "canonical"},
		"a second document after": {append(bytes.Clone(body), body...), testPub, "canonical"},
		"fields in another order": {edit(`{"tenantId":"contoso","seq":15,`, `{"seq":15,"tenantId":"contoso",`), testPub, "canonical"},
		"not JSON":                {[]byte("checkpoint\n"), testPub, "not JSON"},
		"empty":                   {nil, testPub, "not JSON"},
		"too big":                 {append(bytes.Repeat([]byte(" "), maxCheckpointSize), body...), testPub, "more than"},
		"a 31-byte public key":    {body, testPub[:31], "not an Ed25519 public key"},
	} {
		_, err := VerifyCheckpoint(c.body, c.pub)
		if err == nil {
			t.Errorf("%s: verified, want refused", name)
		} else if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %q, want it to say %q", name, err, c.says)
		}
	}
}

// A signing key secret during a rotation holds the new key first and the
// previous ones after it, as hex lines or PEM blocks.
func TestParseSigningKeys(t *testing.T) {
	hexOf := func(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Seed()) }
	keys, err := ParseSigningKeys([]byte(hexOf(testKey) + "\n\n" + hexOf(otherKey) + "\n"))
	if err != nil || len(keys) != 2 || !keys[0].Equal(testKey) || !keys[1].Equal(otherKey) {
		t.Fatalf("hex lines: got %d keys, %v; want testKey then otherKey", len(keys), err)
	}
	pemOf := func(k ed25519.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	keys, err = ParseSigningKeys([]byte(pemOf(otherKey) + pemOf(testKey)))
	if err != nil || len(keys) != 2 || !keys[0].Equal(otherKey) || !keys[1].Equal(testKey) {
		t.Fatalf("PEM blocks: got %d keys, %v; want otherKey then testKey", len(keys), err)
	}
	for _, bad := range []string{"", "\n", hexOf(testKey) + "\nnot-a-key", pemOf(testKey) + "trailing"} {
		if _, err := ParseSigningKeys([]byte(bad)); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}
