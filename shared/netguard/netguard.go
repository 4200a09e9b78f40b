// Package netguard keeps Lockbox's outgoing calls (tenants' webhooks) from
// reaching addresses they must not: private, loopback, link-local and other
// special-purpose networks, where a tenant-supplied URL could probe or
// attack the provider's own services (SSRF). A URL is checked when it is
// saved (Check, after resolving its host) and again when it is called
// (Dialer: the address actually dialled, after DNS, so a name that resolves
// differently later is caught too).
//
// AllowPrivate (config webhook_allow_private, which `make run` sets so that
// local receivers work) lifts the address check and accepts plain http://;
// it is off in a deployment.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrForbiddenAddress is the error of a host that resolves to an address
// outgoing calls may not reach.
var ErrForbiddenAddress = errors.New("address not allowed for outgoing calls")

// Guard checks URLs and addresses of outgoing calls.
type Guard struct {
	// AllowPrivate accepts private and loopback addresses and plain http.
	AllowPrivate bool
	// Resolver looks up host names; net.DefaultResolver when nil.
	Resolver *net.Resolver
}

// Check reports whether raw may be called: https (or http with
// AllowPrivate), a host, and every address the host resolves to allowed.
// The error says which, in words safe to show: it names the URL's host as
// given, never an address the host resolved to.
func (g Guard) Check(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("not an absolute URL")
	}
	if u.Scheme != "https" && !(g.AllowPrivate && u.Scheme == "http") {
		return fmt.Errorf("must use https")
	}
	if g.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !allowed(ip) {
			return fmt.Errorf("host %s is an %w", host, ErrForbiddenAddress)
		}
		return nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("host %s does not resolve", host)
	}
	for _, a := range addrs {
		if !allowed(a) {
			// The addresses stay out of the error: it is shown to the
			// tenant, who must not learn what the provider's DNS answers.
			return fmt.Errorf("host %s resolves to an %w", host, ErrForbiddenAddress)
		}
	}
	return nil
}

// allowed reports whether outgoing calls may reach a.
func allowed(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(),
		a.IsInterfaceLocalMulticast(), a.IsMulticast():
		return false
	}
	for _, p := range specialPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// specialPrefixes are special-purpose ranges (RFC 6890 and successors) that
// the netip predicates leave out: shared address space (carrier-grade NAT),
// "this network", benchmarking, IETF protocol assignments, documentation,
// reserved; the IPv6 forms that can carry an IPv4 address (NAT64, 6to4,
// IPv4-compatible ::/96 of RFC 4291 §2.5.5.1, IPv4-translated
// ::ffff:0:0:0/96 of RFC 2765 §2.1; IPv4-mapped ::ffff:0:0/96 is unmapped
// and checked as IPv4 instead); and site-local fec0::/10 (deprecated by RFC
// 3879, still routed inside some networks). The cloud metadata service's
// range is link-local (covered above).
var specialPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "240.0.0.0/4", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/23", "2001:db8::/32", "2002::/16", "100::/64",
		"::/96", "::ffff:0:0:0/96", "fec0::/10"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Dialer returns a dialer whose every connection is checked against the
// guard once the address is known (after DNS with the guard's Resolver,
// before connecting), with timeout. A refused connection's error matches
// ErrForbiddenAddress; the *net.OpError around it names the address
// dialled, so what a tenant is shown must be built from the URL's host,
// not from the error.
func (g Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Resolver: g.Resolver, Control: func(network, address string, _ syscall.RawConn) error {
		if g.AllowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("dial %s: %w", address, err)
		}
		if !allowed(ap.Addr()) {
			return ErrForbiddenAddress
		}
		return nil
	}}
}
