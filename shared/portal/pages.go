package portal

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// pageSize is how many requests a list page shows.
const pageSize = 50

// listData is a page of requests (pending, history).
type listData struct {
	Heading  string
	Intro    string
	History  bool // the history page: a status column and filter
	Statuses []lockbox.Status
	Status   lockbox.Status // the filter, "" for all
	Rows     []requestRow
	Next     string // the next page's link, "" on the last
	Empty    string
	// Emergencies, on the landing page, are the provider's emergency
	// access the tenant has yet to review, shown first; EmergencyNote says
	// when they cannot be read.
	Emergencies   []requestRow
	EmergencyNote string
}

// requestRow is one request in a list, its values formatted once (a page
// of 50 renders in well under a millisecond).
type requestRow struct {
	R    lockbox.Request
	Link string
	// Resource is the first resource's id, ResourceName its name (the
	// last part of a path, which tells apart ids of one resource group; ""
	// when it is the whole id), More how many other resources there are.
	Resource     string
	ResourceName string
	More         int
	Requester    string
	Access       string
	Filed        string // UTC, for people
	FiledISO     string // RFC 3339, for the time element
	Status       string // the status's CSS class
	Left         string // the time left, for pending requests
}

// pending is the landing page: the tenant's pending requests, newest first
// (GET /, ?cursor=).
func (p *Portal) pending(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if providerUser(s.principal()) {
		p.redirect(w, pathProvider)
		return
	}
	p.list(w, r, s, lockbox.StatusPending, false)
}

// history is every request of the tenant, by status (GET requests,
// ?status=&cursor=).
func (p *Portal) history(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	p.list(w, r, s, "", true)
}

func (p *Portal) list(w http.ResponseWriter, r *http.Request, s *session, status lockbox.Status, history bool) {
	known := params{"cursor": 1}
	if history {
		known["status"] = 1
	}
	q, err := query(r, known)
	if err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	if history && q.Get("status") != "" {
		if status, err = lockbox.ParseStatus(q.Get("status")); err != nil {
			p.failAs(w, r, s, err, p.link(pathRequests))
			return
		}
	}
	cursor := q.Get("cursor")
	if !validCursor(cursor) {
		p.failAs(w, r, s, lockbox.Invalidf("cursor is not valid for this query"), "")
		return
	}
	tenant := s.TenantID
	page, err := p.d.Cases.List(r.Context(), s.principal(), usecase.ListInput{Status: status, Limit: pageSize, Cursor: cursor})
	if err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	now := p.d.Now()
	d := listData{History: history, Status: status, Rows: make([]requestRow, len(page.Requests))}
	if !history && cursor == "" {
		p.emergencies(r.Context(), s, &d)
	}
	for i, req := range page.Requests {
		d.Rows[i] = row(req, p.link(pathRequests+"/"+req.RequestID))
		if req.Status == lockbox.StatusPending {
			d.Rows[i].Left = timeLeft(req.ExpirationDateTime.Sub(now))
		}
	}
	title, nav, path := "Pending requests", "pending", "/"
	d.Heading, d.Empty = title, "Nothing waits for a decision."
	d.Intro = "Requests of tenant " + tenant + " waiting for an approver's decision, newest first."
	if history {
		title, nav, path = "Request history", "history", pathRequests
		d.Heading, d.Empty = title, "No requests."
		for _, st := range lockbox.Statuses {
			if st != lockbox.StatusInternalReview { // the provider's, never the customer's
				d.Statuses = append(d.Statuses, st)
			}
		}
		d.Intro = "Every request of tenant " + tenant + ", newest first."
		if status != "" {
			d.Empty = "No " + strings.ToLower(string(status)) + " requests."
		}
	}
	if page.Next != "" {
		next := url.Values{"cursor": {page.Next}}
		if history && status != "" {
			next.Set("status", string(status))
		}
		d.Next = p.link(path) + "?" + next.Encode()
	}
	p.render(w, r, s, http.StatusOK, "requests", title, nav, d)
}

