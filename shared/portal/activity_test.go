package portal_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
)

// events adds n events of tenant to the environment's activity log, one a
// minute before now, the newest last; every third is an approval.
func events(e *portaltest.Env, tenant string, n int) []lockbox.Event {
	var out []lockbox.Event
	for i := range n {
		op, to := lockbox.OpCreate, lockbox.StatusPending
		if i%3 == 2 {
			op, to = lockbox.OpApprove, lockbox.StatusApproved
		}
		out = append(out, lockbox.Event{Seq: uint64(i + 1), Time: e.Now.Add(time.Duration(i-n) * time.Minute), TenantID: tenant,
			RequestID: fmt.Sprintf("req-%d", i/3), OperationName: op, Actor: lockbox.Actor{Kind: lockbox.ActorApprover, ID: "alice"},
			ToStatus: to, Reason: fmt.Sprintf("reason %d", i), SupportRequest: fmt.Sprintf("INC-%d", i/3), Hash: "h"})
	}
	e.Activity.Add(out...)
	return out
}

// The activity page passes its filters to the log as a query of the
// session's tenant, pages newest first, and links the requests.
func TestActivityPage(t *testing.T) {
	e := setup(t)
	events(e, "contoso", 120)
	events(e, "fabrikam", 3)
	b, _ := e.As("rita", "contoso", lockbox.RoleReader)

	p := b.Get("/activity")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	q := e.Activity.Queries[len(e.Activity.Queries)-1]
	assert.Equal(t, "contoso", q.TenantID)
	assert.Equal(t, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), q.From, "the last 7 days by default")
	assert.Equal(t, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), q.To)
	assert.Equal(t, 50, q.Limit)
	assert.Equal(t, 50, strings.Count(p.Body, `<th scope="row" data-label="Time">`))
	assert.Contains(t, p.Body, "reason 119", "newest first")
	assert.NotContains(t, p.Body, "fabrikam")
	assert.Contains(t, p.Body, `href="/function/lockbox-portal/requests/req-39"`)
	assert.Contains(t, p.Body, `value="2026-11-21"`)
	assert.Contains(t, p.Body, `value="2026-11-27"`)
	next := htmlUnescape(between(p.Body, `<p class="pager"><a href="`, `"`))
	require.NotEmpty(t, next)
	assert.Contains(t, next, "cursor=71")
	p2 := b.Get(strings.TrimPrefix(next, portaltest.BasePath))
	require.Equal(t, http.StatusOK, p2.Status)
	assert.Contains(t, p2.Body, "reason 69")

	// Filters: operations (checked again on the page), dates, a request.
	p = b.Get("/activity?" + url.Values{"operation": {lockbox.OpApprove, lockbox.OpDeny}, "from": {"2026-11-27"}, "to": {"2026-11-27"},
		"requestId": {"req-39"}}.Encode())
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	q = e.Activity.Queries[len(e.Activity.Queries)-1]
	assert.Equal(t, []string{lockbox.OpApprove, lockbox.OpDeny}, q.Operations)
	assert.Equal(t, "req-39", q.RequestID)
	assert.Equal(t, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), q.From)
	assert.Equal(t, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), q.To)
	assert.Equal(t, 1, strings.Count(p.Body, `<th scope="row" data-label="Time">`))
	assert.Contains(t, p.Body, `value="ApproveLockboxRequest" checked`)
	assert.Contains(t, p.Body, `value="DenyLockboxRequest" checked`)
	assert.NotContains(t, p.Body, `value="CreateLockboxRequest" checked`)
	for i := range lockbox.Operations {
		assert.Contains(t, p.Body, fmt.Sprintf(`<label for="op-%d">`, i), "every checkbox is labelled")
	}

	// The log failing is a 503 page.
	e.Activity.Err = lockbox.Unavailable("read archive", fmt.Errorf("s3 down"))
	p = b.Get("/activity")
	assert.Equal(t, http.StatusServiceUnavailable, p.Status)
	assert.NotContains(t, p.Body, "s3 down", "causes are logged, never shown")
}

