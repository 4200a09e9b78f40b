// Command auditverify checks a tenant's audit archive in S3-compatible
// storage: object names, seq continuity across objects, the SHA-256 hash
// chain, and the signed checkpoints the exporter writes after every batch,
// which show the end of the archive deleted or rewritten (see package
// lockbox.dev/shared/audit). It needs only read access.
//
//	auditverify -tenant contoso -pubkey KEY [-pubkey OLDKEY] [-expect SEQ:HASH | -expect @HEAD] [-passkeys FILE] [-endpoint URL] [-bucket lockbox-audit] [-path-style]
//
// KEY is the checkpoint-signing public key (`lockboxctl audit-pubkey` prints
// it): 64 hex characters, the base64 of its 32 bytes, a PEM PUBLIC KEY, or
// @FILE holding one of those; give the keys of earlier rotations too while
// their checkpoints are in the archive. Without -pubkey, the key is derived
// from the signing key lockbox-audit-signing-key in -secrets when that file
// exists (a local `make run`), and it says so.
//
// On a versioned bucket (every bucket with object lock is one) it reads the
// versions of every object and checkpoint and reports a delete marker, or an
// object overwritten with other bytes, as tampering, naming the key; on a
// bucket without versioning it warns that deletions cannot be checked and
// checks the rest. -expect holds the archive to a head the tenant was
// handed (lockbox-activity?head=true, the portal's activity page, webhook
// lockbox.audit.checkpoint): SEQ:HASH, or @FILE holding the head's signed
// checkpoint line (or its JSON), checked with the -pubkey keys first. The
// archive must reach that seq with that hash, so the tail deleted with every
// trace of it is still found.
//
// -passkeys FILE also verifies every passkey-signed decision in the archive
// (SignLockboxDecision events) offline against FILE, the tenant's passkeys
// export (GET lockbox-settings?passkeys=export): each signature must follow
// the decision it signs, its statement must hash to its digest, and a
// passkey the decider registered must have signed it for the export's
// relying party; a tampered statement or key breaks the archive there
// (docs/passkeys.md).
//
// The endpoint defaults to $s3_endpoint, else the embedded S3 of a running
// `make run` (.data/localrun.env). Credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, else from the secret files s3-access-key and
// s3-secret-key in -secrets (.secrets). It prints a summary and exits 1,
// naming the first broken seq and object, when the archive was altered.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/passkey"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run verifies as the command line args asks and returns the exit status:
// 0 verified, 1 broken, 2 unable to tell.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	local := readEnvFile(filepath.Join(".data", "localrun.env"))
	flags := flag.NewFlagSet("auditverify", flag.ContinueOnError)
	flags.SetOutput(stderr)
	tenant := flags.String("tenant", "", "tenant id (required)")
	endpoint := flags.String("endpoint", first(getenv("s3_endpoint"), local["s3_endpoint"]), "S3 endpoint URL")
	bucket := flags.String("bucket", first(getenv("s3_bucket"), local["s3_bucket"], "lockbox-audit"), "bucket")
	region := flags.String("region", first(getenv("s3_region"), "us-east-1"), "region")
	pathStyle := flags.Bool("path-style", true, "path-style addressing (MinIO)")
	secrets := flags.String("secrets", ".secrets", "folder of the s3-access-key and s3-secret-key files (and, locally, "+config.SecretAuditSigning+")")
	var pubkeys publicKeys
	flags.Var(&pubkeys, "pubkey", "public key the checkpoints are signed with: 64 hex characters, base64, a PEM PUBLIC KEY or @FILE; "+
		"repeat for the keys of earlier rotations (default: derived from -secrets/"+config.SecretAuditSigning+" when it exists)")
	expect := flags.String("expect", "", "a head the archive must reach: SEQ:HASH, or @FILE holding the head (its signed checkpoint line, "+
		"or the head's JSON), checked with the -pubkey keys")
	passkeysFile := flags.String("passkeys", "", "the tenant's passkeys export (GET lockbox-settings?passkeys=export): verify every "+
		"passkey-signed decision against it")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *tenant == "" || *endpoint == "" {
		fmt.Fprintln(stderr, "usage: auditverify -tenant TENANT -pubkey KEY [-expect SEQ:HASH|@FILE] [-endpoint URL] [-bucket B] (no endpoint: set s3_endpoint or start make run)")
		return 2
	}
	keys, err := verifyingKeys(pubkeys, *secrets, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "auditverify:", err)
		return 2
	}
	expected, err := expectedHead(*expect, *tenant, keys)
	if err != nil {
		fmt.Fprintln(stderr, "auditverify:", err)
		return 2
	}
	ak, sk := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if ak == "" {
		a, _ := config.ReadSecret(*secrets, config.SecretS3AccessKey)
		s, _ := config.ReadSecret(*secrets, config.SecretS3SecretKey)
		ak, sk = string(a), string(s)
	}
	store := objectstore.New(objectstore.Config{Endpoint: *endpoint, Region: *region, Bucket: *bucket, PathStyle: *pathStyle, AccessKey: ak, SecretKey: sk})

	var signatures *passkey.AuditChecker
	verifier := audit.Verifier{Keys: keys, Expect: expected}
	if *passkeysFile != "" {
		exp, err := readPasskeys(*passkeysFile, *tenant)
		if err != nil {
			fmt.Fprintln(stderr, "auditverify:", err)
			return 2
		}
		signatures = &passkey.AuditChecker{Keys: exp}
		verifier.Check = signatures.Check
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := verifier.Verify(ctx, store, *tenant)
	for _, w := range rep.Warnings {
		fmt.Fprintf(stdout, "tenant %s: warning: %s\n", *tenant, w)
	}
	var broken *audit.BreakError
	switch {
	case errors.As(err, &broken):
		fmt.Fprintf(stdout, "tenant %s: BROKEN at seq %d in %s: %s\n", *tenant, broken.Seq, broken.Object, broken.Reason)
		fmt.Fprintf(stdout, "  the %d events before it verify\n", rep.Events)
		if rep.Checkpoints > 0 {
			fmt.Fprintf(stdout, "  up to the signed checkpoint of %s (seq %d)\n", rep.CheckpointTime, rep.CheckpointSeq)
		}
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "auditverify:", err)
		return 2
	}
	fmt.Fprintf(stdout, "tenant %s: OK, %d events in %d objects of s3://%s/%s\n", *tenant, rep.Events, rep.Objects, *bucket, audit.TenantPrefix(*tenant))
	if rep.Events > 0 {
		fmt.Fprintf(stdout, "  from %s to %s\n", rep.FirstTime, rep.LastTime)
		ops := make([]string, 0, len(rep.Operations))
		for op := range rep.Operations {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			fmt.Fprintf(stdout, "  %-24s %d\n", op, rep.Operations[op])
		}
		fmt.Fprintf(stdout, "  last hash %s\n", rep.LastHash)
		fmt.Fprintf(stdout, "  signed checkpoint of %s at seq %d, key %s (%d checkpoints checked)\n",
			rep.CheckpointTime, rep.CheckpointSeq, rep.KeyID, rep.Checkpoints)
	}
	if rep.DeletionsChecked {
		fmt.Fprintln(stdout, "  versions checked: no object or checkpoint deleted or overwritten")
	}
	if rep.ExpectedSeq != 0 {
		fmt.Fprintf(stdout, "  reaches the expected head at seq %d\n", rep.ExpectedSeq)
	}
	if signatures != nil {
		fmt.Fprintf(stdout, "  %d passkey signatures verified against %s (relying party %s, %d passkeys)\n", signatures.Verified,
			*passkeysFile, signatures.Keys.RPID, len(signatures.Keys.Passkeys))
	}
	return 0
}

