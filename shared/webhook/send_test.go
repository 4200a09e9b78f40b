package webhook_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/netguard"
	"lockbox.dev/shared/webhook"
)

// hookPath stands for the token Slack and Teams put in their URLs: errors
// must not show it.
const hookPath = "/services/T000/B000/tokenTOKENtoken"

// allowLocal is the guard of `make run`: httptest listens on loopback.
var allowLocal = netguard.Guard{AllowPrivate: true}

// got is what a receiver saw of one delivery.
type got struct {
	Header   http.Header
	Body     []byte
	Verified error
}

// receiver is a real HTTP endpoint that verifies every delivery with the
// Standard Webhooks reference library and answers status.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []got
	status atomic.Int32
}

func newReceiver(t *testing.T, secret string, tlsServer bool) *receiver {
	t.Helper()
	verifier, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	r := &receiver{}
	r.status.Store(http.StatusNoContent)
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, got{Header: req.Header.Clone(), Body: body, Verified: verifier.Verify(body, req.Header)})
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
	})
	if tlsServer {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []got {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]got(nil), r.got...)
}

// TestSendVerifiedByReferenceLibrary: every format, signed, accepted by the
// reference verifier, with the headers the spec and the brief name; a
// re-send keeps its webhook-id and is signed afresh.
func TestSendVerifiedByReferenceLibrary(t *testing.T) {
	secret := newSecret(t, 32)
	rcv := newReceiver(t, secret, false)
	s := webhook.NewSender(allowLocal)

	formats := []string{lockbox.FormatStandard, lockbox.FormatSlack, lockbox.FormatTeams}
	for i, f := range formats {
		body, err := webhook.Payload(f, created(), portal)
		require.NoError(t, err)
		d := webhook.Delivery{URL: rcv.URL + hookPath, Secret: secret, ID: fmt.Sprintf("n-1.hook-%d", i), Time: time.Now(), Body: body}
		require.NoError(t, s.Send(context.Background(), d), "%s: got an error, want delivered", f)
	}
	// A re-send: the same id, a new timestamp (zero: now).
	body, err := webhook.Payload(lockbox.FormatStandard, created(), portal)
	require.NoError(t, err)
	require.NoError(t, s.Send(context.Background(), webhook.Delivery{URL: rcv.URL + hookPath, Secret: secret, ID: "n-1.hook-0", Body: body}))

	ds := rcv.deliveries()
	require.Len(t, ds, 4, "got %d deliveries, want 4", len(ds))
	for i, d := range ds {
		assert.NoError(t, d.Verified, "delivery %d: got the reference verifier's refusal, want acceptance", i)
		assert.True(t, json.Valid(d.Body), "delivery %d: got invalid JSON", i)
		for h, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "Lockbox"} {
			assert.Equal(t, want, d.Header.Get(h), "delivery %d: got %s %q, want %q", i, h, d.Header.Get(h), want)
		}
		for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			assert.NotEmpty(t, d.Header.Get(h), "delivery %d: got no %s", i, h)
		}
	}
	assert.Equal(t, ds[0].Header.Get("webhook-id"), ds[3].Header.Get("webhook-id"), "got a new webhook-id on a re-send, want the same")
	assert.Contains(t, string(ds[1].Body), `"blocks"`, "got %s, want the Slack message", ds[1].Body)
	assert.Contains(t, string(ds[2].Body), `"AdaptiveCard"`, "got %s, want the Teams message", ds[2].Body)

	// The receiver does check: a delivery signed with another secret fails.
	require.NoError(t, s.Send(context.Background(), webhook.Delivery{URL: rcv.URL, Secret: newSecret(t, 32), ID: "x", Body: body}))
	ds = rcv.deliveries()
	assert.Error(t, ds[len(ds)-1].Verified, "got acceptance of another secret's signature, want a refusal")
}

