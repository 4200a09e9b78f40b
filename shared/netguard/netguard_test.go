package netguard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
