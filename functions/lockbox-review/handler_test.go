package function

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
)

func setup(t *testing.T) (*apitest.Env, func(handler.Request) handler.Response) {
	e, call := apitest.Setup(t, &svc, Handle)
	// The provider's policy: two provider-approvers let emergency access to
	// contoso's virtual machines in, for at most 2 hours.
	e.Cases.Policy = &lockbox.ProviderPolicy{Rules: []lockbox.ProviderRule{{Name: "vm-emergency",
		Match:     lockbox.ProviderMatch{ResourceTypes: []string{"Microsoft.Compute/*"}},
		Emergency: &lockbox.EmergencyRule{Approvals: 2, MaxDuration: 2}}}, Identity: lockbox.DefaultIdentityChecks}
	return e, call
}

// emergency files emergency access for eng-7 in contoso through
// lockbox-create, and lets it in with the two provider-approvers'
// approvals through lockbox-approve.
func emergency(t *testing.T, e *apitest.Env) lockbox.Request {
	t.Helper()
	in := apitest.CreateInput("contoso", "eng-7")
	in.Duration = new(2)
	in.Emergency = &lockbox.EmergencyInput{Incident: "INC-9001", Reason: "region outage: the database is corrupting writes"}
	eng := e.Token("eng-7", "provider", lockbox.RoleRequester)
	resp := e.Serve(api.Create, e.Post(eng, apitest.JSON(in)))
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", resp.Body)
	r := apitest.Decode[lockbox.Request](t, resp)
	require.Equal(t, lockbox.StatusInternalReview, r.Status)
	for _, lead := range []string{"lead-1", "lead-2"} {
		tok := e.Token(lead, "provider", lockbox.RoleProviderApprover)
		body := fmt.Sprintf(`{"requestId":%q,"tenantId":"contoso","reason":"outage bridge agreed"}`, r.RequestID)
		resp = e.Serve(api.Approve, e.Post(tok, body))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", resp.Body)
	}
	r = apitest.Decode[lockbox.Request](t, resp)
	require.Equal(t, lockbox.StatusApproved, r.Status, "live once both approved")
	return r
}

// Emergency access goes live with the provider's approvals alone, and the
// customer reviews it: it is listed until reviewed, an acknowledgement is
// recorded once, on the request and in the audit log, and a second review
// is refused.
func TestAcknowledge(t *testing.T) {
	e, call := setup(t)
	r := emergency(t, e)
	require.NotNil(t, r.Emergency)
	require.NotNil(t, r.Emergency.ReviewDueDateTime)
	assert.Equal(t, e.Now.Add(72*time.Hour), *r.Emergency.ReviewDueDateTime, "due review_ttl after it went live")
	assert.Equal(t, e.Now.Add(2*time.Hour), *r.AccessExpirationDateTime)
	assert.Len(t, r.ProviderChecks.InternalApprovals, 2)

	alice := e.Token("alice", "contoso", lockbox.RoleApprover)
	listed := apitest.Decode[struct{ Value []lockbox.Request }](t, call(e.Get(alice, "")))
	require.Len(t, listed.Value, 1)
	assert.Equal(t, r.RequestID, listed.Value[0].RequestID)

	body := fmt.Sprintf(`{"requestId":%q,"verdict":"acknowledge","reason":"we asked for help on the bridge"}`, r.RequestID)
	resp := call(e.Post(alice, body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", resp.Body)
	got := apitest.Decode[lockbox.Request](t, resp)
	require.NotNil(t, got.Emergency.Review)
	assert.Equal(t, lockbox.EmergencyReview{Verdict: "acknowledge", By: "alice", Reason: "we asked for help on the bridge", DateTime: e.Now},
		*got.Emergency.Review)
	assert.Equal(t, lockbox.StatusApproved, got.Status, "a review leaves the grant alone")
	assert.True(t, got.AccessActive)

	resp = call(e.Post(alice, body))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "AlreadyReviewed", apitest.ErrorOf(t, resp).Code)
	listed = apitest.Decode[struct{ Value []lockbox.Request }](t, call(e.Get(alice, "")))
	assert.Empty(t, listed.Value, "reviewed: no longer awaiting review")

	events, err := e.Store.ReadEvents(t.Context(), "contoso", "", "", 100)
	require.NoError(t, err)
	var ops []string
	for _, ev := range events {
		ops = append(ops, ev.Event.OperationName)
	}
	assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpEmergencyApprove, lockbox.OpEmergencyApprove, lockbox.OpAcknowledgeEmergency}, ops)
}

