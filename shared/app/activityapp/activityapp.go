// Package activityapp builds lockbox-activity's dependencies: those of the
// request functions (package app) and the activity log, which reads the
// audit archive from object storage and the events not yet exported from
// Redis. Apart, so that only the functions that read the archive link
// object storage.
package activityapp

import (
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/audit"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
)

// API returns lockbox-activity's service, built from the process
// environment.
func API() *app.Lazy[*api.Service] {
	return app.NewLazy(func() (*api.Service, redis.UniversalClient, error) {
		p, err := app.Open(config.Needs{Webhook: true, JWT: true, S3: true})
		if err != nil {
			return nil, nil, err
		}
		svc := p.Service()
		svc.Cases.ActivityLog = Log(p.Store, p.Config)
		return svc, p.Redis, nil
	})
}

// Log returns the activity log of the archive configured by cfg and of the
// events waiting in events.
func Log(events audit.EventSource, cfg config.Config) lockbox.ActivityLog {
	s3 := cfg.S3
	return &audit.Activity{Events: events, Archive: objectstore.New(objectstore.Config{Endpoint: s3.Endpoint, Region: s3.Region,
		Bucket: s3.Bucket, PathStyle: s3.PathStyle, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})}
}
