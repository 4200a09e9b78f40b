// Package function is lockbox-credential: OpenSSH user certificates for the
// engineers holding a live grant, and the CA's public keys for sshd. The
// HTTP contract is in this folder's README.md.
package function

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/httpapi"
)

// svc is built on the first call and kept for the life of the process.
var svc = app.Credentials()

// Handle serves one call of lockbox-credential.
func Handle(req handler.Request) (handler.Response, error) {
	return httpapi.Serve(svc.Get, req, api.Credential)
}