// TestSendOverTLS: https with the receiver's CA; a receiver that only speaks
// TLS 1.1 is refused before anything is sent.
func TestSendOverTLS(t *testing.T) {
	secret := newSecret(t, 32)
	rcv := newReceiver(t, secret, true)
	pool := x509.NewCertPool()
	pool.AddCert(rcv.Certificate())
	s := webhook.NewSender(allowLocal)
	s.RootCAs = pool
	require.NoError(t, s.Send(context.Background(), webhook.Delivery{URL: rcv.URL + hookPath, Secret: secret, ID: "tls-1", Body: []byte(`{}`)}))
	require.Len(t, rcv.deliveries(), 1)
	assert.NoError(t, rcv.deliveries()[0].Verified, "got the verifier's refusal over TLS, want acceptance")

	var called atomic.Int32
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called.Add(1) }))
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11} // #nosec G402 -- the outdated receiver the sender must refuse
	old.StartTLS()
	defer old.Close()
	pool.AddCert(old.Certificate())
	err := s.Send(context.Background(), webhook.Delivery{URL: old.URL, Secret: secret, ID: "tls-2", Body: []byte(`{}`)})
	require.Error(t, err, "got delivered over TLS 1.1, want a refusal")
	assert.Zero(t, called.Load(), "got the TLS 1.1 receiver called, want never")

	// And a certificate nobody vouches for.
	other := webhook.NewSender(allowLocal)
	err = other.Send(context.Background(), webhook.Delivery{URL: rcv.URL, Secret: secret, ID: "tls-3", Body: []byte(`{}`)})
	require.Error(t, err, "got delivered to an untrusted certificate, want a refusal")
	assert.Len(t, rcv.deliveries(), 1, "got the receiver called, want the handshake to fail first")
}

// TestSendStatuses: each answer's outcome, and error texts without the
// secret, the body or the URL's token.
func TestSendStatuses(t *testing.T) {
	secret := newSecret(t, 32)
	rcv := newReceiver(t, secret, false)
	s := webhook.NewSender(allowLocal)
	body := []byte(`{"type":"lockbox.request.created","justification":"very private"}`)
	for _, tc := range []struct {
		status    int32
		permanent bool
	}{
		{200, false}, {201, false}, {202, false}, {204, false},
		{400, true}, {401, true}, {403, true}, {404, true}, {410, true}, {413, true}, {422, true},
		{408, false}, {425, false}, {429, false}, {500, false}, {502, false}, {503, false}, {504, false},
	} {
		rcv.status.Store(tc.status)
		err := s.Send(context.Background(), webhook.Delivery{URL: rcv.URL + hookPath, Secret: secret, ID: "st", Body: body})
		if tc.status < 300 {
			assert.NoError(t, err, "%d: got %v, want delivered", tc.status, err)
			continue
		}
		require.Error(t, err, "%d: got delivered, want an error", tc.status)
		assert.Equal(t, tc.permanent, webhook.Permanent(err), "%d: got permanent=%v, want %v (%v)", tc.status, !tc.permanent, tc.permanent, err)
		var we *webhook.Error
		require.ErrorAs(t, err, &we)
		assert.Equal(t, int(tc.status), we.StatusCode, "got status %d, want %d", we.StatusCode, tc.status)
		assert.Contains(t, err.Error(), fmt.Sprint(tc.status), "got %q, want the status named", err)
		assertQuiet(t, err, secret, body)
	}
}

// assertQuiet: the error names the host, never the secret, the body or the
// URL's path.
func assertQuiet(t *testing.T, err error, secret string, body []byte) {
	t.Helper()
	msg := err.Error()
	assert.NotContains(t, msg, strings.TrimPrefix(secret, "whsec_"), "got the secret in %q", msg)
	assert.NotContains(t, msg, string(body), "got the body in %q", msg)
	assert.NotContains(t, msg, "very private", "got the body in %q", msg)
	assert.NotContains(t, msg, "tokenTOKENtoken", "got the URL's token in %q", msg)
}