// emergencies puts the tenant's emergency access awaiting review on the
// landing page d: the first thing an approver sees.
func (p *Portal) emergencies(ctx context.Context, s *session, d *listData) {
	list, err := p.d.Cases.Unreviewed(ctx, s.principal(), "")
	if err != nil {
		p.d.Log.Warn("cannot read the emergency access awaiting review", "tenantId", s.TenantID, "err", err)
		d.EmergencyNote = "The provider's emergency access awaiting your review cannot be read right now."
		return
	}
	for _, req := range list {
		d.Emergencies = append(d.Emergencies, row(req, p.link(pathRequests+"/"+req.RequestID)))
	}
}

// row is req as a list shows it.
func row(req lockbox.Request, link string) requestRow {
	r := requestRow{R: req, Link: link, Requester: req.Requester.Label(),
		Access: fmt.Sprintf("%s, %d h", cmp.Or(req.AccessLevel, "not stated"), req.Duration),
		Filed:  utc(req.CreatedDateTime), FiledISO: req.CreatedDateTime.UTC().Format(time.RFC3339),
		Status: "status-" + strings.ToLower(string(req.Status))}
	r.Resource, r.ResourceName, r.More = resourceSummary(req)
	return r
}

// utc is t as people read it.
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// resourceSummary is a request's first resource: its id and its name
// (the last part of a path: "/subscriptions/…/virtualMachines/vm-01" →
// "vm-01"; "" when that is the whole id), and how many more there are.
func resourceSummary(r lockbox.Request) (id, name string, more int) {
	if len(r.ResourceIDs) == 0 {
		return "", "", 0
	}
	id = r.ResourceIDs[0]
	if i := strings.LastIndexByte(strings.TrimRight(id, "/"), '/'); i >= 0 && i < len(id)-1 {
		name = strings.TrimRight(id[i+1:], "/")
	}
	return id, name, len(r.ResourceIDs) - 1
}

// timeLeft says how long is left, in the two largest units.
func timeLeft(d time.Duration) string {
	switch {
	case d <= 0:
		return "none"
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return plural(h, "hour")
		}
		return plural(h, "hour") + " " + plural(m, "minute")
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return plural(days, "day")
	}
	return plural(days, "day") + " " + plural(h, "hour")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// detailData is the request page's.
type detailData struct {
	R       lockbox.Request
	Action  string // where its forms post
	CaseURL string // the support case link, when it is http(s)
	// LeftLabel and Left: the time left of the approval window or the grant.
	LeftLabel, Left string
	Approved        int // approvals so far
	// RequesterEmail is the requester's address when it is not their id.
	RequesterEmail string
	// CanDecide shows Approve / Deny; DecideNote says why they are not
	// shown to an approver.
	CanDecide  bool
	DecideNote string
	CanRevoke  bool
	// CanReview shows the review form of emergency access awaiting the
	// customer's review.
	CanReview bool
	// Usage is the "Access used" section of a request whose grant was
	// approved; nil for one that never had a grant.
	Usage *usageView
	// Deliveries: the notifications sent about the request, when the
	// session may see them (ShowDeliveries).
	ShowDeliveries bool
	Deliveries     []deliveryRow
	DeliveriesNote string
	// Passkey, in a tenant that requires passkeys for this request, is the
	// forms' data-passkey (passkeyForm) and Script the script that signs
	// with it; PasskeyNote says what to do when the session holds no
	// passkey.
	Passkey, Script, PasskeyNote string
	PasskeyLink                  bool // the note links to the Passkeys page
}

// usageView is how a grant was used, as the request page shows it: every
// resource of the grant with its checks and first and last use, the
// credentials issued, in words; or that it was not used (yet, while Live).
type usageView struct {
	Live        bool
	Used        bool
	Summary     string
	Resources   []resourceUse
	Credentials string
}

