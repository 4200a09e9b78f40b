// Package objectstore is the S3-compatible object storage the audit archive
// is written to and read from (MinIO, AWS S3, or the embedded endpoint of
// `make run`), over aws-sdk-go-v2.
package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Config locates a bucket.
type Config struct {
	Endpoint  string // e.g. http://minio.openfaas:9000
	Region    string
	Bucket    string
	PathStyle bool // true for MinIO
	AccessKey string
	SecretKey string
	// LockMode is the object-lock mode retention uses: GOVERNANCE or
	// COMPLIANCE (the default).
	LockMode string
}

// Store reads and writes objects of one bucket.
type Store struct {
	client *s3.Client
	bucket string
	mode   types.ObjectLockMode
}

// New returns a store for cfg. Requests carry checksums (the SDK's default
// CRC32 when supported), and time out after 30 seconds.
func New(cfg Config) *Store {
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	client := s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: cfg.PathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		// The HTTP client is set here, not through config.LoadDefaultConfig,
		// which also reads AWS_* variables and CA bundles of the host.
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
		RetryMaxAttempts: 2,
	})
	mode := types.ObjectLockModeCompliance
	if cfg.LockMode == string(types.ObjectLockModeGovernance) {
		mode = types.ObjectLockModeGovernance
	}
	return &Store{client: client, bucket: cfg.Bucket, mode: mode}
}

// Client returns the underlying S3 client (for tests and tools).
func (s *Store) Client() *s3.Client { return s.client }

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Put writes body under key; with a non-zero retainUntil the object is
// locked (s.mode) until then.
func (s *Store) Put(ctx context.Context, key string, body []byte, retainUntil time.Time) error {
	in := &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/x-ndjson"),
	}
	if !retainUntil.IsZero() {
		in.ObjectLockMode = s.mode
		in.ObjectLockRetainUntilDate = aws.Time(retainUntil)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.explain(fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err))
	}
	return nil
}

// MissingBucketError is the failure of a call to a bucket that does not
// exist. Explain says how to create it.
type MissingBucketError struct {
	Bucket string
	Err    error
}

func (e *MissingBucketError) Error() string { return e.Explain() + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *MissingBucketError) Unwrap() error { return e.Err }

// Explain says what is missing and how to create it, in words safe to show.
func (e *MissingBucketError) Explain() string {
	return fmt.Sprintf("bucket %q does not exist: create it with object lock, e.g. `mc mb --with-lock <alias>/%s` "+
		"or `aws s3api create-bucket --bucket %s --object-lock-enabled-for-bucket` (README: Deploying)", e.Bucket, e.Bucket, e.Bucket)
}

// explain turns a failure on a missing bucket into a *MissingBucketError.
func (s *Store) explain(err error) error {
	var nsb *types.NoSuchBucket
	var api smithy.APIError
	if errors.As(err, &nsb) || (errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket") {
		return &MissingBucketError{Bucket: s.bucket, Err: err}
	}
	return err
}

// Get reads the object key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s.explain(fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err))
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// List returns the keys under prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.explain(fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err))
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Version is one version of an object, or a delete marker, as a listing of
// a bucket's versions shows it.
type Version struct {
	Key string
	// VersionID is "null" for an object written while the bucket had no
	// versioning.
	VersionID string
	// Latest is true for the version a plain Get reads (or, for a delete
	// marker, the one that makes a plain Get fail).
	Latest       bool
	DeleteMarker bool
	ETag         string
	LastModified time.Time
}

// ListVersions returns every version and delete marker under prefix, in key
// order and, for each key, the latest first, then newest first. On a bucket
// that never had versioning each object has one version, "null".
func (s *Store) ListVersions(ctx context.Context, prefix string) ([]Version, error) {
	var out []Version
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
	for {
		page, err := s.client.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, s.explain(fmt.Errorf("list versions of s3://%s/%s: %w", s.bucket, prefix, err))
		}
		for _, v := range page.Versions {
			out = append(out, Version{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), Latest: aws.ToBool(v.IsLatest),
				ETag: aws.ToString(v.ETag), LastModified: aws.ToTime(v.LastModified)})
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, Version{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId), Latest: aws.ToBool(m.IsLatest),
				DeleteMarker: true, LastModified: aws.ToTime(m.LastModified)})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		if page.NextKeyMarker == nil && page.NextVersionIdMarker == nil {
			return nil, fmt.Errorf("list versions of s3://%s/%s: a truncated page without a marker to go on from", s.bucket, prefix)
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	slices.SortStableFunc(out, func(a, b Version) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if a.Latest != b.Latest {
			if a.Latest {
				return -1
			}
			return 1
		}
		return b.LastModified.Compare(a.LastModified)
	})
	return out, nil
}

// GetVersion reads one version of key.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), VersionId: aws.String(versionID)})
	if err != nil {
		return nil, s.explain(fmt.Errorf("get s3://%s/%s version %s: %w", s.bucket, key, versionID, err))
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Versioning returns the bucket's versioning status: "Enabled", "Suspended",
// or "" for a bucket that never had versioning. A bucket with object lock
// always has it enabled.
func (s *Store) Versioning(ctx context.Context) (string, error) {
	out, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		return "", s.explain(fmt.Errorf("read the versioning of bucket %s: %w", s.bucket, err))
	}
	return string(out.Status), nil
}

// Delete removes key (its latest version, or the given version).
func (s *Store) Delete(ctx context.Context, key, versionID string) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	_, err := s.client.DeleteObject(ctx, in)
	return err
}

// EnsureBucket creates the bucket unless it exists; with objectLock the
// bucket is created with object lock (and so versioning) enabled.
func (s *Store) EnsureBucket(ctx context.Context, objectLock bool) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket), ObjectLockEnabledForBucket: aws.Bool(objectLock)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	return nil
}
