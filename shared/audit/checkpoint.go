package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxCheckpointSize bounds the body VerifyCheckpoint accepts: a batch's
// checkpoint names one object per date of the batch, a few hundred bytes.
const maxCheckpointSize = 1 << 20

// Checkpoint is a signed statement of how far a tenant's archive reached
// after one exported batch. The exporter writes one after every batch, once
// the batch's objects are stored, under
//
//	checkpoints/tenant=<tenantId>/<seq zero-padded to 20 digits>.json
//
// outside the audit/ prefix, so the JSON Lines archive stays one Hive-style
// table. Its body is one line of canonical JSON, fields in this order, no
// white space, ending with a newline:
//
//	{"tenantId":"contoso","seq":15,"hash":"<64 hex>","time":"2026-11-27T09:00:05.000Z",
//	 "objects":["audit/tenant=contoso/date=2026-11-27/…13-…15.jsonl"],"keyId":"<16 hex>","signature":"<base64>"}
//
// signature is the standard base64 of the Ed25519 signature of the same
// JSON with signature "" (and no newline). Nothing in it is random or read
// from a clock, so a retried export writes the same bytes under the same key.
//
// The verifier trusts the chain up to the newest checkpoint it can verify:
// deleting or rewriting the end of the archive no longer goes unnoticed.
// Deleting the newest checkpoints along with it is seen through the
// bucket's object versions, or against a head the tenant holds (see
// Verifier.Verify and Head).
type Checkpoint struct {
	// TenantID is the tenant whose archive this is.
	TenantID string `json:"tenantId"`
	// Seq and Hash are the seq and hash of the archive's last event after
	// the batch.
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	// Time is the time of the event at Seq, in canonical form.
	Time string `json:"time"`
	// Objects are the keys of the batch's objects, in seq order; the last
	// one ends at Seq.
	Objects []string `json:"objects"`
	// KeyID names the signing key: the first 16 hex characters of the
	// SHA-256 of its public key (see KeyID).
	KeyID string `json:"keyId"`
	// Signature is the base64 Ed25519 signature (see the type's comment).
	Signature string `json:"signature"`
}

// NewCheckpoint returns the unsigned checkpoint of a batch of tenant's
// archive that ends with the event seq, of the given hash and (canonical)
// time, and was written as objects (in seq order).
func NewCheckpoint(tenant string, seq uint64, hash, eventTime string, objects []string) Checkpoint {
	return Checkpoint{TenantID: tenant, Seq: seq, Hash: hash, Time: eventTime, Objects: slices.Clone(objects)}
}

// CheckpointPrefix is the key prefix of every checkpoint of tenant.
func CheckpointPrefix(tenant string) string { return "checkpoints/tenant=" + tenant + "/" }

// CheckpointKey returns the key of tenant's checkpoint at seq.
func CheckpointKey(tenant string, seq uint64) string {
	return fmt.Sprintf("%s%020d.json", CheckpointPrefix(tenant), seq)
}

var (
	checkpointKeyPattern = regexp.MustCompile(`^checkpoints/tenant=([A-Za-z0-9._-]{1,64})/(\d{20})\.json$`)
	tenantPattern        = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	hashPattern          = regexp.MustCompile(`^[0-9a-f]{64}$`)
	keyIDPattern         = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// parseCheckpointKey returns the tenant and seq a checkpoint key names.
func parseCheckpointKey(key string) (tenant string, seq uint64, ok bool) {
	m := checkpointKeyPattern.FindStringSubmatch(key)
	if m == nil {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(m[2], 10, 64)
	return m[1], seq, err == nil && seq >= 1
}

// KeyID names an Ed25519 public key: the first 16 hex characters of the
// SHA-256 of its 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Sign returns the checkpoint's object body, signed with key: canonical JSON
// with keyId and signature filled in, and a newline. It refuses a
// checkpoint the verifier would refuse (a malformed hash or time, objects
// that do not end at Seq...). The same checkpoint and key always give the
// same bytes.
func (c Checkpoint) Sign(key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("sign checkpoint: not an Ed25519 private key")
	}
	c.KeyID, c.Signature = KeyID(key.Public().(ed25519.PublicKey)), ""
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("sign checkpoint of %s at seq %d: %w", c.TenantID, c.Seq, err)
	}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.canonical()))
	return append(c.canonical(), '\n'), nil
}

