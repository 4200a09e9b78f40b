package httpapi_test

import (
	"errors"
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

func jsonRequest(body []byte) handler.Request {
	return handler.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

// checkRefusal fails unless err is nil or a 4xx domain error.
func checkRefusal(t *testing.T, err error) {
	var le *lockbox.Error
	if err != nil && (!errors.As(err, &le) || httpapi.Status(le.Kind) >= 500) {
		t.Fatalf("untrusted input must be refused with a 4xx, got %v", err)
	}
}

// FuzzDecodeCreate feeds lockbox-create bodies to the strict decoder and the
// validator: never a panic, never a 5xx, and what passes is valid.
func FuzzDecodeCreate(f *testing.F) {
	for _, seed := range []string{
		`{"tenantId":"contoso","resourceType":"vm","resourceIds":["vm-1"],"justification":"why","supportRequest":"INC-1","requester":{"id":"eng-7"}}`,
		`{"tenantId":"contoso","resourceType":"vm","resourceIds":["vm-1"],"justification":"why","supportRequest":"INC-1","requester":{"id":"eng-7","displayName":"E"},"duration":8,"supportCaseUrl":"https://x.example/1"}`,
		`{"tenantId":"a","tenantId":"b"}`, `{"TenantId":"a"}`, `{"requester":{"id":{"id":1}}}`, `[]`, `null`, `{"duration":1e309}`,
		"{\"justification\":\"\xff\"}", `{"resourceIds":[` + "\"a\"," + `"b"]}{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in lockbox.CreateInput
		err := httpapi.Decode(jsonRequest(body), &in)
		checkRefusal(t, err)
		if err == nil {
			checkRefusal(t, in.Validate())
		}
	})
}

// FuzzDecodeDecision does the same for approve and deny bodies.
func FuzzDecodeDecision(f *testing.F) {
	for _, seed := range []string{
		`{"requestId":"0b6f1c2e-9d7a-4c3b-8e5f-1a2b3c4d5e6f","reason":"ok"}`,
		`{"requestId":"x","reason":"ok","duration":2}`, `{"requestId":"x","reason":"ok","duration":"2"}`,
		`{"requestId":"*","reason":""}`, `{"reason":"ok","reason":"no"}`, `{}`, `""`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in lockbox.DecisionInput
		err := httpapi.Decode(jsonRequest(body), &in)
		checkRefusal(t, err)
		if err == nil {
			checkRefusal(t, in.Validate(true))
			checkRefusal(t, in.Validate(false))
		}
	})
}
