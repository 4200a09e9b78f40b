// Package function is lockbox-portal: the approver portal's pages. What it
// serves is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/app/portalapp"
	"lockbox.dev/shared/portal"
)

// pages is built on the first call and kept for the life of the process.
var pages = portalapp.Portal()

// Handle serves one call of lockbox-portal: a page, a form, the sign-in.
func Handle(req handler.Request) (handler.Response, error) {
	return portal.Serve(pages.Get, req)
}