// resourceUse is one resource of a grant: its id (Parts: cut before each
// "/", where a line may break), how often a check allowed access to it,
// first and last (zero times when never; Once when both fall in one
// minute).
type resourceUse struct {
	ID          string
	Parts       []string
	Checks      int
	First, Last time.Time
	Once        bool
}

// pathParts cuts a resource id before each "/" after its first character:
// "/subscriptions/s/resourceGroups/g" → "/subscriptions", "/s",
// "/resourceGroups", "/g".
func pathParts(id string) []string {
	var parts []string
	for len(id) > 1 {
		i := strings.IndexByte(id[1:], '/')
		if i < 0 {
			break
		}
		parts, id = append(parts, id[:i+1]), id[i+1:]
	}
	return append(parts, id)
}

// usageOf is the "Access used" of req; nil when it never had a grant.
func usageOf(req lockbox.Request) *usageView {
	if req.AccessExpirationDateTime == nil {
		return nil
	}
	v := &usageView{Live: req.AccessActive}
	u := req.Usage
	if u == nil || (u.Checks == 0 && u.Credentials == 0) {
		return v
	}
	v.Used = true
	byID := make(map[string]lockbox.ResourceUsage, len(u.Resources))
	for _, r := range u.Resources {
		byID[r.ResourceID] = r
	}
	used := 0
	for _, id := range req.ResourceIDs {
		r := resourceUse{ID: id, Parts: pathParts(id)}
		if ru, ok := byID[id]; ok && ru.Checks > 0 {
			r.Checks, r.First, r.Last = ru.Checks, ru.FirstUseDateTime, ru.LastUseDateTime
			r.Once = utc(r.First) == utc(r.Last)
			used++
		}
		v.Resources = append(v.Resources, r)
	}
	var parts []string
	if u.Checks > 0 {
		part := plural(u.Checks, "allowed check")
		if len(req.ResourceIDs) > 1 {
			part += fmt.Sprintf(" on %d of %d resources", used, len(req.ResourceIDs))
		}
		parts = append(parts, part)
	}
	v.Credentials = "none"
	if u.Credentials > 0 {
		v.Credentials = plural(u.Credentials, "SSH certificate")
		parts = append(parts, v.Credentials+" issued")
	}
	v.Summary = strings.Join(parts, ", ")
	if u.FirstUseDateTime != nil && u.LastUseDateTime != nil {
		if first, last := utc(*u.FirstUseDateTime), utc(*u.LastUseDateTime); first == last {
			v.Summary += ", at " + first
		} else {
			v.Summary += ", from " + first + " to " + last
		}
	}
	v.Summary = strings.ToUpper(v.Summary[:1]) + v.Summary[1:] + "."
	return v
}

// deliveryRow is one notification delivery as it may be shown.
type deliveryRow struct {
	Type      lockbox.NotificationType
	Channel   string
	Recipient string // masked
	State     lockbox.DeliveryState
	Attempts  int
	LastError string
	Updated   time.Time
}

// signedInFor is signedIn for a request's page and its forms: the session
// and the request id of the path, or false once it has answered (a sign-in,
// or "not found" for an id that cannot be one).
func (p *Portal) signedInFor(w http.ResponseWriter, r *http.Request) (*session, string, bool) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return nil, "", false
	}
	id := r.PathValue("id")
	if !lockbox.ValidRequestID(id) {
		p.failAs(w, r, s, lockbox.ErrNotFound(truncate(id, 64)), p.link("/"))
		return nil, "", false
	}
	return s, id, true
}

