// Package function is lockbox-audit: the scheduled housekeeping that records
// due expiries and grant completions and exports the audit log to object
// storage. The HTTP contract is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/auditjob"
	"lockbox.dev/shared/config"
)

// deps are built on the first call and kept for the life of the process.
var deps = app.FromEnv(config.Needs{S3: true})

var job auditjob.Once

// Handle serves one (scheduled) call of lockbox-audit.
func Handle(req handler.Request) (handler.Response, error) {
	return api.Serve(deps, req, job.Flow)
}
