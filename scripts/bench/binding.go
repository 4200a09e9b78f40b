package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/lockbox"
)

// The binding's load runs. lockbox-check is the call a proxy makes before
// each call an engineer makes to a customer's resource (forward
// authentication, as nginx's auth_request sends it): allowed (check: the
// engineer's live grant names the resource) and refused (checkdenied:
// NoGrant, a resource no grant of theirs names). Each is measured beside
// the no-op function called with the very same request (noopcheck) and
// beside the check's store call sent straight to Redis. lockbox-credential
// (credential) signs an SSH certificate per call under the same grants.

// The grants the binding's runs use: checkEngineers engineers, each holding
// one live grant of a request filed by createInput (vm-1 and vm-2, Read);
// a denied check asks for deniedResource, which none names. A proxy's
// check carries the engineer's method and path (checkMethod, checkURI),
// which the first use of each resource records.
const (
	checkEngineers = 64
	deniedResource = "vm-9"
	checkMethod    = http.MethodGet
	checkURI       = "/orders/7?verbose=1"
	// providerTenant is the tenant claim of the engineers' tokens: the
	// provider's, not the customer's.
	providerTenant = "bench-provider"
)

// grantSet is a tenant's live grants, one per engineer.
type grantSet struct {
	Tenant    string
	Engineers []string
	IDs       []string // the engineers' requests, in the same order
}

// grantSetup files a request for each of checkEngineers engineers in
// tenant and approves it (set-up, through the store).
func (b *bench) grantSetup(tenant string) (grantSet, error) {
	g := grantSet{Tenant: tenant, Engineers: make([]string, checkEngineers)}
	for i := range g.Engineers {
		g.Engineers[i] = fmt.Sprintf("eng-check-%d", i)
	}
	var err error
	if g.IDs, err = b.fill(tenant, checkEngineers, lockbox.DefaultLimits, func(i int) string { return g.Engineers[i] }); err != nil {
		return g, fmt.Errorf("file the grants' requests: %w", err)
	}
	if err := b.act(tenant, g.IDs, lockbox.ActionApprove, "approver-0"); err != nil {
		return g, fmt.Errorf("approve the grants: %w", err)
	}
	return g, nil
}

// checkItems are n checks spread over the engineers of g: allowed ones
// alternate between the two resources of each grant; denied ones ask for
// deniedResource.
func (g grantSet) checkItems(n int, allowed bool) []Item {
	items := make([]Item, n)
	for i := range items {
		e := i % len(g.Engineers)
		resource := deniedResource
		if allowed {
			resource = []string{"vm-1", "vm-2"}[(i/len(g.Engineers))%2]
		}
		items[i] = Item{Tenant: g.Tenant, Who: g.Engineers[e], Key: resource}
	}
	return items
}

// credentialItems are n certificates asked for, spread over the engineers
// of g, each under the engineer's grant.
func (g grantSet) credentialItems(n int) []Item {
	items := make([]Item, n)
	for i := range items {
		e := i % len(g.Engineers)
		items[i] = Item{Tenant: g.Tenant, Who: g.Engineers[e], Key: g.IDs[e]}
	}
	return items
}

// checkHeader is the auth subrequest's header as a proxy sends it for the
// engineer's call: their token passed through, and the tenant and resource
// the proxy's configuration names (the level is left to its default,
// Read).
func checkHeader(bearer string, it Item) http.Header {
	return http.Header{"Authorization": {bearer}, api.HeaderTenant: {it.Tenant}, api.HeaderResource: {it.Key},
		"X-Original-Method": {checkMethod}, "X-Original-Uri": {checkURI}}
}

// checkInput is the store call the function makes for a check.
func checkInput(it Item) lockbox.CheckInput {
	return lockbox.CheckInput{TenantID: it.Tenant, ResourceID: it.Key, AccessLevel: lockbox.DefaultCheckLevel, Method: checkMethod, URI: checkURI}
}

// engineerBearer is the Authorization header of an engineer's token,
// minted once per engineer, as the engineer's client holds it.
func (g *generator) engineerBearer(who string) (string, error) {
	k := string(lockbox.RoleRequester) + "/" + who
	if tok, ok := g.tokens[k]; ok {
		return "Bearer " + tok, nil
	}
	tok, err := auth.Mint(g.jwt, auth.NewClaims(who, providerTenant, []string{string(lockbox.RoleRequester)}, time.Now(), 2*time.Hour))
	if err != nil {
		return "", err
	}
	g.tokens[k] = tok
	return "Bearer " + tok, nil
}

// bearers mints the tokens of the items' engineers before a run and
// returns them by engineer.
func (g *generator) bearers(items []Item) (map[string]string, error) {
	out := map[string]string{}
	for _, it := range items {
		if _, ok := out[it.Who]; ok {
			continue
		}
		b, err := g.engineerBearer(it.Who)
		if err != nil {
			return nil, err
		}
		out[it.Who] = b
	}
	return out, nil
}

