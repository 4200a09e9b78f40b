package portal

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// Bounds of the activity log's queries.
const (
	activityPage    = 50     // events on a page
	csvPage         = 200    // events per read of the CSV download
	maxCSVEvents    = 10_000 // events in one CSV download
	maxActivitySpan = 92     // days a query may cover
	defaultSpan     = 7      // days shown by default
	dateLayout      = "2006-01-02"
)

// activityParams are the activity page's filters.
var activityParams = params{"operation": len(lockbox.Operations), "from": 1, "to": 1, "requestId": 1, "cursor": 1}

// activityFilter is the activity page's filter form as given.
type activityFilter struct {
	Operations []string // chosen
	From, To   string   // YYYY-MM-DD, UTC, both included
	RequestID  string
}

// activityData is the activity page's.
type activityData struct {
	Tenant      string
	Filter      activityFilter
	Filtered    bool   // filters other than the defaults were given: the filter form is shown open
	Summary     string // the filters in words
	AllOps      []opChoice
	Unavailable bool
	Events      []eventRow
	Next        string // the next page's link
	CSV         string // the download of the same filters
	MaxCSV      int
	MaxSpan     int
	// Head is the archive's newest signed checkpoint (nil before the first
	// export, or when it cannot be read: HeadNote says so); HeadLink
	// downloads its signed line.
	Head     *lockbox.AuditHead
	HeadAt   time.Time
	HeadNote string
	HeadLink string
}

// opChoice is an operation of the filter form.
type opChoice struct {
	Name    string
	ID      string
	Checked bool
}

// eventRow is one audit event as the page shows it.
type eventRow struct {
	E    lockbox.Event
	Link string // the request's page, "" for events of no request
}

// activityQuery reads the filters of q into the query of tenant's log:
// operations among lockbox.Operations, dates (UTC days, the last 7 by
// default, at most 92), a request id, a cursor. Errors: KindInvalid.
func activityQuery(q url.Values, tenant string, now time.Time, limit int) (lockbox.ActivityQuery, activityFilter, error) {
	f := activityFilter{RequestID: q.Get("requestId"), From: q.Get("from"), To: q.Get("to")}
	aq := lockbox.ActivityQuery{TenantID: tenant, RequestID: f.RequestID, Limit: limit, Cursor: q.Get("cursor")}
	for _, op := range q["operation"] {
		if !slices.Contains(lockbox.Operations, op) {
			return aq, f, lockbox.Invalidf("operation must be one of %s", strings.Join(lockbox.Operations, ", "))
		}
		if !slices.Contains(f.Operations, op) {
			f.Operations = append(f.Operations, op)
		}
	}
	aq.Operations = f.Operations
	if f.RequestID != "" && !lockbox.ValidRequestID(f.RequestID) {
		return aq, f, lockbox.Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
	}
	if !validCursor(aq.Cursor) {
		return aq, f, lockbox.Invalidf("cursor is not valid for this query")
	}
	today := now.UTC().Truncate(24 * time.Hour)
	to, err := day(f.To, today, "to")
	if err != nil {
		return aq, f, err
	}
	from, err := day(f.From, to.AddDate(0, 0, 1-defaultSpan), "from")
	if err != nil {
		return aq, f, err
	}
	switch {
	case from.After(to):
		return aq, f, lockbox.Invalidf("from must not be after to")
	case to.Sub(from) >= maxActivitySpan*24*time.Hour:
		return aq, f, lockbox.Invalidf("the dates may span at most %d days", maxActivitySpan)
	}
	f.From, f.To = from.Format(dateLayout), to.Format(dateLayout)
	aq.From, aq.To = from, to.AddDate(0, 0, 1)
	return aq, f, nil
}

// day reads a YYYY-MM-DD date (a UTC day), def when empty.
func day(s string, def time.Time, field string) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Year() < 2000 || t.Year() > 9998 {
		return time.Time{}, lockbox.Invalidf("%s must be a date YYYY-MM-DD", field)
	}
	return t, nil
}

// summary says what f selects, in words.
func (f activityFilter) summary() string {
	ops := "every operation"
	switch n := len(f.Operations); {
	case n == 1:
		ops = f.Operations[0]
	case n > 1:
		ops = strconv.Itoa(n) + " operations"
	}
	s := ops + ", " + f.From + " to " + f.To
	if f.RequestID != "" {
		s += ", request " + f.RequestID
	}
	return s
}

// values are f as a query string's values (for links).
func (f activityFilter) values() url.Values {
	v := url.Values{}
	for _, op := range f.Operations {
		v.Add("operation", op)
	}
	v.Set("from", f.From)
	v.Set("to", f.To)
	if f.RequestID != "" {
		v.Set("requestId", f.RequestID)
	}
	return v
}

// activityRequest reads the signed-in person's query of their tenant's
// activity log, limit events a page. When it returns false it has answered
// (the sign-in page, or an error page).
func (p *Portal) activityRequest(w http.ResponseWriter, r *http.Request, limit int) (*session, url.Values, lockbox.ActivityQuery, activityFilter, bool) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return nil, nil, lockbox.ActivityQuery{}, activityFilter{}, false
	}
	fail := func(err error, back string) (*session, url.Values, lockbox.ActivityQuery, activityFilter, bool) {
		p.failAs(w, r, s, err, back)
		return nil, nil, lockbox.ActivityQuery{}, activityFilter{}, false
	}
	q, err := query(r, activityParams)
	if err != nil {
		return fail(err, p.link(pathActivity))
	}
	aq, f, err := activityQuery(q, s.TenantID, p.d.Now(), limit)
	if err != nil {
		return fail(err, p.link(pathActivity))
	}
	return s, q, aq, f, true
}

