// Command auditverify checks a tenant's audit archive in S3-compatible
// storage: object names, seq continuity across objects, the SHA-256 hash
// chain, and the signed checkpoints the exporter writes after every batch,
// which show the end of the archive deleted or rewritten (see package
// lockbox.dev/shared/audit). It needs only read access.
//
//	auditverify -tenant contoso -pubkey KEY [-pubkey OLDKEY] [-endpoint URL] [-bucket lockbox-audit] [-path-style]
//
// KEY is the checkpoint-signing public key (`lockboxctl audit-pubkey` prints
// it): 64 hex characters, the base64 of its 32 bytes, a PEM PUBLIC KEY, or
// @FILE holding one of those; give the keys of earlier rotations too while
// their checkpoints are in the archive. Without -pubkey, the key is derived
// from the signing key lockbox-audit-signing-key in -secrets when that file
// exists (a local `make run`), and it says so.
//
// The endpoint defaults to $s3_endpoint, else the embedded S3 of a running
// `make run` (.data/localrun.env). Credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, else from the secret files s3-access-key and
// s3-secret-key in -secrets (.secrets). It prints a summary and exits 1,
// naming the first broken seq and object, when the archive was altered.
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
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
)

func main() {
	local := readEnvFile(filepath.Join(".data", "localrun.env"))
	tenant := flag.String("tenant", "", "tenant id (required)")
	endpoint := flag.String("endpoint", first(os.Getenv("s3_endpoint"), local["s3_endpoint"]), "S3 endpoint URL")
	bucket := flag.String("bucket", first(os.Getenv("s3_bucket"), local["s3_bucket"], "lockbox-audit"), "bucket")
	region := flag.String("region", first(os.Getenv("s3_region"), "us-east-1"), "region")
	pathStyle := flag.Bool("path-style", true, "path-style addressing (MinIO)")
	secrets := flag.String("secrets", ".secrets", "folder of the s3-access-key and s3-secret-key files (and, locally, "+config.SecretAuditSigning+")")
	var pubkeys publicKeys
	flag.Var(&pubkeys, "pubkey", "public key the checkpoints are signed with: 64 hex characters, base64, a PEM PUBLIC KEY or @FILE; "+
		"repeat for the keys of earlier rotations (default: derived from -secrets/"+config.SecretAuditSigning+" when it exists)")
	flag.Parse()
	if *tenant == "" || *endpoint == "" {
		fmt.Fprintln(os.Stderr, "usage: auditverify -tenant TENANT -pubkey KEY [-endpoint URL] [-bucket B] (no endpoint: set s3_endpoint or start make run)")
		os.Exit(2)
	}
	keys, err := verifyingKeys(pubkeys, *secrets, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditverify:", err)
		os.Exit(2)
	}
	ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if ak == "" {
		a, _ := config.ReadSecret(*secrets, config.SecretS3AccessKey)
		s, _ := config.ReadSecret(*secrets, config.SecretS3SecretKey)
		ak, sk = string(a), string(s)
	}
	store := objectstore.New(objectstore.Config{Endpoint: *endpoint, Region: *region, Bucket: *bucket, PathStyle: *pathStyle, AccessKey: ak, SecretKey: sk})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := audit.Verify(ctx, store, *tenant, keys...)
	var broken *audit.BreakError
	switch {
	case errors.As(err, &broken):
		fmt.Printf("tenant %s: BROKEN at seq %d in %s: %s\n", *tenant, broken.Seq, broken.Object, broken.Reason)
		fmt.Printf("  the %d events before it verify\n", rep.Events)
		if rep.Checkpoints > 0 {
			fmt.Printf("  up to the signed checkpoint of %s (seq %d)\n", rep.CheckpointTime, rep.CheckpointSeq)
		}
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "auditverify:", err)
		os.Exit(2)
	}
	fmt.Printf("tenant %s: OK, %d events in %d objects of s3://%s/%s\n", *tenant, rep.Events, rep.Objects, *bucket, audit.TenantPrefix(*tenant))
	if rep.Events > 0 {
		fmt.Printf("  from %s to %s\n", rep.FirstTime, rep.LastTime)
		ops := make([]string, 0, len(rep.Operations))
		for op := range rep.Operations {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			fmt.Printf("  %-24s %d\n", op, rep.Operations[op])
		}
		fmt.Printf("  last hash %s\n", rep.LastHash)
		fmt.Printf("  signed checkpoint of %s at seq %d, key %s (%d checkpoints checked)\n",
			rep.CheckpointTime, rep.CheckpointSeq, rep.KeyID, rep.Checkpoints)
	}
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