func TestSendRetryAfter(t *testing.T) {
	for value, want := range map[string]time.Duration{
		"7": 7 * time.Second, "": 0, "-3": 0, "soon": 0, "999999999": 24 * time.Hour,
		time.Now().Add(time.Hour).UTC().Format(http.TimeFormat): time.Hour,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if value != "" {
				w.Header().Set("Retry-After", value)
			}
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		err := webhook.NewSender(allowLocal).Send(context.Background(), webhook.Delivery{URL: srv.URL, Secret: newSecret(t, 32), ID: "r", Body: []byte(`{}`)})
		srv.Close()
		var we *webhook.Error
		require.ErrorAs(t, err, &we)
		assert.False(t, webhook.Permanent(err), "429: got permanent, want temporary")
		assert.InDelta(t, want.Seconds(), we.RetryAfter.Seconds(), 2, "Retry-After %q: got %s, want %s", value, we.RetryAfter, want)
	}
}

// TestSendDoesNotFollowRedirects: a 3xx is a permanent failure, and the
// receiver it points at is never called.
func TestSendDoesNotFollowRedirects(t *testing.T) {
	secret := newSecret(t, 32)
	target := newReceiver(t, secret, false)
	for _, code := range []int{301, 302, 303, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", code)
		}))
		err := webhook.NewSender(allowLocal).Send(context.Background(), webhook.Delivery{URL: redirector.URL + hookPath, Secret: secret, ID: "rd", Body: []byte(`{}`)})
		redirector.Close()
		require.Error(t, err, "%d: got delivered, want a failure", code)
		assert.True(t, webhook.Permanent(err), "%d: got temporary, want permanent (%v)", code, err)
		assert.Contains(t, err.Error(), "redirect", "%d: got %q, want the redirect named", code, err)
		assertQuiet(t, err, secret, []byte(`{}`))
	}
	assert.Empty(t, target.deliveries(), "got the redirect target called, want never")
}

// TestSendTimeout: a receiver that does not answer in time is a temporary
// failure, and Send returns at the timeout.
func TestSendTimeout(t *testing.T) {
	assert.Equal(t, 5*time.Second, webhook.NewSender(netguard.Guard{}).Timeout, "got the default timeout, want 5s")

	secret := newSecret(t, 32)
	for name, h := range map[string]http.HandlerFunc{
		"no answer": func(_ http.ResponseWriter, r *http.Request) { stall(r) },
		"answer after the timeout": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			time.Sleep(time.Second)
			w.WriteHeader(http.StatusNoContent)
		},
	} {
		srv := httptest.NewServer(h)
		s := webhook.NewSender(allowLocal)
		s.Timeout = 300 * time.Millisecond
		start := time.Now()
		err := s.Send(context.Background(), webhook.Delivery{URL: srv.URL + hookPath, Secret: secret, ID: "to", Body: []byte(`{"a":1}`)})
		elapsed := time.Since(start)
		srv.Close()
		require.Error(t, err, "%s: got delivered, want a timeout", name)
		assert.False(t, webhook.Permanent(err), "%s: got permanent, want temporary (%v)", name, err)
		assert.Less(t, elapsed, 2*time.Second, "%s: got a return after %s, want about the 300ms timeout", name, elapsed)
		assert.GreaterOrEqual(t, elapsed, 250*time.Millisecond, "%s: got a return after %s, want the timeout awaited", name, elapsed)
		assert.Contains(t, err.Error(), "no answer within 300ms", "%s: got %q, want the timeout named", name, err)
		var ne net.Error
		assert.True(t, errors.As(err, &ne) && ne.Timeout(), "%s: got %v, want a net.Error timeout in the chain", name, err)
		assertQuiet(t, err, secret, []byte(`{"a":1}`))
	}
}

// TestSendStalledBodyAfter2xx: a 2xx whose body never ends is still a
// delivery, known within the timeout.
func TestSendStalledBodyAfter2xx(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
		w.(http.Flusher).Flush()
		stall(r)
	}))
	defer srv.Close()
	s := webhook.NewSender(allowLocal)
	s.Timeout = 300 * time.Millisecond
	start := time.Now()
	err := s.Send(context.Background(), webhook.Delivery{URL: srv.URL, Secret: newSecret(t, 32), ID: "sb", Body: []byte(`{}`)})
	assert.NoError(t, err, "got %v, want delivered: the receiver answered 200", err)
	assert.Less(t, time.Since(start), 2*time.Second, "got a return after %s, want within the timeout", time.Since(start))
}

