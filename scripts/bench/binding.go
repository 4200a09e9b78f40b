package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"

	"lockbox.dev/shared/api"
)

// The binding's functions: lockbox-check, the call a proxy makes before
// each call an engineer makes to a customer's resource (forward
// authentication, as nginx's auth_request sends it), and
// lockbox-credential, which signs SSH certificates under a live grant.

// A proxy's check carries the engineer's method and path (checkMethod,
// checkURI), which the first use of each resource records.
const (
	checkMethod = http.MethodGet
	checkURI    = "/orders/7?verbose=1"
	// providerTenant is the tenant claim of the engineers' tokens: the
	// provider's, not the customer's.
	providerTenant = "bench-provider"
)

// checkHeader is the auth subrequest's header as a proxy sends it for the
// engineer's call: their token passed through, and the tenant and resource
// the proxy's configuration names (the level is left to its default,
// Read).
func checkHeader(bearer string, it Item) http.Header {
	return http.Header{"Authorization": {bearer}, api.HeaderTenant: {it.Tenant}, api.HeaderResource: {it.Key},
		"X-Original-Method": {checkMethod}, "X-Original-Uri": {checkURI}}
}

// engineerKey is an engineer's SSH public key: its authorized_keys line
// and its SHA-256 fingerprint.
type engineerKey struct{ line, fingerprint string }

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