// activity is the activity log page (GET activity): the tenant's audit
// events, newest first, filtered by operation, dates and request.
func (p *Portal) activity(w http.ResponseWriter, r *http.Request) {
	s, q, aq, f, ok := p.activityRequest(w, r, activityPage)
	if !ok {
		return
	}
	tenant := aq.TenantID
	d := activityData{Tenant: tenant, Filter: f, MaxCSV: maxCSVEvents, MaxSpan: maxActivitySpan,
		CSV:      p.link(pathCSV) + "?" + f.values().Encode(),
		Filtered: len(f.Operations) > 0 || f.RequestID != "" || q.Get("from") != "" || q.Get("to") != "", Summary: f.summary()}
	for i, op := range lockbox.Operations {
		d.AllOps = append(d.AllOps, opChoice{Name: op, ID: "op-" + strconv.Itoa(i), Checked: slices.Contains(f.Operations, op)})
	}
	if !p.d.Cases.ActivityAvailable() {
		d.Unavailable = true
		p.render(w, r, s, http.StatusOK, "activity", "Activity log", "activity", d)
		return
	}
	page, err := p.d.Cases.Activity(r.Context(), s.principal(), "", aq)
	if err != nil {
		p.failAs(w, r, s, err, p.link(pathActivity))
		return
	}
	switch h, found, err := p.d.Cases.AuditHead(r.Context(), s.principal(), ""); {
	case err != nil:
		p.d.Log.Warn("cannot read the audit archive's head", "tenantId", tenant, "err", err)
		d.HeadNote = "The archive's signed head cannot be read right now."
	case !found:
		d.HeadNote = "Nothing has been archived yet: the first export writes the first signed head."
	default:
		d.Head, d.HeadLink = &h, p.link(pathHead)
		d.HeadAt, _ = time.Parse(time.RFC3339Nano, h.Time)
	}
	for _, e := range page.Events {
		row := eventRow{E: e}
		if e.RequestID != "" {
			row.Link = p.link(pathRequests + "/" + e.RequestID)
		}
		d.Events = append(d.Events, row)
	}
	if page.Next != "" {
		v := f.values()
		v.Set("cursor", page.Next)
		d.Next = p.link(pathActivity) + "?" + v.Encode()
	}
	p.render(w, r, s, http.StatusOK, "activity", "Activity log", "activity", d)
}

// activityCSV downloads the events the activity page's filters select
// (GET activity.csv), at most maxCSVEvents of them, newest first.
func (p *Portal) activityCSV(w http.ResponseWriter, r *http.Request) {
	s, _, aq, f, ok := p.activityRequest(w, r, csvPage)
	if !ok {
		return
	}
	tenant := aq.TenantID
	var buf bytes.Buffer
	out := csv.NewWriter(&buf)
	_ = out.Write([]string{"seq", "time", "tenantId", "requestId", "operationName", "actorKind", "actorId", "fromStatus", "toStatus",
		"reason", "supportRequest", "hash"})
	n, more := 0, false
	for {
		page, err := p.d.Cases.Activity(r.Context(), s.principal(), "", aq)
		if err != nil {
			p.failAs(w, r, s, err, p.link(pathActivity))
			return
		}
		for _, e := range page.Events {
			if n == maxCSVEvents {
				more = true
				break
			}
			n++
			_ = out.Write([]string{strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), cell(e.TenantID), cell(e.RequestID),
				cell(e.OperationName), cell(string(e.Actor.Kind)), cell(e.Actor.ID), cell(string(e.FromStatus)), cell(string(e.ToStatus)),
				cell(e.Reason), cell(e.SupportRequest), cell(e.Hash)})
		}
		if more || page.Next == "" {
			more = more || page.Next != ""
			break
		}
		aq.Cursor = page.Next
	}
	out.Flush()
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="lockbox-activity-`+tenant+"-"+f.From+"-"+f.To+`.csv"`)
	if more {
		h.Set("X-Lockbox-Truncated", "true") // more events than one download holds: narrow the dates
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// cell keeps a value from being read as a formula by a spreadsheet that
// opens the CSV (OWASP's CSV injection): a leading =, +, -, @, tab or CR
// gets a quote before it.
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// activityHead downloads the archive's newest signed checkpoint (GET
// activity/head): one line of JSON that `auditverify -expect @<file>`
// holds the archive to, so that a tenant who keeps it can later prove the
// archive still reaches it.
func (p *Portal) activityHead(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if _, err := query(r, params{}); err != nil {
		p.failAs(w, r, s, err, p.link(pathActivity))
		return
	}
	h, found, err := p.d.Cases.AuditHead(r.Context(), s.principal(), "")
	if err == nil && !found {
		err = lockbox.Errorf(lockbox.KindNotFound, "NotFound", "nothing has been archived yet")
	}
	if err != nil {
		p.failAs(w, r, s, err, p.link(pathActivity))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="lockbox-head-`+h.TenantID+"-"+strconv.FormatUint(h.Seq, 10)+`.json"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(h.Checkpoint + "\n"))
}