// stall keeps a receiver from answering until the client hangs up (or 10 s
// pass). The body is read first: the server notices a closed connection only
// once it has.
func stall(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// TestSendCallerDeadline: the caller's context bounds Send too.
func TestSendCallerDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { stall(r) }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := webhook.NewSender(allowLocal).Send(ctx, webhook.Delivery{URL: srv.URL, Secret: newSecret(t, 32), ID: "c", Body: []byte(`{}`)})
	require.Error(t, err)
	assert.False(t, webhook.Permanent(err), "got permanent, want temporary (%v)", err)
	assert.Less(t, time.Since(start), 2*time.Second, "got a return after %s, want the caller's 200ms", time.Since(start))
}

// TestSendDefaultGuardRefusesLoopback: without AllowPrivate the address
// dialled is checked after DNS; a loopback receiver is refused, for good,
// and never called. The error (which the tenant sees as the delivery's
// lastError) names the URL's host, never the address a name resolved to.
func TestSendDefaultGuardRefusesLoopback(t *testing.T) {
	secret := newSecret(t, 32)
	rcv := newReceiver(t, secret, true)
	pool := x509.NewCertPool()
	pool.AddCert(rcv.Certificate())
	s := webhook.NewSender(netguard.Guard{})
	s.RootCAs = pool
	_, port, err := net.SplitHostPort(rcv.Listener.Addr().String())
	require.NoError(t, err)
	for _, u := range []string{rcv.URL + hookPath, "https://localhost:" + port + hookPath} {
		err := s.Send(context.Background(), webhook.Delivery{URL: u, Secret: secret, ID: "g", Body: []byte(`{}`)})
		require.Error(t, err, "%s: got delivered, want refused", u)
		assert.True(t, webhook.Permanent(err), "%s: got temporary, want permanent (%v)", u, err)
		assert.ErrorIs(t, err, netguard.ErrForbiddenAddress, "%s: got %v, want ErrForbiddenAddress", u, err)
		assertQuiet(t, err, secret, []byte(`{}`))
	}
	err = s.Send(context.Background(), webhook.Delivery{URL: "https://localhost:" + port + hookPath, Secret: secret, ID: "g", Body: []byte(`{}`)})
	require.Error(t, err)
	assert.Equal(t, "webhook delivery to localhost:"+port+": refused by the address guard: the host resolves to an address not allowed "+
		"for outgoing calls", err.Error())
	for _, addr := range []string{"127.0.0.1", "::1", "[::1]"} {
		assert.NotContains(t, err.Error(), addr, "got the address localhost resolved to")
	}
	assert.Empty(t, rcv.deliveries(), "got the loopback receiver called, want never")

	// And plain http is refused before any connection.
	plain := newReceiver(t, secret, false)
	err = s.Send(context.Background(), webhook.Delivery{URL: plain.URL, Secret: secret, ID: "g", Body: []byte(`{}`)})
	require.Error(t, err, "got delivered over http, want refused")
	assert.True(t, webhook.Permanent(err), "http: got temporary, want permanent (%v)", err)
	assert.Empty(t, plain.deliveries(), "got the http receiver called, want never")
}

// TestSendConnectionRefused: nobody listening is temporary.
func TestSendConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	err = webhook.NewSender(allowLocal).Send(context.Background(), webhook.Delivery{URL: "http://" + addr + hookPath, Secret: newSecret(t, 32), ID: "cr", Body: []byte(`{}`)})
	require.Error(t, err)
	assert.False(t, webhook.Permanent(err), "got permanent, want temporary (%v)", err)
	assert.Contains(t, err.Error(), addr, "got %q, want the host named", err)
	assert.NotContains(t, err.Error(), "tokenTOKENtoken", "got the URL's token in %q", err)
}

