// Package function is lockbox-audit: the scheduled housekeeping that records
// due expiries and grant completions and exports the audit log to object
// storage. The HTTP contract is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/app/auditapp"
	"lockbox.dev/shared/auditjob"
	"lockbox.dev/shared/httpapi"
)

// job is built on the first call and kept for the life of the process.
var job = auditapp.Audit()

// Handle serves one (scheduled) call of lockbox-audit.
func Handle(req handler.Request) (handler.Response, error) {
	return httpapi.Serve(job.Get, req, (*auditjob.Handler).Serve)
}
