// Package function is lockbox-intake: a ticketing system's own webhook
// (Jira, GitHub, Zendesk, ServiceNow) files or closes lockbox requests.
// The HTTP contract is in this folder's README.md.
package function

import (
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/httpapi"
)

// svc is built once and kept for the life of the process.
var svc = app.API(config.Needs{Intake: true})

// The configuration is read as the process starts, so that every problem
// of the sources' document is logged at once, before the first delivery
// (a test sets svc itself).
func init() {
	if !testing.Testing() {
		go func() { _, _ = svc.Get() }()
	}
}

// Handle serves one delivery of lockbox-intake.
func Handle(req handler.Request) (handler.Response, error) {
	return httpapi.Serve(svc.Get, req, api.Intake)
}
