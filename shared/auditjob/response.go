package auditjob

import (
	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
)

func jsonResponse(status int, v any) handler.Response { return httpapi.JSON(status, v) }
