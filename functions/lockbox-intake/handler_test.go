package function

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
)

// world is the function on miniredis with the example sources.
type world struct {
	e    *apitest.Env
	cfg  *intake.Config
	call func(handler.Request) handler.Response
}

func setup(t *testing.T) *world {
	e, call := apitest.Setup(t, &svc, Handle)
	cfg, err := intake.Load(fixtures.Config())
	require.NoError(t, err)
	e.Svc.Intake = cfg
	return &world{e: e, cfg: cfg, call: call}
}

// delivery is fixture sent to source as its vendor sends it, signed now.
func (w *world) delivery(t *testing.T, source, fixture string) handler.Request {
	t.Helper()
	body, err := fixtures.Body(fixture)
	require.NoError(t, err)
	return w.signed(t, source, body)
}

func (w *world) signed(t *testing.T, source string, body []byte) handler.Request {
	t.Helper()
	src, err := w.cfg.Source(source)
	require.NoError(t, err)
	h := src.Sign(body, w.e.Now)
	h.Set(httpapi.HeaderPath, "/"+source)
	return handler.Request{Method: http.MethodPost, Body: body, Header: h}
}

// Every vendor files the request its "created" fixture asks for, once
// however often it is delivered, and closes it with its "resolved" one.
func TestEveryVendorFilesAndCloses(t *testing.T) {
	for _, source := range []string{"jira", "github", "zendesk", "servicenow", "servicenow-hmac"} {
		t.Run(source, func(t *testing.T) {
			w := setup(t)
			fixture := fixtures.Source(source) // servicenow-hmac takes servicenow's deliveries
			if source == "servicenow-hmac" {
				fixture = "servicenow"
			}
			created := w.delivery(t, source, fixture+"-created")
			resp := w.call(created)
			require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
			r := apitest.Decode[lockbox.Request](t, resp)
			assert.Equal(t, "contoso", r.TenantID)
			assert.Equal(t, lockbox.StatusPending, r.Status)
			assert.NotEmpty(t, r.SupportRequest)
			assert.NotEmpty(t, r.Requester.ID)

			// The vendor delivers it again (its retry, or a manual
			// redelivery): the same request, nothing filed twice.
			resp = w.call(created)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
			assert.Equal(t, r.RequestID, apitest.Decode[lockbox.Request](t, resp).RequestID)
			page, err := w.e.Store.List(t.Context(), lockbox.Query{Scope: lockbox.Scope{TenantID: "contoso"}, Limit: 10})
			require.NoError(t, err)
			assert.Len(t, page.Requests, 1)

			// The ticket is resolved: its pending request is withdrawn.
			resp = w.call(w.delivery(t, source, fixture+"-resolved"))
			require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
			res := apitest.Decode[api.IntakeResult](t, resp)
			assert.Equal(t, "closed", res.Result)
			assert.Equal(t, []string{r.RequestID}, res.Canceled)
			got, err := w.e.Store.Get(t.Context(), "contoso", r.RequestID)
			require.NoError(t, err)
			assert.Equal(t, lockbox.StatusCanceled, got.Status)
			require.NotNil(t, got.Closure)
			assert.Equal(t, "ticket:"+source, got.Closure.By)
		})
	}
}

// A resolved ticket ends the grant its approved request holds; the same
// close delivered again answers its first outcome and changes nothing.
func TestCloseRevokesLiveGrants(t *testing.T) {
	w := setup(t)
	resp := w.call(w.delivery(t, "jira", "jira-created"))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
	r := apitest.Decode[lockbox.Request](t, resp)
	_, err := w.e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, w.e.Now))
	require.NoError(t, err)

	resolved := w.delivery(t, "jira", "jira-resolved")
	resp = w.call(resolved)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	res := apitest.Decode[api.IntakeResult](t, resp)
	assert.Equal(t, []string{r.RequestID}, res.Revoked)
	assert.Empty(t, res.Canceled)
	got, err := w.e.Store.Get(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	assert.Equal(t, lockbox.StatusRevoked, got.Status)
	assert.False(t, got.AccessActive)

	before := w.e.Snapshot()
	resp = w.call(resolved)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	res = apitest.Decode[api.IntakeResult](t, resp)
	assert.Equal(t, []string{r.RequestID}, res.Revoked, "the first outcome")
	assert.True(t, res.Replayed)
	assert.Equal(t, before, w.e.Snapshot(), "a close delivered again changes nothing")
}

