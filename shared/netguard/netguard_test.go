package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	g := Guard{}
	for raw, ok := range map[string]bool{
		"https://93.184.215.14/hook":      true,
		"https://[2606:4700::6810:84e5]/": true,
		"http://93.184.215.14/hook":       false, // plain http
		"https://127.0.0.1/":              false,
		"https://[::1]:8443/":             false,
		"https://10.1.2.3/":               false,
		"https://172.16.0.1/":             false,
		"https://192.168.1.1/":            false,
		"https://169.254.169.254/latest/": false, // cloud metadata
		"https://100.64.0.1/":             false, // carrier-grade NAT
		"https://0.0.0.0/":                false,
		"https://[::ffff:10.0.0.1]/":      false, // v4-mapped private
		"https://[2002:a00:1::]/":         false, // 6to4 wrapping 10.0.0.1
		"https://[fe80::1]/":              false,
		"https://[fc00::1]/":              false,
		"https://[::127.0.0.1]/":          false, // IPv4-compatible (::/96) loopback
		"https://[::10.0.0.1]/":           false, // IPv4-compatible private
		"https://[::93.184.215.14]/":      false, // IPv4-compatible: the whole range is refused
		"https://[::ffff:0:7f00:1]/":      false, // IPv4-translated (::ffff:0:0:0/96) 127.0.0.1
		"https://[::ffff:0:a00:1]/":       false, // IPv4-translated 10.0.0.1
		"https://[::ffff:0:5db8:d70e]/":   false, // IPv4-translated: the whole range is refused
		"https://[fec0::1]/":              false, // site-local (fec0::/10)
		"https://[feff:ffff::1]/":         false, // site-local, the range's top
		"https://[::ffff:93.184.215.14]/": true,  // v4-mapped public
		"https://224.0.0.1/":              false,
		"https://localhost/":              false, // resolves to loopback
		"ftp://93.184.215.14/":            false,
		"/relative":                       false,
	} {
		err := g.Check(context.Background(), raw)
		if (err == nil) != ok {
			t.Errorf("%s: got %v, want allowed=%v", raw, err, ok)
		}
	}
	allow := Guard{AllowPrivate: true}
	for _, raw := range []string{"http://127.0.0.1:9000/hook", "https://10.1.2.3/"} {
		if err := allow.Check(context.Background(), raw); err != nil {
			t.Errorf("%s with AllowPrivate: got %v", raw, err)
		}
	}
	if err := allow.Check(context.Background(), "ftp://127.0.0.1/"); err == nil {
		t.Error("ftp accepted with AllowPrivate")
	}
}

// The dialer refuses a connection to a forbidden address whatever the URL
// said: a name can resolve to another address when the call is made.
func TestDialerChecksTheAddressDialled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: Guard{}.Dialer(time.Second).DialContext}}
	_, err := client.Get(srv.URL)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("got %v, want %v", err, ErrForbiddenAddress)
	}
	client = &http.Client{Transport: &http.Transport{DialContext: Guard{AllowPrivate: true}.Dialer(time.Second).DialContext}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	resp.Body.Close()
}

// refusedNames are names that resolve (through testResolver) to an address
// outgoing calls may not reach, one for each kind of range, and a name with a
// public address besides a private one.
var refusedNames = map[string][]netip.Addr{
	"loopback.test":   {netip.MustParseAddr("127.0.0.1")},
	"private.test":    {netip.MustParseAddr("10.20.30.40")},
	"compat.test":     {netip.MustParseAddr("::10.20.30.41")},
	"translated.test": {netip.MustParseAddr("::ffff:0:a14:1e2a")},
	"sitelocal.test":  {netip.MustParseAddr("fec0::4:3:2:1")},
	"mapped.test":     {netip.MustParseAddr("::ffff:10.20.30.43")},
	"mixed.test":      {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("fec0::4:3:2:2")},
}

// A name is checked by every address it resolves to; the error names the
// host as given and never an address it resolved to (a tenant's admin must
// not learn the provider's internal DNS answers from a refused URL).
func TestCheckResolvedNames(t *testing.T) {
	names := map[string][]netip.Addr{"public.test": {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("2606:4700::6810:84e5")}}
	for name, addrs := range refusedNames {
		names[name] = addrs
	}
	g := Guard{Resolver: testResolver(t, names)}
	if err := g.Check(t.Context(), "https://public.test/hook"); err != nil {
		t.Errorf("public.test: got %v, want allowed", err)
	}
	for name, addrs := range refusedNames {
		err := g.Check(t.Context(), "https://"+name+":8443/hook?token=x")
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: got %v, want %v", name, err, ErrForbiddenAddress)
			continue
		}
		msg := err.Error()
		if want := "host " + name + " resolves to an address not allowed"; !strings.Contains(msg, want) {
			t.Errorf("%s: got %q, want it to say %q", name, msg, want)
		}
		for _, a := range addrs {
			b := a.As16()
			for _, form := range []string{a.String(), a.Unmap().String(), netip.AddrFrom4([4]byte(b[12:])).String()} {
				if strings.Contains(msg, form) {
					t.Errorf("%s: got %q, which names the resolved address %s", name, msg, form)
				}
			}
		}
	}
	if err := g.Check(t.Context(), "https://unknown.test/"); err == nil || !strings.Contains(err.Error(), "unknown.test does not resolve") {
		t.Errorf("unknown.test: got %v, want that it does not resolve", err)
	}
}

// The dialer refuses the same ranges as Check, literal or resolved (with the
// guard's resolver), before connecting.
func TestDialerRefusesEveryRange(t *testing.T) {
	d := Guard{Resolver: testResolver(t, refusedNames)}.Dialer(time.Second)
	var addrs []string
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "::1", "::127.0.0.1", "::10.0.0.1", "::ffff:0:7f00:1", "::ffff:0:a00:1",
		"fec0::1", "feff:ffff::1", "::ffff:10.0.0.1", "fc00::1", "fe80::1"} {
		addrs = append(addrs, net.JoinHostPort(a, "9"))
	}
	for name := range refusedNames {
		if name != "mixed.test" { // its public address may be dialled
			addrs = append(addrs, net.JoinHostPort(name, "9"))
		}
	}
	for _, addr := range addrs {
		conn, err := d.DialContext(t.Context(), "tcp", addr)
		if err == nil {
			_ = conn.Close()
		}
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("dial %s: got %v, want %v", addr, err, ErrForbiddenAddress)
		}
	}
}
