package httpapi_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

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
// validator: never a panic, never a 5xx, and what passes re-validates,
// round-trips and holds what the body said (checkAccepted).
func FuzzDecodeCreate(f *testing.F) {
	for _, seed := range []string{
		`{"tenantId":"contoso","resourceType":"vm","resourceIds":["vm-1"],"justification":"why","supportRequest":"INC-1","requester":{"id":"eng-7"}}`,
		`{"tenantId":"contoso","resourceType":"vm","resourceIds":["vm-1"],"justification":"why","supportRequest":"INC-1","requester":{"id":"eng-7","displayName":"E"},"duration":8,"supportCaseUrl":"https://x.example/1"}`,
		`{"tenantId":"a","tenantId":"b"}`, `{"TenantId":"a"}`, `{"requester":{"id":{"id":1}}}`, `[]`, `null`, `{"duration":1e309}`,
		"{\"justification\":\"\xff\"}", `{"resourceIds":[` + "\"a\"," + `"b"]}{}`,
	} {
		f.Add([]byte(seed))
	}
	accept := decodeAndValidate(lockbox.CreateInput.Validate)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAccepted(t, body, accept, lockbox.CreateInput.Validate)
	})
}

// FuzzDecodeDecision does the same for approve and deny bodies (a deny
// body with a duration is refused).
func FuzzDecodeDecision(f *testing.F) {
	for _, seed := range []string{
		`{"requestId":"0b6f1c2e-9d7a-4c3b-8e5f-1a2b3c4d5e6f","reason":"ok"}`,
		`{"requestId":"x","reason":"ok","duration":2}`, `{"requestId":"x","reason":"ok","duration":"2"}`,
		`{"requestId":"*","reason":""}`, `{"reason":"ok","reason":"no"}`, `{}`, `""`,
	} {
		f.Add([]byte(seed))
	}
	approve, deny := decodeAndValidate(approveValid), decodeAndValidate(denyValid)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAccepted(t, body, approve, approveValid)
		checkAccepted(t, body, deny, denyValid)
	})
}

// FuzzDecodeSettings feeds lockbox-settings documents to the strict decoder,
// the validator and what a PUT does with a valid one (merging secrets,
// naming the changes, deciding a request): never a panic, never a 5xx, and
// a document that passes re-validates, round-trips and holds what the body
// said (checkAccepted).
func FuzzDecodeSettings(f *testing.F) {
	for _, seed := range []string{
		`{"enabled":true,"approvers":[],"escalation":null,"reminders":["24h","2h"],"requiredApprovals":1,"maxDuration":null,"rules":[],"webhooks":[]}`,
		`{"enabled":false,"approvers":[{"id":"alice","email":"alice@contoso.example","alternateEmail":"a@b.example"}],"requiredApprovals":2,"maxDuration":4,` +
			`"rules":[{"name":"r","effect":"autoDeny","match":{"resourceTypes":["vm"],"missingSupportCaseUrl":true,"schedule":{"timezone":"Europe/Berlin","days":["Mon"],"from":"22:00","to":"06:00","outside":true}}}],` +
			`"webhooks":[{"id":"w","url":"https://93.184.215.14/h","format":"teams","events":["created"],"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]}`,
		`{"requiredApprovals":1e9}`, `{"rules":[{"match":{"schedule":{"timezone":"../../etc/passwd"}}}]}`, `{"webhooks":[{"url":"javascript:x"}]}`,
		`{"escalation":{"after":"-1h","contacts":[]}}`, `{"version":5,"updatedBy":"x"}`, `{"reminders":[1]}`,
	} {
		f.Add([]byte(seed))
	}
	accept := decodeAndValidate(settingsValid)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAccepted(t, body, accept, settingsValid)
		s, err := accept(body)
		if err != nil {
			return
		}
		next, err := s.Updated(lockbox.DefaultSettings(true), "ada")
		checkRefusal(t, err)
		_ = next.Changes(lockbox.DefaultSettings(true))
		r := lockbox.NewRequest(lockbox.CreateInput{TenantID: "t", ResourceType: "vm", ResourceIDs: []string{"a"}, Justification: "j",
			SupportRequest: "s", Requester: lockbox.Requester{ID: "eng-7"}}, "id", time.Now(), lockbox.DefaultLimits)
		_ = next.Decide(r.Govern(next))
	})
}

func settingsValid(s lockbox.Settings) error { return s.Validate(false) }