// A ticket's close acts only on what its own source filed: a request filed
// through lockbox-create (or by an engineer, or another source) that names
// the same ticket is left alone. A Jira resolve used to cancel or revoke
// any request sharing the ticket id.
func TestCloseActsOnlyOnItsOwnSourcesRequests(t *testing.T) {
	w := setup(t)
	resp := w.call(w.delivery(t, "jira", "jira-created"))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
	own := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, "intake:jira", own.FiledVia)

	// The same ticket, filed two other ways: signed lockbox-create, and the
	// engineer's own token; one pending, one with a live grant.
	in := apitest.CreateInput("contoso", "eng-7")
	in.SupportRequest = own.SupportRequest
	resp = w.e.Serve(api.Create, w.e.Signed(apitest.JSON(in)))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
	viaWebhook := apitest.Decode[lockbox.Request](t, resp)
	in.Requester.ID = "eng-9"
	resp = w.e.Serve(api.Create, w.e.Post(w.e.Token("eng-9", "provider", lockbox.RoleRequester), apitest.JSON(in)))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
	viaToken := apitest.Decode[lockbox.Request](t, resp)
	_, err := w.e.Store.Act(t.Context(), "contoso", viaToken.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, w.e.Now))
	require.NoError(t, err)

	resp = w.call(w.delivery(t, "jira", "jira-resolved"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	res := apitest.Decode[api.IntakeResult](t, resp)
	assert.Equal(t, []string{own.RequestID}, res.Canceled)
	assert.Empty(t, res.Revoked)
	for _, other := range []struct {
		r    lockbox.Request
		want lockbox.Status
	}{{viaWebhook, lockbox.StatusPending}, {viaToken, lockbox.StatusApproved}} {
		got, err := w.e.Store.Get(t.Context(), "contoso", other.r.RequestID)
		require.NoError(t, err)
		assert.Equal(t, other.want, got.Status, "a request filed via %s is untouched", got.FiledVia)
	}
	// Another source of the same kind does not close this source's filings.
}

// The tenant's rules apply to what a ticket files, as to lockbox-create.
func TestRulesApply(t *testing.T) {
	w := setup(t)
	w.e.Configure("contoso", func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "jira-reads", Effect: lockbox.EffectAutoApprove,
			Match: lockbox.RuleMatch{WorkItemSources: []string{"Jira"}, AccessLevels: []string{"Read"}}}}
	})
	resp := w.call(w.delivery(t, "jira", "jira-created"))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
	r := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, lockbox.StatusApproved, r.Status)
	assert.True(t, r.AccessActive)
}

// Each refusal is the status the contract names, and changes nothing.
func TestRefusals(t *testing.T) {
	w := setup(t)
	jira, err := fixtures.Body("jira-created")
	require.NoError(t, err)
	signed := func(mutate func(*handler.Request)) handler.Request {
		req := w.signed(t, "jira", jira)
		mutate(&req)
		return req
	}
	// A created issue whose reporter has no address: the requester id is
	// missing; and an issue of an unknown tenant field.
	invalid := strings.Replace(string(jira), `"emailAddress": "`, `"emailAddressGone": "`, -1)
	before := w.e.Snapshot()
	for _, c := range []struct {
		name   string
		req    handler.Request
		status int
		says   string
	}{
		{"unknown source", signed(func(r *handler.Request) { r.Header.Set(httpapi.HeaderPath, "/bitbucket") }), http.StatusNotFound, "bitbucket"},
		{"no source", signed(func(r *handler.Request) { r.Header.Set(httpapi.HeaderPath, "/") }), http.StatusNotFound, "no such intake source"},
		{"a deeper path", signed(func(r *handler.Request) { r.Header.Set(httpapi.HeaderPath, "/jira/x") }), http.StatusNotFound, "no such"},
		{"no signature", signed(func(r *handler.Request) { r.Header.Del(intake.HeaderJiraSignature) }), http.StatusUnauthorized, intake.HeaderJiraSignature},
		{"another secret", w.signedWith(t, "jira", "not-the-jira-secret-at-all-0001", jira), http.StatusUnauthorized, "does not match"},
		{"a changed body", signed(func(r *handler.Request) { r.Body = []byte(strings.Replace(string(r.Body), "ACC-42", "ACC-43", 1)) }),
			http.StatusUnauthorized, "does not match"},
		{"GitHub's signature on a Jira source", w.retarget(t, "github", "jira", "github-created"), http.StatusUnauthorized, intake.HeaderJiraSignature},
		{"form-encoded", signed(func(r *handler.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }),
			http.StatusUnsupportedMediaType, "application/json"},
		{"not JSON", w.signed(t, "jira", []byte("payload=%7B%7D")), http.StatusBadRequest, "not valid JSON"},
		{"a key twice", w.signed(t, "jira", []byte(`{"webhookEvent":"jira:issue_created","webhookEvent":"x"}`)), http.StatusBadRequest, "twice"},
		{"an invalid mapped request", w.signed(t, "jira", []byte(invalid)), http.StatusUnprocessableEntity, "requester.id"},
		{"too large", w.signed(t, "jira", []byte(`{"a":"`+strings.Repeat("x", api.MaxIntakeBody)+`"}`)), http.StatusRequestEntityTooLarge, "larger"},
		{"GET", signed(func(r *handler.Request) { r.Method = http.MethodGet }), http.StatusMethodNotAllowed, "POST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := w.call(c.req)
			assert.Equal(t, c.status, resp.StatusCode, string(resp.Body))
			assert.Contains(t, string(resp.Body), c.says)
		})
	}
	assert.Equal(t, before, w.e.Snapshot(), "a refused delivery writes nothing")
}