// A dispute is recorded, and told: the outbox holds the filing's notice
// (for the provider's approvers), the emergency's from its going live and
// the dispute's, with its reason.
func TestDispute(t *testing.T) {
	e, call := setup(t)
	r := emergency(t, e)
	ada := e.Token("ada", "contoso", lockbox.RoleAdmin)
	resp := call(e.Post(ada, fmt.Sprintf(`{"requestId":%q,"verdict":"dispute","reason":"no outage was ever declared"}`, r.RequestID)))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", resp.Body)
	got := apitest.Decode[lockbox.Request](t, resp)
	assert.Equal(t, "dispute", got.Emergency.Review.Verdict)

	notes, err := e.Store.Outbox(t.Context(), "contoso", 10)
	require.NoError(t, err)
	var types []lockbox.NotificationType
	for _, n := range notes {
		types = append(types, n.Type)
	}
	assert.Equal(t, []lockbox.NotificationType{lockbox.NoteEmergencyRequested, lockbox.NoteEmergency, lockbox.NoteEmergencyDisputed}, types,
		"the provider's approvers paged at the filing, the customer told as it went live, then the dispute")
	assert.Equal(t, "no outage was ever declared", notes[2].Reason)
	assert.Equal(t, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, notes[2].Actor)
}

// Emergency access nobody reviewed within review_ttl is escalated, once;
// one reviewed in time is not.
func TestUnreviewedEscalates(t *testing.T) {
	e, call := setup(t)
	unreviewed := emergency(t, e)
	reviewed := emergency(t, e)
	alice := e.Token("alice", "contoso", lockbox.RoleApprover)
	require.Equal(t, http.StatusOK, call(e.Post(alice, fmt.Sprintf(`{"requestId":%q,"verdict":"acknowledge","reason":"ok"}`, reviewed.RequestID))).StatusCode)

	escalated := func(at time.Duration) []string {
		t.Helper()
		_, err := e.Store.FireTimers(t.Context(), "contoso", e.Now.Add(at), 100)
		require.NoError(t, err)
		notes, err := e.Store.Outbox(t.Context(), "contoso", 100)
		require.NoError(t, err)
		var ids []string
		for _, n := range notes {
			if n.Type == lockbox.NoteEmergencyUnreviewed {
				ids = append(ids, n.Request.RequestID)
			}
		}
		return ids
	}
	assert.Empty(t, escalated(72*time.Hour-time.Millisecond), "not due yet (the grants' end notices fired)")
	assert.Equal(t, []string{unreviewed.RequestID}, escalated(72*time.Hour), "due: the unreviewed one only")
	assert.Equal(t, []string{unreviewed.RequestID}, escalated(200*time.Hour), "escalated once")
}

