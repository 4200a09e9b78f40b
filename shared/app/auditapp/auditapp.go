// Package auditapp builds lockbox-audit's dependencies, as package app does
// for the request functions: apart, so that only lockbox-audit links object
// storage.
package auditapp

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/auditjob"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/objectstore"
)

// Audit returns lockbox-audit's handler, built from the process environment.
func Audit() *app.Lazy[*auditjob.Handler] {
	return app.NewLazy(func() (*auditjob.Handler, redis.UniversalClient, error) {
		p, err := app.Open(config.Needs{Webhook: true, JWT: true, S3: true, AuditKey: true})
		if err != nil {
			return nil, nil, err
		}
		keys, err := audit.ParseSigningKeys(p.Config.AuditSigningKey)
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s: %w", config.SecretAuditSigning, err)
		}
		store := p.Store
		s3 := p.Config.S3
		exporter := audit.NewExporter(store, objectstore.New(objectstore.Config{Endpoint: s3.Endpoint, Region: s3.Region,
			Bucket: s3.Bucket, PathStyle: s3.PathStyle, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, LockMode: s3.ObjectLockMode}), keys[0])
		for _, k := range keys[1:] {
			exporter.Trust = append(exporter.Trust, k.Public().(ed25519.PublicKey))
		}
		exporter.Batch = s3.AuditBatch
		exporter.Retention = time.Duration(s3.ObjectLockDays) * 24 * time.Hour
		job := &auditjob.Job{Store: store, Exporter: exporter, Now: time.Now, Log: slog.Default()}
		return &auditjob.Handler{Job: job, Auth: p.Verifier}, p.Redis, nil
	})
}
