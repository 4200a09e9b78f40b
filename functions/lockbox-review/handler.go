// Package function is lockbox-review: the customer reviews the provider's
// emergency access (break-glass) after the fact, acknowledging or
// disputing it.
// The HTTP contract is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/httpapi"
)

// svc is built on the first call and kept for the life of the process.
var svc = app.API(config.Needs{JWT: true})

// Handle serves one call of lockbox-review.
func Handle(req handler.Request) (handler.Response, error) {
	return httpapi.Serve(svc.Get, req, api.Review)
}