// request is a request's page (GET requests/<id>): every field, the
// support case link, the approvals so far, the time left, the forms the
// session may use and the notifications sent.
func (p *Portal) request(w http.ResponseWriter, r *http.Request) {
	s, id, ok := p.signedInFor(w, r)
	if !ok {
		return
	}
	if _, err := query(r, params{}); err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	pr, now := s.principal(), p.d.Now()
	req, err := p.d.Cases.Get(r.Context(), pr, "", id)
	if err != nil {
		p.failAs(w, r, s, err, p.link("/"))
		return
	}
	d := detailData{R: req, Action: p.link(pathRequests + "/" + req.RequestID), CaseURL: caseLink(req.SupportCaseURL), Usage: usageOf(req)}
	d.Approved = len(req.Approvals)
	if e := strings.TrimSpace(req.Requester.Email); e != "" && !strings.EqualFold(e, strings.TrimSpace(req.Requester.ID)) {
		d.RequesterEmail = e
	}
	switch {
	case req.Status == lockbox.StatusPending:
		d.LeftLabel, d.Left = "The approval window closes in", timeLeft(req.ExpirationDateTime.Sub(now))
	case req.AccessActive && req.AccessExpirationDateTime != nil:
		d.LeftLabel, d.Left = "Access ends in", timeLeft(req.AccessExpirationDateTime.Sub(now))
	}
	may := usecase.PermissionsOn(pr, req)
	d.CanDecide, d.DecideNote, d.CanRevoke = may.Decide, may.DecideNote, may.Revoke
	d.CanReview = req.AwaitsReview() && usecase.CanReview(pr)
	if d.CanDecide || d.CanRevoke {
		p.passkeyForms(r, pr, req, &d)
		if d.Passkey != "" {
			w.Header().Set("Content-Security-Policy", CSPWithScript)
		}
	}
	if may.Deliveries {
		d.ShowDeliveries = true
		ds, err := p.d.Cases.Deliveries(r.Context(), pr, "", id)
		if err != nil {
			p.d.Log.Warn("cannot read a request's deliveries", "tenantId", req.TenantID, "requestId", id, "err", err)
			d.DeliveriesNote = "The notifications cannot be read right now."
		}
		for _, dl := range ds {
			d.Deliveries = append(d.Deliveries, deliveryRow{Type: dl.Notification.Type, Channel: dl.Channel, Recipient: dl.Recipient(),
				State: dl.State, Attempts: dl.Attempts, LastError: truncate(dl.LastError, 300), Updated: dl.Updated})
		}
	}
	p.render(w, r, s, http.StatusOK, "request", "Request "+req.SupportRequest, "", d)
}

