// Package function is lockbox-create: it files a lockbox request.
// The HTTP contract is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/config"
)

// deps are built on the first call and kept for the life of the process.
var deps = app.FromEnv(config.Needs{Webhook: true, JWT: true})

// Handle serves one call of lockbox-create.
func Handle(req handler.Request) (handler.Response, error) {
	return api.Serve(deps, req, api.Create)
}
