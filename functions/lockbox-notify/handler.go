// Package function is lockbox-notify: it tells approvers, requesters and
// webhooks about requests. The HTTP contract is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/app/notifyapp"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/notify"
)

// job is built on the first call and kept for the life of the process.
var job = notifyapp.Notify()

// Handle serves one call of lockbox-notify: a run (scheduled or nudged), or
// a request's deliveries.
func Handle(req handler.Request) (handler.Response, error) {
	return httpapi.Serve(job.Get, req, (*notify.Handler).Serve)
}
