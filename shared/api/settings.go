package api

import (
	"net/http"
	"strconv"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// settingsParams are the query parameters lockbox-settings accepts.
var settingsParams = map[string]bool{"tenantId": true, "passkeys": true}

// Settings reads or changes a tenant's settings (lockbox-settings):
//
//   - GET, the tenant's admin, approver or reader (operators and signed
//     services name ?tenantId=): 200 with the document (webhook secrets left
//     out, and webhook URLs cut to scheme and host for all but its admins)
//     and its ETag;
//   - PUT, the tenant's admin, the whole document with If-Match: 200 with
//     the stored document and its new ETag; an If-Match naming no current
//     entity tag is 412, none 428; every change is recorded as
//     UpdateLockboxSettings, its reason naming what changed. Operators and
//     signed services never change them (403);
//   - GET ?passkeys=export, whoever may read the settings: the tenant's
//     registered passkeys (removed ones included) and the relying party,
//     the keys file auditverify -passkeys verifies decisions' passkey
//     signatures against (docs/passkeys.md).
func Settings(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet, http.MethodPut); err != nil {
		return handler.Response{}, err
	}
	write := req.Method == http.MethodPut
	payload := req.Body
	if !write {
		payload = []byte(req.QueryString)
	}
	p, err := s.Auth.Authenticate(req.Header, payload, anyone...)
	if err != nil {
		return handler.Response{}, err
	}
	q, err := httpapi.ParseQuery(req.QueryString, settingsParams)
	if err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	if !write && q.Has("passkeys") {
		if q.Get("passkeys") != "export" {
			return handler.Response{}, lockbox.Invalidf("passkeys must be export")
		}
		exp, err := s.Cases.PasskeyExport(ctx, p, q.Get("tenantId"))
		if err != nil {
			return handler.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, exp), nil
	}
	if write && q.Has("passkeys") {
		return handler.Response{}, lockbox.Invalidf("passkeys is only read (GET)")
	}
	if !write {
		set, err := s.Cases.Settings(ctx, p, q.Get("tenantId"))
		if err != nil {
			return handler.Response{}, err
		}
		return settingsResponse(set), nil
	}
	versions, err := IfMatch(req.Header.Values("If-Match"))
	if err != nil {
		return handler.Response{}, err
	}
	var next lockbox.Settings
	if err := httpapi.Decode(req, &next); err != nil {
		return handler.Response{}, err
	}
	stored, err := s.Cases.PutSettings(ctx, p, q.Get("tenantId"), next, versions)
	if err != nil {
		return handler.Response{}, err
	}
	return settingsResponse(stored), nil
}

// settingsResponse is the document as shown, with its ETag.
func settingsResponse(set lockbox.Settings) handler.Response {
	resp := httpapi.JSON(http.StatusOK, set)
	resp.Header.Set("ETag", ETag(set.Version))
	return resp
}

// ETag is the entity tag of settings of version v: the version, quoted.
func ETag(v int64) string { return strconv.Quote(strconv.FormatInt(v, 10)) }

// ErrIfMatchRequired is returned when settings are written without
// If-Match.
func ErrIfMatchRequired() *lockbox.Error {
	return lockbox.Errorf(httpapi.KindPreconditionRequired, "PreconditionRequired",
		"send If-Match with the ETag of the settings you read; a change must name the version it changes")
}

// IfMatch reads the versions an If-Match names (RFC 9110 §13.1.1): a
// comma-separated list of entity tags, across as many header lines as were
// sent. The settings' tags are their quoted versions ("3"); any other tag
// (a weak one, which If-Match never matches, or one that is not a version)
// names no version, and a list naming none of the current one fails the
// precondition (412) where the use case compares it. Errors:
// KindPreconditionRequired without the header, or with "*" (a change must
// name the version it changes); KindInvalid for a value that is not a list
// of entity tags.
func IfMatch(lines []string) ([]int64, error) {
	if len(lines) == 0 {
		return nil, ErrIfMatchRequired()
	}
	versions := []int64{}
	for _, line := range lines {
		if len(line) > 1024 {
			return nil, lockbox.Invalidf("If-Match is too long")
		}
		for _, tag := range strings.Split(line, ",") {
			tag = strings.TrimSpace(tag)
			switch {
			case tag == "*":
				return nil, ErrIfMatchRequired()
			case tag == "" && len(lines) == 1 && strings.TrimSpace(line) == "":
				return nil, ErrIfMatchRequired()
			case tag == "":
				continue // an empty list element, which RFC 9110 §5.6.1 allows
			}
			weak := strings.HasPrefix(tag, "W/")
			opaque := strings.TrimPrefix(tag, "W/")
			if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' || !etagChars(opaque[1:len(opaque)-1]) {
				return nil, lockbox.Invalidf("If-Match must list entity tags, e.g. \"3\": the ETag of the settings you read")
			}
			if weak {
				continue // If-Match compares strongly: a weak tag matches nothing
			}
			if v, err := strconv.ParseInt(opaque[1:len(opaque)-1], 10, 64); err == nil && v >= 0 {
				versions = append(versions, v)
			}
		}
	}
	return versions, nil
}

// etagChars reports whether s holds only etagc characters (RFC 9110 §8.8.3:
// %x21 / %x23-7E / obs-text).
func etagChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
}