// A delivery no action selects (an edited issue) is accepted and ignored.
func TestUnselectedDeliveryIsIgnored(t *testing.T) {
	w := setup(t)
	before := w.e.Snapshot()
	for _, f := range []string{"jira-updated", "github-updated"} {
		resp := w.call(w.delivery(t, fixtures.Source(f), f))
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(resp.Body))
		assert.Equal(t, "ignored", apitest.Decode[api.IntakeResult](t, resp).Result)
	}
	assert.Equal(t, before, w.e.Snapshot())
}

// signedWith signs body for source with another secret.
func (w *world) signedWith(t *testing.T, source, secret string, body []byte) handler.Request {
	t.Helper()
	src, err := w.cfg.Source(source)
	require.NoError(t, err)
	h := intake.SignFixture(src.Kind, secret, body, w.e.Now)
	h.Set(httpapi.HeaderPath, "/"+source)
	return handler.Request{Method: http.MethodPost, Body: body, Header: h}
}

// retarget signs fixture as from's vendor does but sends it to source to.
func (w *world) retarget(t *testing.T, from, to, fixture string) handler.Request {
	t.Helper()
	req := w.delivery(t, from, fixture)
	req.Header.Set(httpapi.HeaderPath, "/"+to)
	return req
}

// A captured delivery of a vendor that signs the body only (Jira, GitHub,
// ServiceNow's HMAC) sent again with a new delivery id, once the 15-minute
// replay memory has ended, files nothing: the same signed body is the same
// delivery for as long as a request may stay pending. It used to file a
// second request.
func TestSameBodyUnderANewDeliveryIDFilesNothing(t *testing.T) {
	for _, c := range []struct{ source, header string }{
		{"jira", intake.HeaderJiraDelivery}, {"github", intake.HeaderGitHubDelivery},
	} {
		t.Run(c.source, func(t *testing.T) {
			w := setup(t)
			first := w.delivery(t, c.source, fixtures.Source(c.source)+"-created")
			resp := w.call(first)
			require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
			r := apitest.Decode[lockbox.Request](t, resp)

			for _, later := range []time.Duration{16 * time.Minute, 90 * time.Hour} {
				w.e.Advance(later - w.e.Now.Sub(r.CreatedDateTime))
				again := w.delivery(t, c.source, fixtures.Source(c.source)+"-created")
				again.Header.Set(c.header, "00000000-0000-4000-8000-"+fmt.Sprintf("%012d", int(later.Minutes())))
				before := w.e.SnapshotWithoutReplayMarkers()
				resp = w.call(again)
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s later: %s", later, resp.Body)
				assert.Equal(t, r.RequestID, apitest.Decode[lockbox.Request](t, resp).RequestID, "%s later: the first request", later)
				assert.Equal(t, before, w.e.SnapshotWithoutReplayMarkers(), "%s later: nothing filed", later)
			}
		})
	}
}

// The same close, sent again with a new delivery id after the replay
// memory ended, answers its first outcome and changes nothing.
func TestSameCloseUnderANewDeliveryID(t *testing.T) {
	w := setup(t)
	resp := w.call(w.delivery(t, "jira", "jira-created"))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
	r := apitest.Decode[lockbox.Request](t, resp)
	resp = w.call(w.delivery(t, "jira", "jira-resolved"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	w.e.Advance(time.Hour)
	again := w.delivery(t, "jira", "jira-resolved")
	again.Header.Set(intake.HeaderJiraDelivery, "00000000-0000-4000-8000-000000000060")
	before := w.e.Snapshot()
	resp = w.call(again)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	res := apitest.Decode[api.IntakeResult](t, resp)
	assert.Equal(t, []string{r.RequestID}, res.Canceled)
	assert.True(t, res.Replayed)
	assert.Equal(t, before, w.e.Snapshot())
}

// While the tenant is locked down, a ticketing system's delivery files
// nothing: 423 TenantLockedDown, nothing written; once lifted, the same
// vendor files again.
func TestLockedDownTenantRefusesDeliveries(t *testing.T) {
	w := setup(t)
	ada := lockbox.Principal{Kind: lockbox.KindUser, Subject: "ada", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleAdmin}}
	_, err := w.e.Cases.Lockdown(t.Context(), ada, lockbox.LockdownBody{Reason: "incident INC-2040"})
	require.NoError(t, err)
	for _, source := range []string{"jira", "github"} {
		before := w.e.SnapshotWithoutReplayMarkers() // the lockdown put contoso in lb:tenants already
		resp := w.call(w.delivery(t, source, fixtures.Source(source)+"-created"))
		assert.Equal(t, http.StatusLocked, resp.StatusCode, "%s: %s", source, resp.Body)
		assert.Equal(t, "TenantLockedDown", apitest.ErrorOf(t, resp).Code)
		assert.Equal(t, before, w.e.SnapshotWithoutReplayMarkers(), "%s filed something", source)
	}
	_, err = w.e.Cases.LiftLockdown(t.Context(), ada, lockbox.LiftInput{})
	require.NoError(t, err)
	w.e.Advance(time.Second)
	resp := w.call(w.delivery(t, "jira", fixtures.Source("jira")+"-created"))
	assert.Equal(t, http.StatusCreated, resp.StatusCode, string(resp.Body))
}
