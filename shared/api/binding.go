package api

import (
	"net/http"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// The headers of lockbox-check. The proxy's configuration sets the
// tenant, resource and level (replacing any copy the client sent); the
// original method and URI are recorded with a grant's first use.
const (
	HeaderTenant      = "X-Lockbox-Tenant"
	HeaderResource    = "X-Lockbox-Resource"
	HeaderAccessLevel = "X-Lockbox-Access-Level"
	// The answer's headers, for the proxy to pass on to the upstream.
	HeaderRequestID   = "X-Lockbox-Request-Id"
	HeaderAccessUntil = "X-Lockbox-Access-Until"
	HeaderRequester   = "X-Lockbox-Requester"
)

// CheckResponse is lockbox-check's body when access is allowed (the proxy
// reads the status and headers; the body is for people and tools).
type CheckResponse struct {
	RequestID   string    `json:"requestId"`
	AccessUntil time.Time `json:"accessUntil"`
	Requester   string    `json:"requester"`
}

// Check is forward authentication for the provider's proxies
// (lockbox-check; nginx auth_request, Traefik ForwardAuth, Envoy ext_authz,
// HAProxy): any method, the engineer's bearer token passed through, the
// tenant, resource and level in headers the proxy sets; the original
// method and URI from X-Original-Method/URI (nginx), X-Forwarded-Method/Uri
// (Traefik), or the call's own method and path (Envoy). 200 with
// X-Lockbox-Request-Id, X-Lockbox-Access-Until and X-Lockbox-Requester
// while a live grant of the engineer covers the resource; 403 with the code
// NoGrant, PendingApproval or GrantEnded otherwise; 401 without a valid
// token; 400 when the tenant or resource is missing or given twice; 503
// when Lockbox cannot tell, which the proxy turns into a refusal.
func Check(s *Service, req handler.Request) (handler.Response, error) {
	if len(req.Body) > httpapi.MaxBody {
		return handler.Response{}, httpapi.ErrTooLarge("body", httpapi.MaxBody)
	}
	p, err := s.Auth.Authenticate(req.Header, nil, users...)
	if err != nil {
		return handler.Response{}, err
	}
	in := lockbox.CheckInput{Method: first(req.Header, "X-Original-Method", "X-Forwarded-Method"),
		URI: first(req.Header, "X-Original-URI", "X-Forwarded-Uri")}
	if in.Method == "" && in.URI == "" {
		// Envoy's ext_authz (HTTP) names neither: it sends the original
		// request's own method and path, after its path prefix.
		in.Method, in.URI = req.Method, httpapi.Path(req)
		if req.QueryString != "" {
			in.URI += "?" + req.QueryString
		}
	}
	for _, h := range []struct {
		name string
		to   *string
	}{{HeaderTenant, &in.TenantID}, {HeaderResource, &in.ResourceID}, {HeaderAccessLevel, &in.AccessLevel}} {
		values := req.Header.Values(h.name)
		if len(values) > 1 {
			return handler.Response{}, lockbox.Invalidf("%s is given %d times: the proxy must set it once, replacing any the client sent", h.name, len(values))
		}
		if len(values) == 1 {
			*h.to = values[0]
		}
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	res, err := s.Cases.Check(ctx, p, in)
	if err != nil {
		return handler.Response{}, err
	}
	until := res.AccessUntil.UTC()
	resp := httpapi.JSON(http.StatusOK, CheckResponse{RequestID: res.RequestID, AccessUntil: until, Requester: p.Subject})
	resp.Header.Set(HeaderRequestID, res.RequestID)
	resp.Header.Set(HeaderAccessUntil, until.Format(time.RFC3339))
	resp.Header.Set(HeaderRequester, p.Subject)
	return resp, nil
}

// first is the first of the named headers that is set.
func first(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// Credential issues SSH certificates (lockbox-credential): GET answers the
// CA's public key lines for sshd's TrustedUserCAKeys (text/plain, anyone);
// POST {"tenantId", "requestId", "publicKey"}, the request's requester's
// token, answers 200 with the certificate while the grant is live; 403 when
// it is not, 404 for another engineer's request.
func Credential(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckRequest(req, http.MethodGet, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	if s.Credentials.CA == nil {
		return handler.Response{}, lockbox.Internal("credential", errNoCA)
	}
	if req.Method == http.MethodGet {
		if req.QueryString != "" {
			return handler.Response{}, lockbox.Invalidf("GET takes no query: it answers the CA's public keys")
		}
		return handler.Response{StatusCode: http.StatusOK, Body: []byte(s.Credentials.CA.PublicKeys()),
			Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Cache-Control": {"max-age=300"}}}, nil
	}
	p, err := s.Auth.Authenticate(req.Header, req.Body, users...)
	if err != nil {
		return handler.Response{}, err
	}
	var in lockbox.CredentialInput
	if err := httpapi.Decode(req, &in); err != nil {
		return handler.Response{}, err
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	c, err := s.Cases.IssueCredential(ctx, p, s.Credentials, in)
	if err != nil {
		return handler.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, c), nil
}

// errNoCA is the cause logged when lockbox-credential has no CA key.
var errNoCA = errorString("no SSH CA key is configured (secret lockbox-ssh-ca-key)")

type errorString string

func (e errorString) Error() string { return string(e) }
