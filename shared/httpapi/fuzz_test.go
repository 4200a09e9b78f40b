package httpapi_test

import (
	"encoding/json"
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

// FuzzDecodeSettings feeds lockbox-settings documents to the strict decoder,
// the validator and what a PUT does with a valid one (merging secrets,
// naming the changes, deciding a request): never a panic, never a 5xx, and
// a document that passes keeps passing through a JSON round trip.
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
	f.Fuzz(func(t *testing.T, body []byte) {
		var s lockbox.Settings
		err := httpapi.Decode(jsonRequest(body), &s)
		checkRefusal(t, err)
		if err != nil {
			return
		}
		if err := s.Validate(false); err != nil {
			checkRefusal(t, err)
			return
		}
		next, err := s.Updated(lockbox.DefaultSettings(true), "ada")
		checkRefusal(t, err)
		_ = next.Changes(lockbox.DefaultSettings(true))
		r := lockbox.NewRequest(lockbox.CreateInput{TenantID: "t", ResourceType: "vm", ResourceIDs: []string{"a"}, Justification: "j",
			SupportRequest: "s", Requester: lockbox.Requester{ID: "eng-7"}}, "id", time.Now(), lockbox.DefaultLimits)
		_ = next.Decide(r.Govern(next))
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back lockbox.Settings
		if err := httpapi.Decode(jsonRequest(again), &back); err != nil || back.Validate(false) != nil {
			t.Fatalf("a valid document does not survive a round trip: %v %v\n%s", err, back.Validate(false), again)
		}
	})
}
