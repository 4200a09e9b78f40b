package function

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/notifyapp"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail/mailtest"
	"lockbox.dev/shared/notify"
	"lockbox.dev/shared/nudge"
)

// setup gives the function a store on miniredis and a real SMTP server;
// contoso's approver is alice.
func setup(t *testing.T) (*apitest.Env, *mailtest.Server, func(handler.Request) handler.Response) {
	e := apitest.New(t)
	smtp := mailtest.Start(t)
	j, err := notifyapp.Job(e.Store, config.Config{Notify: config.Notify{SMTPURL: smtp.URL(), MailFrom: "Lockbox <lockbox@provider.example>",
		PortalURL: "https://lockbox.example/portal"}})
	require.NoError(t, err)
	j.Now = func() time.Time { return e.Now }
	j.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	job = app.Fixed(&notify.Handler{Job: j, Auth: e.Svc.Auth, Deliveries: e.Store})
	e.Configure("contoso", func(s *lockbox.Settings) {
		s.Approvers = []lockbox.Approver{{ID: "alice", Email: "alice@contoso.example"}}
	})
	return e, smtp, func(req handler.Request) handler.Response {
		t.Helper()
		resp, err := Handle(req)
		require.NoError(t, err, "Handle returned an error (the template would answer a bare 500)")
		return resp
	}
}

// A nudge sends what the change recorded; the cron's empty call finds
// nothing left; the tenant's approver reads the delivery.
func TestNudgeSendsAndApproverReads(t *testing.T) {
	e, smtp, call := setup(t)
	r := e.File("contoso", "eng-7")

	// A nudge names every tenant changed since the last one (a tenant with
	// nothing to send costs nothing; one named twice is worked on once).
	resp := call(handler.Request{Method: http.MethodPost, Body: []byte(`{"tenantIds":["contoso","northwind","contoso"]}`),
		Header: http.Header{"Content-Type": {"application/json"}}})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	s := apitest.Decode[notify.Summary](t, resp)
	assert.Equal(t, 1, s.Sent)
	assert.Nil(t, s.Errors, "an unauthenticated call gets counts only")
	mails := smtp.Mails()
	require.Len(t, mails, 1)
	assert.Equal(t, []string{"alice@contoso.example"}, mails[0].To)

	resp = call(handler.Request{Method: http.MethodPost})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	assert.Zero(t, apitest.Decode[notify.Summary](t, resp).Sent)
	assert.Len(t, smtp.Mails(), 1, "nothing is sent twice")

	resp = call(e.Get(e.Token("alice", "contoso", lockbox.RoleApprover), "requestId="+r.RequestID))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	views := apitest.Decode[struct{ Value []notify.DeliveryView }](t, resp).Value
	require.Len(t, views, 1)
	assert.Equal(t, lockbox.DeliverySent, views[0].State)
	assert.Equal(t, "a***@contoso.example", views[0].Recipient)
}

// Deliveries are the tenant's approvers' and admins' to read; bad input is a
// 4xx that changes nothing.
func TestRefusals(t *testing.T) {
	e, smtp, call := setup(t)
	r := e.File("contoso", "eng-7")
	other := e.File("fabrikam", "eng-7")
	before := e.Snapshot()
	for _, c := range []struct {
		name   string
		req    handler.Request
		status int
	}{
		{"no credentials", e.Get("", "requestId="+r.RequestID), http.StatusUnauthorized},
		{"a reader", e.Get(e.Token("rita", "contoso", lockbox.RoleReader), "requestId="+r.RequestID), http.StatusForbidden},
		{"another tenant's request", e.Get(e.Token("alice", "contoso", lockbox.RoleApprover), "requestId="+other.RequestID), http.StatusNotFound},
		{"no request id", e.Get(e.Token("alice", "contoso", lockbox.RoleApprover), ""), http.StatusBadRequest},
		{"unknown parameter", e.Get(e.Token("alice", "contoso", lockbox.RoleApprover), "requestId="+r.RequestID+"&x=1"), http.StatusBadRequest},
		{"a bad tenant in a nudge", asyncPost(`{"tenantIds":["contoso","../x"]}`), http.StatusBadRequest},
		{"a nudge naming no tenant", asyncPost(`{"tenantIds":[]}`), http.StatusBadRequest},
		{"a nudge naming too many", asyncPost(`{"tenantIds":["` + strings.Repeat(`t","`, nudge.MaxTenants) + `t"]}`), http.StatusBadRequest},
		{"a nudge of one tenant by the old name", asyncPost(`{"tenantId":"contoso"}`), http.StatusBadRequest},
		{"an unknown field", handler.Request{Method: http.MethodPost, Body: []byte(`{"tenant":"contoso"}`),
			Header: http.Header{"Content-Type": {"application/json"}}}, http.StatusBadRequest},
		{"PUT", handler.Request{Method: http.MethodPut}, http.StatusMethodNotAllowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := call(c.req)
			assert.Equal(t, c.status, resp.StatusCode, string(resp.Body))
		})
	}
	assert.Equal(t, before, e.Snapshot(), "a refused call changes nothing")
	assert.Empty(t, smtp.Mails())
}

// asyncPost is a POST of body as the gateway's async route forwards it.
func asyncPost(body string) handler.Request {
	return handler.Request{Method: http.MethodPost, Body: []byte(body), Header: http.Header{"Content-Type": {"application/json"}}}
}

// The longest nudge the client sends (MaxTenants tenant ids of the longest
// length) fits in a body the function accepts, and is served.
func TestLongestNudgeIsAccepted(t *testing.T) {
	_, _, call := setup(t)
	ids := make([]string, nudge.MaxTenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("%064d", i)
	}
	body, err := json.Marshal(nudge.Body{TenantIDs: ids})
	require.NoError(t, err)
	require.LessOrEqual(t, len(body), httpapi.MaxBody)
	resp := call(asyncPost(string(body)))
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
}
