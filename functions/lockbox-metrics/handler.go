// Package function is lockbox-metrics: Lockbox's figures in Prometheus's
// text exposition, for a scraper holding the secret metrics-token.
// The HTTP contract is in this folder's README.md.
package function

import (
	"sync"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// exporter is built on the first call and kept for the life of the process.
var exporter = sync.OnceValue(newExporter)

// Handle serves one scrape of lockbox-metrics.
func Handle(req handler.Request) (handler.Response, error) {
	return exporter().Serve(req), nil
}