// The CSV download holds what the filters select, bounded, with formulas
// defused.
func TestActivityCSV(t *testing.T) {
	e := setup(t)
	evs := events(e, "contoso", 450)
	e.Activity.Add(lockbox.Event{Seq: 451, Time: e.Now.Add(-time.Second), TenantID: "contoso", RequestID: "req-x",
		OperationName: lockbox.OpDeny, Actor: lockbox.Actor{Kind: lockbox.ActorApprover, ID: "=cmd|' /C calc'!A0"},
		Reason: "+SUM(1,2)", SupportRequest: "@INC"})
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	page := b.Get("/activity?operation=" + lockbox.OpDeny)
	link := htmlUnescape(between(page.Body, `<a href="`+portaltest.BasePath+`/activity.csv?`, `"`))
	assert.Equal(t, "from=2026-11-21&operation=DenyLockboxRequest&to=2026-11-27", link, "the download keeps the filters")

	p := b.Get("/activity.csv?" + link)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Equal(t, "text/csv; charset=utf-8", p.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="lockbox-activity-contoso-2026-11-21-2026-11-27.csv"`, p.Header.Get("Content-Disposition"))
	rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "seq", rows[0][0])
	assert.Equal(t, []string{"451", "2026-11-27T08:59:59Z", "contoso", "req-x", "DenyLockboxRequest", "approver", "'=cmd|' /C calc'!A0", "", "",
		"'+SUM(1,2)", "'@INC", ""}, rows[1])

	p = b.Get("/activity.csv")
	rows, err = csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	require.NoError(t, err)
	assert.Len(t, rows, 1+len(evs)+1, "every page read, 200 at a time")
	assert.Empty(t, p.Header.Get("X-Lockbox-Truncated"))
}

// Without an activity log the page says so, and the download is a 503.
func TestActivityUnavailable(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{NoActivity: true})
	b, _ := e.As("alice", "contoso", lockbox.RoleApprover)
	p := b.Get("/activity")
	require.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, "The activity log is not available in this deployment yet.")
	assert.NotContains(t, p.Body, "activity.csv")
	p = b.Get("/activity.csv")
	assert.Equal(t, http.StatusServiceUnavailable, p.Status)
	assert.Equal(t, http.StatusBadRequest, b.Get("/activity?from=bad").Status, "filters are still checked")
}

// The activity page shows the archive's newest signed checkpoint and
// downloads its signed line, for the tenant to keep.
func TestActivityPageShowsTheSignedHead(t *testing.T) {
	e := setup(t)
	b, _ := e.As("rita", "contoso", lockbox.RoleReader)
	p := b.Get("/activity")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "Nothing has been archived yet")
	assert.Equal(t, http.StatusNotFound, b.Get("/activity/head").Status)

	line := `{"hash":"` + strings.Repeat("ab", 32) + `","seq":42,"signature":"c2ln","tenantId":"contoso"}`
	e.Activity.Head = &lockbox.AuditHead{TenantID: "contoso", Seq: 42, Hash: strings.Repeat("ab", 32), Time: "2026-11-27T08:59:00.123Z",
		KeyID: "k1", Signature: "c2ln", Checkpoint: line}
	p = b.Get("/activity")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "event <strong>42</strong>")
	assert.Contains(t, p.Body, strings.Repeat("ab", 32))
	assert.Contains(t, p.Body, "2026-11-27 08:59 UTC")
	d := b.Get("/activity/head")
	require.Equal(t, http.StatusOK, d.Status, d.Body)
	assert.Equal(t, line+"\n", d.Body)
	assert.Contains(t, d.Header.Get("Content-Disposition"), "lockbox-head-contoso-42.json")

	// Another tenant's reader gets their own tenant's head, none here.
	other, _ := e.As("fred", "fabrikam", lockbox.RoleReader)
	assert.Equal(t, http.StatusNotFound, other.Get("/activity/head").Status)
}