// checkCaller is a check run's call over HTTP: the auth subrequest, to
// lockbox-check (check: 200 naming the grant; checkdenied: 403 NoGrant) or
// to the no-op (noopcheck: 200).
func (g *generator) checkCaller(j Job) (func(context.Context, Item) error, error) {
	tokens, err := g.bearers(j.Items)
	if err != nil {
		return nil, err
	}
	want := map[string]int{"check": http.StatusOK, "checkdenied": http.StatusForbidden, "noopcheck": http.StatusOK}[j.Op]
	return func(ctx context.Context, it Item) error {
		h, body, err := g.exchange(ctx, http.MethodGet, j.URL, checkHeader(tokens[it.Who], it), nil, want)
		switch {
		case err != nil:
			return err
		case j.Op == "check" && h.Get(api.HeaderRequestID) == "":
			return fmt.Errorf("an allowed check without %s", api.HeaderRequestID)
		case j.Op == "checkdenied" && !bytes.Contains(body, []byte(`"code":"`+lockbox.CodeNoGrant+`"`)):
			return fmt.Errorf("a refused check that is not NoGrant: %s", snippet(body))
		}
		return nil
	}, nil
}

// checkRedisCaller is a check run's store call straight to Redis, with the
// arguments the function passes.
func (g *generator) checkRedisCaller(j Job) func(context.Context, Item) error {
	allowed := j.Op == "check"
	return func(ctx context.Context, it Item) error {
		res, err := g.store.Check(ctx, it.Tenant, it.Who, checkInput(it), time.Now())
		switch {
		case err != nil:
			return err
		case res.Allowed != allowed:
			return fmt.Errorf("check of %s by %s: allowed %v, want %v (%s)", it.Key, it.Who, res.Allowed, allowed, res.Code)
		case !allowed && res.Code != lockbox.CodeNoGrant:
			return fmt.Errorf("check of %s by %s refused with %s, want %s", it.Key, it.Who, res.Code, lockbox.CodeNoGrant)
		}
		return nil
	}
}

// certificatePrefix starts every certificate lockbox-credential answers for
// an Ed25519 key.
const certificatePrefix = `"certificate":"ssh-ed25519-cert-v01@openssh.com `

// credentialCaller is the credential run's call over HTTP: each engineer's
// own Ed25519 public key, generated once, sent with their token for their
// grant; lockbox-credential must answer 200 with a certificate.
func (g *generator) credentialCaller(j Job) (func(context.Context, Item) error, error) {
	tokens, err := g.bearers(j.Items)
	if err != nil {
		return nil, err
	}
	keys := g.engineerKeys(j.Items)
	return func(ctx context.Context, it Item) error {
		body, err := json.Marshal(lockbox.CredentialInput{TenantID: it.Tenant, RequestID: it.Key, PublicKey: keys[it.Who].line})
		if err != nil {
			return err
		}
		h := http.Header{"Content-Type": {"application/json"}, "Authorization": {tokens[it.Who]}}
		_, answer, err := g.exchange(ctx, http.MethodPost, j.URL, h, body, http.StatusOK)
		if err == nil && !bytes.Contains(answer, []byte(certificatePrefix)) {
			err = fmt.Errorf("no certificate in %s", snippet(answer))
		}
		return err
	}, nil
}

// credentialRedisCaller is the credential run's store call straight to
// Redis: the grant checked live and the issue recorded, with a serial and
// the key's fingerprint as the function records them (no signing).
func (g *generator) credentialRedisCaller(j Job) func(context.Context, Item) error {
	keys := g.engineerKeys(j.Items)
	return func(ctx context.Context, it Item) error {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		c := lockbox.Credential{Serial: binary.BigEndian.Uint64(b[:]) >> 1, Fingerprint: keys[it.Who].fingerprint}
		_, err := g.store.IssueCredential(ctx, it.Tenant, it.Key, it.Who, c, time.Now().UTC().Truncate(time.Second))
		return err
	}
}

// engineerKey is an engineer's SSH public key: its authorized_keys line
// and its SHA-256 fingerprint.
type engineerKey struct{ line, fingerprint string }

// engineerKeys gives each engineer of items a key of their own, generated
// once for the generator's life.
func (g *generator) engineerKeys(items []Item) map[string]engineerKey {
	if g.sshKeys == nil {
		g.sshKeys = map[string]engineerKey{}
	}
	for _, it := range items {
		if _, ok := g.sshKeys[it.Who]; !ok {
			pub, _, _ := ed25519.GenerateKey(rand.Reader) // crypto/rand never fails (Go 1.24+)
			g.sshKeys[it.Who] = newEngineerKey(pub, it.Who+"@bench")
		}
	}
	return g.sshKeys
}

// newEngineerKey writes pub as OpenSSH does: "ssh-ed25519 <base64 of the
// wire form> comment", the wire form being the type and the key, each
// length-prefixed (RFC 8709), and the fingerprint "SHA256:<unpadded base64
// of its SHA-256>".
func newEngineerKey(pub ed25519.PublicKey, comment string) engineerKey {
	const algo = "ssh-ed25519"
	wire := binary.BigEndian.AppendUint32(nil, uint32(len(algo)))
	wire = append(wire, algo...)
	wire = binary.BigEndian.AppendUint32(wire, uint32(len(pub))) // #nosec G115 -- 32 bytes
	wire = append(wire, pub...)
	sum := sha256.Sum256(wire)
	return engineerKey{line: algo + " " + base64.StdEncoding.EncodeToString(wire) + " " + comment,
		fingerprint: "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])}
}

// startupKey is a public key line for lockbox-credential's first call.
func startupKey() string {
	pub, _, _ := ed25519.GenerateKey(rand.Reader) // crypto/rand never fails (Go 1.24+)
	return newEngineerKey(pub, "startup@bench").line
}
