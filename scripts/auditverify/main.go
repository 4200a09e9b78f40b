// Command auditverify checks a tenant's audit archive in S3-compatible
// storage: object names, seq continuity across objects and the SHA-256 hash
// chain (see package lockbox.dev/shared/audit). It needs only read access.
//
//	auditverify -tenant contoso [-endpoint URL] [-bucket lockbox-audit] [-path-style]
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
	"errors"
	"flag"
	"fmt"
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
	secrets := flag.String("secrets", ".secrets", "folder of the s3-access-key and s3-secret-key files")
	flag.Parse()
	if *tenant == "" || *endpoint == "" {
		fmt.Fprintln(os.Stderr, "usage: auditverify -tenant TENANT [-endpoint URL] [-bucket B] (no endpoint: set s3_endpoint or start make run)")
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
	rep, err := audit.Verify(ctx, store, *tenant)
	var broken *audit.BreakError
	switch {
	case errors.As(err, &broken):
		fmt.Printf("tenant %s: BROKEN at seq %d in %s: %s\n", *tenant, broken.Seq, broken.Object, broken.Reason)
		fmt.Printf("  the %d events before it verify\n", rep.Events)
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
	}
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