// TestSendInvalidDeliveries are permanent and reach nobody.
func TestSendInvalidDeliveries(t *testing.T) {
	secret := newSecret(t, 32)
	rcv := newReceiver(t, secret, false)
	s := webhook.NewSender(allowLocal)
	for name, d := range map[string]webhook.Delivery{
		"bad secret":   {URL: rcv.URL, Secret: "whsec_short", ID: "i", Body: []byte(`{}`)},
		"no secret":    {URL: rcv.URL, ID: "i", Body: []byte(`{}`)},
		"bad id":       {URL: rcv.URL, Secret: secret, ID: "a\r\nX-Evil: 1", Body: []byte(`{}`)},
		"relative url": {URL: "/hook", Secret: secret, ID: "i"},
		"ftp":          {URL: "ftp://" + rcv.Listener.Addr().String(), Secret: secret, ID: "i"},
		"credentials":  {URL: strings.Replace(rcv.URL, "http://", "http://user:pw@", 1), Secret: secret, ID: "i"},
		"not a url":    {URL: "http://[::1", Secret: secret, ID: "i"},
	} {
		err := s.Send(context.Background(), d)
		require.Error(t, err, "%s: got delivered, want refused", name)
		assert.True(t, webhook.Permanent(err), "%s: got temporary, want permanent (%v)", name, err)
		assert.NotContains(t, err.Error(), "pw", "%s: got the URL's password in %q", name, err)
	}
	assert.Empty(t, rcv.deliveries(), "got the receiver called, want never")
	assert.False(t, webhook.Permanent(nil), "got nil permanent, want false")
	assert.False(t, webhook.Permanent(errors.New("unknown")), "got an unknown error permanent, want false")
}

// TestSendReadsLittleOfTheAnswer: a long answer is read up to the cap, not
// to its end, whatever its status.
func TestSendReadsLittleOfTheAnswer(t *testing.T) {
	const most = 256 << 20
	for _, status := range []int{http.StatusOK, http.StatusInternalServerError} {
		var written atomic.Int64
		done := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			defer close(done)
			w.WriteHeader(status)
			chunk := make([]byte, 32<<10)
			for written.Load() < most {
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		start := time.Now()
		err := webhook.NewSender(allowLocal).Send(context.Background(), webhook.Delivery{URL: srv.URL, Secret: newSecret(t, 32), ID: "big", Body: []byte(`{}`)})
		elapsed := time.Since(start)
		if status == http.StatusOK {
			assert.NoError(t, err, "got %v, want delivered", err)
		} else {
			assert.Error(t, err, "got delivered, want a 500")
			assert.False(t, webhook.Permanent(err), "got permanent, want temporary")
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d: the receiver was still writing after 10s: got the answer read to its end, want at most %d bytes", status, webhook.MaxResponseBytes)
		}
		srv.Close()
		assert.Less(t, written.Load(), int64(most), "%d: got all %d bytes taken, want the read stopped at the cap", status, written.Load())
		assert.Less(t, elapsed, 2*time.Second, "%d: got a return after %s, want prompt", status, elapsed)
	}
}

func TestDeliveryPrintsNoSecret(t *testing.T) {
	secret := newSecret(t, 32)
	d := webhook.Delivery{URL: "https://hooks.example.com" + hookPath, Secret: secret, ID: "n-1", Body: []byte(`{"very private":1}`)}
	for _, s := range []string{fmt.Sprint(d), fmt.Sprintf("%v %+v %#v %s", d, d, d, d)} {
		assert.NotContains(t, s, strings.TrimPrefix(secret, "whsec_"), "got the secret in %q", s)
		assert.NotContains(t, s, "very private", "got the body in %q", s)
		assert.NotContains(t, s, "tokenTOKENtoken", "got the URL's token in %q", s)
		assert.Contains(t, s, "hooks.example.com", "got %q, want the host", s)
	}
}