// readPasskeys reads a passkeys export of tenant.
func readPasskeys(path, tenant string) (passkey.Export, error) {
	// #nosec G304 -- a file the operator names on the command line.
	b, err := os.ReadFile(path)
	if err != nil {
		return passkey.Export{}, fmt.Errorf("-passkeys: %w", err)
	}
	var exp passkey.Export
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&exp); err != nil || exp.Version != passkey.ExportVersion {
		return passkey.Export{}, fmt.Errorf("-passkeys %s: not a passkeys export (%s): %v", path, passkey.ExportVersion, err)
	}
	if exp.TenantID != tenant {
		return passkey.Export{}, fmt.Errorf("-passkeys %s: the passkeys of tenant %s, not of %s", path, exp.TenantID, tenant)
	}
	return exp, nil
}

// expectedHead parses -expect: SEQ:HASH, or @FILE holding a head's signed
// checkpoint line (as handed out, or the JSON of the whole head), which
// must verify with one of keys and be tenant's.
func expectedHead(flagValue, tenant string, keys []ed25519.PublicKey) (audit.ExpectedHead, error) {
	path, isFile := strings.CutPrefix(flagValue, "@")
	switch {
	case flagValue == "":
		return audit.ExpectedHead{}, nil
	case !isFile:
		return audit.ParseExpectedHead(flagValue)
	}
	// #nosec G304 -- a file the operator names on the command line.
	b, err := os.ReadFile(path)
	if err != nil {
		return audit.ExpectedHead{}, fmt.Errorf("-expect: %w", err)
	}
	line := strings.TrimSpace(string(b))
	var handed audit.SignedHead
	if json.Unmarshal([]byte(line), &handed) == nil && handed.Checkpoint != "" {
		line = handed.Checkpoint // the whole head as a transport hands it out
	}
	head, err := audit.VerifyHead(line, keys...)
	if err != nil {
		return audit.ExpectedHead{}, fmt.Errorf("-expect %s: %w", path, err)
	}
	if head.TenantID != tenant {
		return audit.ExpectedHead{}, fmt.Errorf("-expect %s: a head of tenant %s, not of %s", path, head.TenantID, tenant)
	}
	return head.Expected(), nil
}

// publicKeys is the repeatable -pubkey flag.
type publicKeys []ed25519.PublicKey

func (p *publicKeys) String() string {
	ids := make([]string, len(*p))
	for i, k := range *p {
		ids[i] = audit.KeyID(k)
	}
	return strings.Join(ids, ",")
}

func (p *publicKeys) Set(v string) error {
	k, err := audit.ParsePublicKey(v)
	if err != nil {
		return err
	}
	*p = append(*p, k)
	return nil
}

// verifyingKeys returns the -pubkey keys or, when there are none, the
// public key of the signing key in secrets if that file exists (the local
// case), saying so on w.
func verifyingKeys(flagged []ed25519.PublicKey, secrets string, w io.Writer) ([]ed25519.PublicKey, error) {
	if len(flagged) > 0 {
		return flagged, nil
	}
	path := filepath.Join(secrets, config.SecretAuditSigning)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("-pubkey is required: the public key the checkpoints are signed with (lockboxctl audit-pubkey prints it), as hex, base64, PEM or @FILE")
	}
	b, err := config.ReadSecret(secrets, config.SecretAuditSigning)
	if err != nil {
		return nil, err
	}
	key, err := audit.ParseSigningKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pub := key.Public().(ed25519.PublicKey)
	fmt.Fprintf(w, "auditverify: no -pubkey: using the public key of %s (key %s)\n", path, audit.KeyID(pub))
	return []ed25519.PublicKey{pub}, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// readEnvFile reads k=v lines; a missing file is an empty map.
func readEnvFile(path string) map[string]string {
	m := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}
