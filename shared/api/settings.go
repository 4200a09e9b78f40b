package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// settingsParams are the query parameters lockbox-settings accepts.
var settingsParams = map[string]bool{"tenantId": true}

// Settings reads or changes a tenant's settings (lockbox-settings):
//
//   - GET, the tenant's admin, approver or reader (operators and signed
//     services name ?tenantId=): 200 with the document (webhook secrets left
//     out) and its ETag;
//   - PUT, the tenant's admin (operators name ?tenantId=), the whole document
//     with If-Match: 200 with the stored document and its new ETag; a stale
//     ETag is 412, none 428; every change is recorded as
//     UpdateLockboxSettings, its reason naming what changed.
func Settings(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet, http.MethodPut); err != nil {
		return handler.Response{}, err
	}
	write := req.Method == http.MethodPut
	payload := req.Body
	if !write {
		payload = []byte(req.QueryString)
	}
	accept := users
	if !write {
		accept = anyone
	}
	p, err := s.Auth.Authenticate(req.Header, payload, accept...)
	if err != nil {
		return handler.Response{}, err
	}
	q, err := httpapi.ParseQuery(req.QueryString, settingsParams)
	if err != nil {
		return handler.Response{}, err
	}
	tenant, err := lockbox.AuthorizeSettings(p, q.Get("tenantId"), write)
	if err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	if !write {
		set, err := s.Settings.Settings(ctx, tenant)
		if err != nil {
			return handler.Response{}, err
		}
		return settingsResponse(set), nil
	}

	ifVersion, err := ifMatch(req.Header.Get("If-Match"))
	if err != nil {
		return handler.Response{}, err
	}
	var next lockbox.Settings
	if err := httpapi.Decode(req, &next); err != nil {
		return handler.Response{}, err
	}
	stored, err := s.PutSettings(ctx, p, tenant, next, ifVersion)
	if err != nil {
		return handler.Response{}, err
	}
	return settingsResponse(stored), nil
}

// settingsResponse is the document without its secrets, with its ETag.
func settingsResponse(set lockbox.Settings) handler.Response {
	resp := httpapi.JSON(http.StatusOK, set.Public())
	resp.Header.Set("ETag", strconv.Quote(strconv.FormatInt(set.Version, 10)))
	return resp
}

// ifMatch reads the version an If-Match names: the ETag of a GET ("3"; a weak
// W/"3" too). Errors: KindPreconditionRequired without one, KindInvalid for
// anything else ("*" included: a change must name what it changes).
func ifMatch(h string) (int64, error) {
	if h == "" {
		return 0, lockbox.ErrIfMatchRequired()
	}
	tag := strings.TrimPrefix(strings.TrimSpace(h), "W/")
	unquoted, err := strconv.Unquote(tag)
	if err != nil {
		unquoted = tag
	}
	v, err := strconv.ParseInt(unquoted, 10, 64)
	if err != nil || v < 0 || len(h) > 32 {
		return 0, lockbox.Invalidf("If-Match must be the ETag of the settings you read, e.g. \"3\"")
	}
	return v, nil
}

// PutSettings stores next as tenant's settings for p, who may change them
// (AuthorizeSettings), if the stored ones are still of version ifVersion:
// next is validated (each webhook URL checked), merged with the stored
// write-only secrets and recorded as UpdateLockboxSettings, its reason
// naming what changed. lockbox-settings' PUT and the portal's settings form
// both end here. Errors: KindInvalid (nothing stored), KindPreconditionFailed
// (ErrStaleSettings), KindUnavailable.
func (s *Service) PutSettings(ctx context.Context, p lockbox.Principal, tenant string, next lockbox.Settings, ifVersion int64) (lockbox.Settings, error) {
	if err := next.Validate(s.AllowPlainHTTP); err != nil {
		return lockbox.Settings{}, err
	}
	for i, w := range next.Webhooks {
		if err := s.URLs.Check(ctx, w.URL); err != nil {
			return lockbox.Settings{}, lockbox.Invalidf("webhooks[%d].url: %v", i, err)
		}
	}
	prev, err := s.Settings.Settings(ctx, tenant)
	if err != nil {
		return lockbox.Settings{}, err
	}
	if prev.Version != ifVersion {
		return lockbox.Settings{}, lockbox.ErrStaleSettings()
	}
	if next, err = next.Updated(prev, p.Subject); err != nil {
		return lockbox.Settings{}, err
	}
	actor := lockbox.Actor{Kind: lockbox.ActorAdmin, ID: p.Subject}
	stored, err := s.Settings.PutSettings(ctx, tenant, next, ifVersion, actor, next.Changes(prev), s.Now())
	if err != nil {
		return lockbox.Settings{}, err
	}
	s.Log.Info("lockbox settings changed", "tenantId", tenant, "version", stored.Version, "by", p.Subject)
	return stored, nil
}