// Who may review what: bad input is 400, a person without the tenant's
// approver or admin role 403 (a provider-approver, an engineer, a
// reader), another tenant's request 404, a request the provider still
// holds 404, an ordinary request 409; none of them writes anything.
func TestReviewRefusals(t *testing.T) {
	e, call := setup(t)
	live := emergency(t, e)
	in := apitest.CreateInput("contoso", "eng-8")
	in.Duration = new(1)
	in.Emergency = &lockbox.EmergencyInput{Incident: "INC-9002", Reason: "outage"}
	resp := e.Serve(api.Create, e.Post(e.Token("eng-8", "provider", lockbox.RoleRequester), apitest.JSON(in)))
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", resp.Body)
	held := apitest.Decode[lockbox.Request](t, resp)
	plain := e.File("contoso", "eng-9")

	alice := e.Token("alice", "contoso", lockbox.RoleApprover)
	body := func(id, verdict, reason string) string {
		return fmt.Sprintf(`{"requestId":%q,"verdict":%q,"reason":%q}`, id, verdict, reason)
	}
	before := e.Mini.Dump()
	for _, c := range []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no verdict", alice, body(live.RequestID, "", "x"), http.StatusBadRequest, ""},
		{"an unknown verdict", alice, body(live.RequestID, "approve", "x"), http.StatusBadRequest, ""},
		{"no reason", alice, body(live.RequestID, "dispute", ""), http.StatusBadRequest, ""},
		{"an unknown field", alice, `{"requestId":"` + live.RequestID + `","verdict":"acknowledge","reason":"x","tenantId":"contoso"}`,
			http.StatusBadRequest, ""},
		{"a provider-approver", e.Token("lead-1", "contoso", lockbox.RoleProviderApprover), body(live.RequestID, "acknowledge", "x"),
			http.StatusForbidden, ""},
		{"the engineer", e.Token("eng-7", "contoso", lockbox.RoleRequester), body(live.RequestID, "acknowledge", "x"), http.StatusForbidden, ""},
		{"a reader", e.Token("rita", "contoso", lockbox.RoleReader), body(live.RequestID, "acknowledge", "x"), http.StatusForbidden, ""},
		{"the engineer, also an approver", e.Token("eng-7", "contoso", lockbox.RoleRequester, lockbox.RoleApprover),
			body(live.RequestID, "acknowledge", "x"), http.StatusForbidden, ""},
		{"an operator, also an admin", e.Token("ops", "contoso", lockbox.RoleOperator, lockbox.RoleAdmin),
			body(live.RequestID, "acknowledge", "x"), http.StatusForbidden, ""},
		{"an approver named on it", e.Token("eng-7", "contoso", lockbox.RoleApprover), body(live.RequestID, "acknowledge", "x"),
			http.StatusForbidden, "SelfApproval"},
		{"another tenant's approver", e.Token("bob", "fabrikam", lockbox.RoleApprover), body(live.RequestID, "dispute", "x"),
			http.StatusNotFound, ""},
		{"held by the provider's approvers", alice, body(held.RequestID, "dispute", "x"), http.StatusNotFound, ""},
		{"an ordinary request", alice, body(plain.RequestID, "acknowledge", "x"), http.StatusConflict, "NotEmergencyAccess"},
	} {
		resp := call(e.Post(c.token, c.body))
		assert.Equal(t, c.status, resp.StatusCode, "%s: %s", c.name, resp.Body)
		if c.code != "" {
			assert.Equal(t, c.code, apitest.ErrorOf(t, resp).Code, c.name)
		}
	}
	assert.Equal(t, before, e.Mini.Dump(), "a refused review writes nothing")
}

// Two approvers review the same emergency access at once: exactly one
// verdict is recorded, the other is told it was reviewed before.
func TestConcurrentReviews(t *testing.T) {
	e, call := setup(t)
	r := emergency(t, e)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			tok := e.Token(fmt.Sprintf("approver-%d", i), "contoso", lockbox.RoleApprover)
			verdict := []string{"acknowledge", "dispute"}[i%2]
			codes[i] = call(e.Post(tok, fmt.Sprintf(`{"requestId":%q,"verdict":%q,"reason":"seen"}`, r.RequestID, verdict))).StatusCode
		})
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == http.StatusOK {
			ok++
		} else {
			assert.Equal(t, http.StatusConflict, c)
		}
	}
	assert.Equal(t, 1, ok, "one verdict")
	events, err := e.Store.ReadEvents(t.Context(), "contoso", "", "", 100)
	require.NoError(t, err)
	reviews := 0
	for _, ev := range events {
		if op := ev.Event.OperationName; op == lockbox.OpAcknowledgeEmergency || op == lockbox.OpDisputeEmergency {
			reviews++
		}
	}
	assert.Equal(t, 1, reviews)
}
