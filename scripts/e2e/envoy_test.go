package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	// The typed configurations the README's Envoy block names, registered
	// for its "@type"s.
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"

	"lockbox.dev/scripts/internal/readme"
	"lockbox.dev/shared/lockbox"
)

// enforceConfig returns the README's block marked
// <!-- enforce-config: name -->.
func enforceConfig(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "enforce.md"))
	require.NoError(t, err)
	blocks, err := readme.Marked(string(raw), "enforce-config")
	require.NoError(t, err)
	b, ok := blocks[name]
	require.True(t, ok, "the README marks its %s configuration with <!-- enforce-config: %s -->", name, name)
	return b.Text
}

// decodeEnvoy decodes an Envoy bootstrap configuration in YAML strictly
// (an unknown field or a wrong type anywhere, in the typed configurations
// too, is an error) and validates it with Envoy's own rules.
func decodeEnvoy(text string) (*bootstrapv3.Bootstrap, error) {
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &b); err != nil {
		return nil, err
	}
	return &b, b.ValidateAll()
}

// nginxLockboxHeaders returns the X-Lockbox-* headers the README's nginx
// block sets for lockbox-check, which TestNginxAuthRequest proves.
func nginxLockboxHeaders(t *testing.T) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`proxy_set_header (X-Lockbox-(?:Tenant|Resource|Access-Level)) (\S+);`).
		FindAllStringSubmatch(readmeFile(t, "vm-1.conf"), -1) {
		got[m[1]] = m[2]
	}
	require.Len(t, got, 3, "the nginx block sets the tenant, resource and level")
	return got
}

// Envoy cannot be installed here, so its configuration is not run: the
// README's block is decoded strictly against Envoy's API (go-control-plane)
// and validated with its rules, and it must ask lockbox-check, through
// make run's gateway, with the tenant, resource and level the nginx block
// sets (proved against the real nginx), fail closed, pass the grant's
// headers to the service and keep the engineer's token from it. The check
// it describes is then sent to a stack as Envoy would send it.
func TestEnvoyExtAuthzConfig(t *testing.T) {
	text := enforceConfig(t, "envoy")
	b, err := decodeEnvoy(text)
	require.NoError(t, err, "the README's Envoy configuration")

	// The decoding is strict: a misspelt field, in a typed configuration
	// too, is refused.
	_, err = decodeEnvoy(strings.Replace(text, "headers_to_add:", "header_to_add:", 1))
	assert.Error(t, err, "a misspelt field of ext_authz was accepted")
	_, err = decodeEnvoy(strings.Replace(text, "port_value: 8081", "port_value: 70000", 1))
	assert.Error(t, err, "a port out of range passed validation")

	require.Len(t, b.GetStaticResources().GetListeners(), 1)
	l := b.GetStaticResources().GetListeners()[0]
	assert.Equal(t, "127.0.0.1", l.GetAddress().GetSocketAddress().GetAddress())
	assert.EqualValues(t, 8081, l.GetAddress().GetSocketAddress().GetPortValue(), "the nginx walk-through's address")
	require.Len(t, l.GetFilterChains(), 1)
	require.Len(t, l.GetFilterChains()[0].GetFilters(), 1)
	var hcm hcmv3.HttpConnectionManager
	require.NoError(t, l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm))

	// ext_authz first, the router last.
	filters := hcm.GetHttpFilters()
	require.GreaterOrEqual(t, len(filters), 2)
	assert.Equal(t, "envoy.filters.http.router", filters[len(filters)-1].GetName())
	require.Equal(t, "envoy.filters.http.ext_authz", filters[0].GetName())
	var authz extauthzv3.ExtAuthz
	require.NoError(t, filters[0].GetTypedConfig().UnmarshalTo(&authz))
	assert.False(t, authz.GetFailureModeAllow(), "Envoy must refuse when Lockbox cannot answer")
	assert.Nil(t, authz.GetAllowedHeaders(), "client headers beyond Authorization must not reach Lockbox")
	svc := authz.GetHttpService()
	require.NotNil(t, svc, "ext_authz asks an HTTP service")
	assert.Equal(t, "/function/lockbox-check", svc.GetPathPrefix())
	assert.Equal(t, readmeGateway, svc.GetServerUri().GetUri())
	assert.Equal(t, "lockbox", svc.GetServerUri().GetCluster())

	added := map[string]string{}
	for _, h := range svc.GetAuthorizationRequest().GetHeadersToAdd() {
		added[h.GetKey()] = h.GetValue()
	}
	assert.Equal(t, nginxLockboxHeaders(t), added, "Envoy sets what nginx sets")
	var upstream []string
	for _, p := range svc.GetAuthorizationResponse().GetAllowedUpstreamHeaders().GetPatterns() {
		upstream = append(upstream, p.GetExact())
	}
	assert.Contains(t, upstream, "x-lockbox-request-id")

	// The service gets no Lockbox token.
	require.Len(t, hcm.GetRouteConfig().GetVirtualHosts(), 1)
	vh := hcm.GetRouteConfig().GetVirtualHosts()[0]
	assert.Contains(t, vh.GetRequestHeadersToRemove(), "authorization")
	require.Len(t, vh.GetRoutes(), 1)
	assert.Equal(t, "vm-1", vh.GetRoutes()[0].GetRoute().GetCluster())

	// The clusters: make run's gateway and the nginx walk-through's
	// service.
	addrs := map[string]string{}
	for _, c := range b.GetStaticResources().GetClusters() {
		eps := c.GetLoadAssignment().GetEndpoints()
		require.Len(t, eps, 1, c.GetName())
		require.Len(t, eps[0].GetLbEndpoints(), 1, c.GetName())
		sa := eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
		addrs[c.GetName()] = sa.GetAddress() + ":" + strconv.FormatUint(uint64(sa.GetPortValue()), 10)
	}
	assert.Equal(t, map[string]string{"lockbox": "127.0.0.1:8080", "vm-1": "127.0.0.1:9000"}, addrs)

	// The check Envoy would send for GET /disk?usage=1 (the method, the
	// path after path_prefix, the client's Authorization and the headers
	// to add, no body) reaches lockbox-check through the gateway, which
	// answers it as it answers nginx: 403 before the grant, 200 with the
	// headers allowed upstream once approved, 403 for another VM.
	if testing.Short() {
		return
	}
	e := startEnforceStack(t, nil)
	eng7 := e.token(t, "provider", "eng-7", lockbox.RoleRequester)
	envoyCheck := func(resource string) (int, http.Header) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.Gateway+svc.GetPathPrefix()+"/disk?usage=1", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+eng7)
		for k, v := range added {
			req.Header.Set(k, v)
		}
		if resource != "" {
			req.Header.Set("X-Lockbox-Resource", resource)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	status, _ := envoyCheck("")
	assert.Equal(t, http.StatusForbidden, status)
	r := e.grant(t, "eng-7", false, "vm-1")
	status, h := envoyCheck("")
	require.Equal(t, http.StatusOK, status)
	for _, name := range upstream {
		assert.NotEmpty(t, h.Get(name), "lockbox-check's answer has no %s for Envoy to pass upstream", name)
	}
	assert.Equal(t, r.RequestID, h.Get("X-Lockbox-Request-Id"))
	status, _ = envoyCheck("vm-2")
	assert.Equal(t, http.StatusForbidden, status)
}
