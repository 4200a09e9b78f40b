// Package function is a Lockbox function scaffold.
package function

import (
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// Handle answers one call. Return your own status code for every expected
// failure: a non-nil error becomes a bare 500.
func Handle(req handler.Request) (handler.Response, error) {
	return handler.Response{StatusCode: http.StatusOK, Body: []byte("ok\n")}, nil
}
