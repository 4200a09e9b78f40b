package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// activityParams are the query parameters lockbox-activity accepts.
var activityParams = map[string]bool{"operationName": true, "from": true, "to": true, "requestId": true, "limit": true,
	"cursor": true, "tenantId": true, "head": true}

// HeadResponse is the body of lockbox-activity?head=true: the tenant's
// newest signed checkpoint, null before its first export.
type HeadResponse struct {
	Head *lockbox.AuditHead `json:"head"`
}

// ActivityResponse is the body lockbox-activity answers with.
type ActivityResponse struct {
	Value      []lockbox.Event `json:"value"`
	NextCursor *string         `json:"nextCursor"`
}

// DefaultActivityDays is the range of an activity query without from.
const DefaultActivityDays = 7

// Activity pages through a tenant's audit events, newest first
// (lockbox-activity): GET, the tenant's admin, approver or reader
// (operators and signed services name ?tenantId=), with query operationName
// (a comma list), from and to (RFC 3339; the last 7 days by default, at most
// 92), requestId, limit (1..200, default 50) and cursor. 200 with
// {"value", "nextCursor"}: the archived events and those not yet exported,
// in the archive's form. With head=true (and at most tenantId) it answers
// the tenant's newest signed checkpoint instead: {"head": {...} | null}.
func Activity(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet); err != nil {
		return handler.Response{}, err
	}
	p, err := s.Auth.Authenticate(req.Header, []byte(req.QueryString), anyone...)
	if err != nil {
		return handler.Response{}, err
	}
	v, err := httpapi.ParseQuery(req.QueryString, activityParams)
	if err != nil {
		return handler.Response{}, err
	}
	if h := v.Get("head"); h != "" {
		return auditHead(s, req, p, v)
	}
	q, err := ActivityQuery(v.Get, s.Cases.Now())
	if err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	page, err := s.Cases.Activity(ctx, p, v.Get("tenantId"), q)
	if err != nil {
		return handler.Response{}, err
	}
	resp := ActivityResponse{Value: page.Events}
	if resp.Value == nil {
		resp.Value = []lockbox.Event{}
	}
	if page.Next != "" {
		resp.NextCursor = &page.Next
	}
	return httpapi.JSON(http.StatusOK, resp), nil
}

// ActivityQuery reads an activity query from its parameters (get):
// operationName, from, to, requestId, limit, cursor; the portal's activity
// page reads the same. The use case names the tenant. Errors: KindInvalid.
func ActivityQuery(get func(string) string, now time.Time) (lockbox.ActivityQuery, error) {
	// Events are kept to the millisecond: a range ending at now includes now.
	q := lockbox.ActivityQuery{To: now.UTC().Truncate(time.Millisecond).Add(time.Millisecond), Limit: 50,
		RequestID: get("requestId"), Cursor: get("cursor")}
	if v := get("operationName"); v != "" {
		q.Operations = strings.Split(v, ",")
	}
	for name, t := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if v := get(name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return q, lockbox.Invalidf("%s must be an RFC 3339 time, e.g. 2026-11-27T00:00:00Z", name)
			}
			*t = parsed.UTC()
		}
	}
	if get("from") == "" {
		q.From = q.To.AddDate(0, 0, -DefaultActivityDays)
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return q, lockbox.Invalidf("limit must be a whole number from 1 to 200")
		}
		q.Limit = n
	}
	return q, nil
}

// auditHead answers lockbox-activity?head=true.
func auditHead(s *Service, req handler.Request, p lockbox.Principal, v url.Values) (handler.Response, error) {
	if v.Get("head") != "true" {
		return handler.Response{}, lockbox.Invalidf("head must be true")
	}
	for k := range v {
		if k != "head" && k != "tenantId" {
			return handler.Response{}, lockbox.Invalidf("head=true takes only tenantId, not %s", k)
		}
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	h, found, err := s.Cases.AuditHead(ctx, p, v.Get("tenantId"))
	if err != nil {
		return handler.Response{}, err
	}
	var resp HeadResponse
	if found {
		resp.Head = &h
	}
	return httpapi.JSON(http.StatusOK, resp), nil
}