// VerifyCheckpoint parses a checkpoint's body and checks that it is
// well formed, in canonical form and signed by pub. It does not check the
// tenant or seq against the object's key, nor the archive: Verify does.
func VerifyCheckpoint(body []byte, pub ed25519.PublicKey) (Checkpoint, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Checkpoint{}, errors.New("verify checkpoint: not an Ed25519 public key")
	}
	c, err := parseCheckpoint(body)
	if err != nil {
		return Checkpoint{}, err
	}
	if want := KeyID(pub); c.KeyID != want {
		return Checkpoint{}, fmt.Errorf("checkpoint is signed with key %s, not with key %s", c.KeyID, want)
	}
	if err := c.verifySignature(pub); err != nil {
		return Checkpoint{}, err
	}
	return c, nil
}

// parseCheckpoint decodes a checkpoint body and checks its form, but not its
// signature.
func parseCheckpoint(body []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(body) > maxCheckpointSize {
		return c, fmt.Errorf("checkpoint is %d bytes, more than %d", len(body), maxCheckpointSize)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint is not JSON of the checkpoint format: %w", err)
	}
	if err := c.check(); err != nil {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint: %w", err)
	}
	if !bytes.Equal(body, append(c.canonical(), '\n')) {
		return Checkpoint{}, errors.New("checkpoint is not in canonical form (edited)")
	}
	return c, nil
}

// verifySignature checks c's signature with pub.
func (c Checkpoint) verifySignature(pub ed25519.PublicKey) error {
	sig, err := base64.StdEncoding.Strict().DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("checkpoint signature is not the base64 of an Ed25519 signature")
	}
	c.Signature = ""
	if !ed25519.Verify(pub, c.canonical(), sig) {
		return errors.New("checkpoint signature does not verify (checkpoint altered)")
	}
	return nil
}

// check reports what makes c a checkpoint no exporter writes (the signature
// aside).
func (c Checkpoint) check() error {
	switch {
	case !tenantPattern.MatchString(c.TenantID):
		return fmt.Errorf("tenantId %q is not a tenant id", c.TenantID)
	case c.Seq == 0:
		return errors.New("seq is 0")
	case !hashPattern.MatchString(c.Hash):
		return errors.New("hash is not 64 lower-case hex characters")
	case !keyIDPattern.MatchString(c.KeyID):
		return errors.New("keyId is not 16 lower-case hex characters")
	case len(c.Objects) == 0:
		return errors.New("no objects")
	}
	if t, err := time.Parse(TimeFormat, c.Time); err != nil || FormatTime(t) != c.Time {
		return fmt.Errorf("time %q is not in canonical form", c.Time)
	}
	next := uint64(0)
	for i, o := range c.Objects {
		k, ok := ParseKey(o)
		switch {
		case !ok || k.Tenant != c.TenantID:
			return fmt.Errorf("object %q is not an object of tenant %s", o, c.TenantID)
		case i > 0 && k.First != next:
			return fmt.Errorf("object %s does not follow %s", o, c.Objects[i-1])
		}
		next = k.Last + 1
	}
	last, _ := ParseKey(c.Objects[len(c.Objects)-1])
	switch {
	case last.Last != c.Seq:
		return fmt.Errorf("the last object ends at seq %d, not at seq %d", last.Last, c.Seq)
	case last.Date != c.Time[:10]:
		return fmt.Errorf("the last object's date %s is not the date of time %s", last.Date, c.Time)
	}
	return nil
}

// canonical returns c's canonical JSON: what encoding/json writes for it
// with HTML escaping off (a test holds it to that), without the newline.
func (c Checkpoint) canonical() []byte {
	b := make([]byte, 0, 320+96*len(c.Objects))
	b = appendField(b, `{"tenantId":`, c.TenantID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, c.Seq, 10)
	b = appendField(b, `,"hash":`, c.Hash)
	b = appendField(b, `,"time":`, c.Time)
	b = append(b, `,"objects":[`...)
	for i, o := range c.Objects {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, o)
	}
	b = append(b, ']')
	b = appendField(b, `,"keyId":`, c.KeyID)
	b = appendField(b, `,"signature":`, c.Signature)
	return append(b, '}')
}

