package netguard

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// DNS record types and the response code the test server uses.
const (
	typeA       = 1
	typeAAAA    = 28
	rcodeNXName = 3
)

// testResolver returns a resolver that asks a DNS server on loopback which
// knows exactly names (their A and AAAA records) and answers NXDOMAIN for
// every other name. The server stops when t ends.
func testResolver(t *testing.T, names map[string][]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, ok := dnsAnswer(buf[:n], names); ok {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	server := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
}

// dnsAnswer answers one DNS query (RFC 1035 §4.1) from names; false for a
// message it cannot read.
func dnsAnswer(q []byte, names map[string][]netip.Addr) ([]byte, bool) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil, false
	}
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil, false
		}
		n := int(q[i])
		i++
		if n == 0 {
			break
		}
		if n > 63 || i+n > len(q) {
			return nil, false
		}
		labels = append(labels, string(q[i:i+n]))
		i += n
	}
	if i+4 > len(q) {
		return nil, false
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	addrs, known := names[strings.ToLower(strings.Join(labels, "."))]

	var answers []byte
	count := 0
	for _, a := range addrs {
		if (qtype == typeA && a.Is4()) || (qtype == typeAAAA && a.Is6()) {
			data := a.AsSlice()
			answers = append(answers, 0xc0, 12) // the name: a pointer to the question's
			answers = binary.BigEndian.AppendUint16(answers, qtype)
			answers = binary.BigEndian.AppendUint16(answers, 1) // class IN
			answers = binary.BigEndian.AppendUint32(answers, 60)
			answers = binary.BigEndian.AppendUint16(answers, uint16(len(data)))
			answers = append(answers, data...)
			count++
		}
	}
	flags := uint16(0x8000 | 0x0400 | 0x0080)        // a response, authoritative, recursion available
	flags |= binary.BigEndian.Uint16(q[2:]) & 0x0100 // recursion desired, as asked
	if !known {
		flags |= rcodeNXName
	}
	resp := append([]byte{}, q[:2]...) // the query's id
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(count))
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = append(resp, question...)
	return append(resp, answers...), true
}

// The test server answers as a DNS server would.
func TestTestResolver(t *testing.T) {
	r := testResolver(t, map[string][]netip.Addr{"both.test": {netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}})
	got, err := r.LookupNetIP(t.Context(), "ip", "both.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %v, want 192.0.2.7 and 2001:db8::7", got)
	}
	if _, err := r.LookupNetIP(t.Context(), "ip", "unknown.test"); err == nil {
		t.Error("unknown.test resolved, want no such host")
	}
}