// caseLink is the support case URL when it may be a link: http or https
// with a host; "" otherwise (it is then shown as text).
func caseLink(raw string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

// passkeyForms sets what d's forms need to sign decisions on req with a
// passkey, when the tenant requires it for req.
func (p *Portal) passkeyForms(r *http.Request, pr lockbox.Principal, req lockbox.Request, d *detailData) {
	set, err := p.d.Cases.Settings(r.Context(), pr, "")
	if err != nil || !set.RequirePasskey.Applies(req.AccessLevel) {
		return
	}
	_, options, err := p.d.Cases.MyPasskeys(r.Context(), pr)
	switch {
	case err != nil:
		d.PasskeyNote = "This tenant requires decisions signed with a passkey, and passkeys cannot be used right now."
	case options == nil:
		d.PasskeyNote = "This tenant requires decisions signed with a passkey, and you have none: register one on the Passkeys page first."
		d.PasskeyLink = true
	default:
		d.Passkey, d.Script = passkeyForm(req, options), p.link(pathScript)+"?v="+p.pages.jsVersion
	}
}

// actParams are the fields of a request page's forms (the passkey_*
// fields: a decision signed with a passkey, see passkey.js).
var actParams = params{FormTokenField: 1, "action": 1, "reason": 1, "duration": 1, "passkey_time": 1, "passkey_credential": 1,
	"passkey_authenticator_data": 1, "passkey_client_data": 1, "passkey_signature": 1, "passkey_user_handle": 1}

// act approves, denies or revokes a request, or reviews emergency access
// (POST requests/<id>, field action): the same use cases as the API
// functions'. It answers 303 to the request's page with a message.
func (p *Portal) act(w http.ResponseWriter, r *http.Request) {
	s, id, ok := p.signedInFor(w, r)
	if !ok {
		return
	}
	back := p.link(pathRequests + "/" + id)
	v, err := form(r, actParams, maxForm)
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	if !p.checkFormToken(w, r, s, v.Get(FormTokenField)) {
		return
	}
	a, err := p.decision(r.Context(), s.principal(), id, v)
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	s.Flash = outcome(a.action, a.request)
	if err := p.saveSession(r, s); err != nil {
		p.d.Log.Warn("could not keep the outcome's message", "err", err)
	}
	p.redirect(w, pathRequests+"/"+id)
}

// acted is what a request page's form did.
type acted struct {
	action  lockbox.Action
	request lockbox.Request
}

// decision carries out what a request page's form asks for, as pr: approve
// or deny (the use case Decide; the form's duration only for approving),
// revoke (Revoke), or acknowledge or dispute emergency access
// (ReviewEmergency). The reason is required.
func (p *Portal) decision(ctx context.Context, pr lockbox.Principal, id string, v url.Values) (acted, error) {
	in := lockbox.DecisionInput{RequestID: id, Reason: v.Get("reason"), Passkey: passkeyOf(v)}
	a := lockbox.Action(v.Get("action"))
	switch a {
	case lockbox.ActionApprove, lockbox.ActionDeny, lockbox.ActionRevoke, verdictAcknowledge, verdictDispute:
	default:
		return acted{}, lockbox.Invalidf("action must be approve, deny, revoke, acknowledge or dispute")
	}
	if strings.TrimSpace(in.Reason) == "" {
		return acted{}, lockbox.Invalidf("give a reason")
	}
	if a == verdictAcknowledge || a == verdictDispute {
		req, err := p.d.Cases.ReviewEmergency(ctx, pr, lockbox.ReviewInput{RequestID: id, Verdict: string(a), Reason: in.Reason})
		return acted{action: a, request: req}, err
	}
	var req lockbox.Request
	var err error
	switch a {
	case lockbox.ActionApprove:
		if in.Duration, err = hours(v.Get("duration"), "duration"); err != nil {
			return acted{}, err
		}
		req, err = p.d.Cases.Decide(ctx, pr, a, in)
	case lockbox.ActionDeny: // the form's duration is for approving only
		req, err = p.d.Cases.Decide(ctx, pr, a, in)
	default:
		req, err = p.d.Cases.Revoke(ctx, pr, in)
	}
	return acted{action: a, request: req}, err
}

// The review form's actions: the verdicts of lockbox.ReviewInput.
const (
	verdictAcknowledge = lockbox.Action(lockbox.VerdictAcknowledge)
	verdictDispute     = lockbox.Action(lockbox.VerdictDispute)
)

// outcome is the message shown after an act.
func outcome(a lockbox.Action, r lockbox.Request) string {
	switch {
	case a == verdictAcknowledge:
		return "You acknowledged this emergency access. Your review is recorded in the audit log."
	case a == verdictDispute:
		return "You disputed this emergency access. The dispute and your reason went to the provider; revoke the grant below if it is still live."
	case a == lockbox.ActionApprove && r.Status == lockbox.StatusApproved && r.AccessExpirationDateTime != nil:
		return "You approved this request. Access is granted until " + r.AccessExpirationDateTime.UTC().Format("2006-01-02 15:04 UTC") + "."
	case a == lockbox.ActionApprove:
		return fmt.Sprintf("Your approval is recorded: %d of %d. The request waits for more approvers.", len(r.Approvals), r.RequiredApprovals)
	case a == lockbox.ActionDeny:
		return "You denied this request."
	default:
		return "You revoked this grant. Access has ended."
	}
}
