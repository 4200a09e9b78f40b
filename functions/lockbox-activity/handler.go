// Package function is lockbox-activity: a tenant's audit events, newest
// first. The HTTP contract is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/activityapp"
	"lockbox.dev/shared/httpapi"
)

// svc is built on the first call and kept for the life of the process.
var svc = activityapp.API()

// Handle serves one call of lockbox-activity.
func Handle(req handler.Request) (handler.Response, error) {
	return httpapi.Serve(svc.Get, req, api.Activity)
}
