// Package function is bench-noop, the benchmark's HTTP ceiling: a function
// built with the same template as the Lockbox functions that does no work,
// so that what it costs is the template's server and the HTTP round trip.
package function

import (
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"
)

var body = []byte(`{"ok":true}`)

// Handle answers every call with 200 and a small JSON body.
func Handle(req handler.Request) (handler.Response, error) {
	return handler.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       body,
	}, nil
}