// ParseSigningKey parses the signing key secret (lockbox-audit-signing-key,
// config.SecretAuditSigning): 64 hex characters (a 32-byte Ed25519 seed;
// `make run` generates secrets in this form) or a PEM "PRIVATE KEY" block
// holding a PKCS#8 Ed25519 key (`openssl genpkey -algorithm ed25519`).
// Surrounding white space is ignored; the file holds one key. Errors never
// contain key material.
func ParseSigningKey(b []byte) (ed25519.PrivateKey, error) {
	s := bytes.TrimSpace(b)
	if bytes.HasPrefix(s, []byte("-----BEGIN")) {
		block, err := onePEMBlock(s)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("signing key: a PEM %q block, want \"PRIVATE KEY\" (PKCS#8 Ed25519)", block.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key: a PKCS#8 %T, want an Ed25519 key", k)
		}
		return ek, nil
	}
	if len(s) == 2*ed25519.SeedSize {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := hex.Decode(seed, s); err == nil {
			key := ed25519.NewKeyFromSeed(seed)
			clear(seed)
			return key, nil
		}
	}
	if bytes.ContainsRune(s, '\n') {
		return nil, errors.New("signing key: several lines; the file holds one key (64 hex characters or a PEM PRIVATE KEY)")
	}
	return nil, errors.New("signing key: want 64 hex characters (a 32-byte Ed25519 seed) or a PEM PRIVATE KEY (PKCS#8 Ed25519)")
}

// ParseSigningKeys parses a signing key secret that holds the current key
// and, during a rotation, the previous ones after it: hex seeds one per line,
// or PEM "PRIVATE KEY" blocks one after another. The first signs; the
// others' checkpoints are still trusted. See ParseSigningKey for each key.
func ParseSigningKeys(b []byte) ([]ed25519.PrivateKey, error) {
	var parts [][]byte
	rest := bytes.TrimSpace(b)
	if bytes.HasPrefix(rest, []byte("-----BEGIN")) {
		for len(rest) > 0 {
			block, after := pem.Decode(rest)
			if block == nil {
				return nil, errors.New("signing keys: text that is not a PEM block after the keys")
			}
			parts = append(parts, pem.EncodeToMemory(block))
			rest = bytes.TrimSpace(after)
		}
	} else {
		for line := range bytes.Lines(rest) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				parts = append(parts, line)
			}
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("signing keys: the secret is empty")
	}
	keys := make([]ed25519.PrivateKey, len(parts))
	for i, p := range parts {
		k, err := ParseSigningKey(p)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys[i] = k
	}
	return keys, nil
}

// ParsePublicKey parses a checkpoint-verifying public key given as 64 hex
// characters, the standard base64 of its 32 bytes, a PEM "PUBLIC KEY" block
// (PKIX, as `openssl pkey -pubout` writes it), or @PATH naming a file that
// holds one of those.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	path, ok := strings.CutPrefix(s, "@")
	if !ok {
		return parsePublicKey(s)
	}
	// #nosec G304 -- a file the operator names on the command line.
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, err := parsePublicKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

func parsePublicKey(s string) (ed25519.PublicKey, error) {
	const want = "want 64 hex characters, the base64 of 32 bytes, a PEM PUBLIC KEY or @FILE"
	switch {
	case s == "":
		return nil, fmt.Errorf("public key is empty: %s", want)
	case strings.HasPrefix(s, "-----BEGIN"):
		block, err := onePEMBlock([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, errors.New("public key: this is a private key; give its public key (lockboxctl audit-pubkey prints it)")
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("public key: a PEM %q block, want \"PUBLIC KEY\"", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key: a %T, want an Ed25519 key", k)
		}
		return pub, nil
	case len(s) == 2*ed25519.PublicKeySize:
		if b, err := hex.DecodeString(s); err == nil {
			return ed25519.PublicKey(b), nil
		}
	}
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	return nil, fmt.Errorf("public key: %s", want)
}

// onePEMBlock decodes b, which must be exactly one PEM block.
func onePEMBlock(b []byte) (*pem.Block, error) {
	block, rest := pem.Decode(b)
	switch {
	case block == nil:
		return nil, errors.New("PEM does not decode")
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, errors.New("more than one PEM block; give one key")
	}
	return block, nil
}
