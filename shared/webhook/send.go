package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"lockbox.dev/shared/netguard"
)

// DefaultTimeout bounds a whole delivery: connecting, TLS, sending, the
// answer and reading what is read of its body.
const DefaultTimeout = 5 * time.Second

// MaxResponseBytes is how much of an answer's body is read (and discarded)
// so that the connection can be reused; a longer body closes it.
const MaxResponseBytes = 16 << 10

// maxRetryAfter caps a receiver's Retry-After.
const maxRetryAfter = 24 * time.Hour

// Delivery is one attempt to deliver a notification to one endpoint.
type Delivery struct {
	// URL is the endpoint: https, or http with the guard's AllowPrivate. It
	// may hold a token (Slack's and Teams' URLs do): errors name its host only.
	URL string
	// Secret signs the delivery ("whsec_<base64>").
	Secret string
	// ID is the webhook-id: the same for every attempt of one delivery, so
	// that the receiver recognises a re-send.
	ID string
	// Time is the webhook-timestamp: the time of this attempt (receivers
	// refuse timestamps a few minutes off); zero for now.
	Time time.Time
	// Body is the payload (Payload).
	Body []byte
}

// String names d without its secret, URL path or body, for logs.
func (d Delivery) String() string {
	host := ""
	if u, err := url.Parse(d.URL); err == nil {
		host = u.Host
	}
	return fmt.Sprintf("webhook delivery %s to %s (%d bytes)", d.ID, host, len(d.Body))
}

// GoString is String: %#v must not print the secret either.
func (d Delivery) GoString() string { return d.String() }

// Sender posts deliveries. Its HTTP client is built on the first Send, from
// the fields as they are then, and reused (connections are kept alive). A
// Sender is safe for concurrent use.
type Sender struct {
	// Timeout bounds each delivery as a whole (DefaultTimeout from
	// NewSender); change it before the first Send.
	Timeout time.Duration
	// RootCAs verifies receivers' certificates; nil for the system's roots.
	// Change it before the first Send.
	RootCAs *x509.CertPool

	guard  netguard.Guard
	once   sync.Once
	client *http.Client
}

// NewSender returns a Sender whose connections g checks: the address
// actually dialled, after DNS, is refused when it is private, loopback or
// otherwise special, unless g.AllowPrivate (which also accepts plain http).
func NewSender(g netguard.Guard) *Sender {
	return &Sender{Timeout: DefaultTimeout, guard: g}
}

// httpClient returns the client, built once: g's dialer, TLS 1.2 or later,
// no proxy (a proxy would be what the guard checks, not the receiver), no
// redirects (a 3xx answer is returned as it is) and the overall timeout.
func (s *Sender) httpClient() *http.Client {
	s.once.Do(func() {
		timeout := s.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		transport := &http.Transport{
			Proxy:                  nil,
			DialContext:            s.guard.Dialer(timeout).DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs},
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           64,
			MaxIdleConnsPerHost:    8,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		}
		s.client = &http.Client{
			Transport: transport,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	})
	return s.client
}

// Send posts d.Body to d.URL as JSON, signed (Headers), with User-Agent
// Lockbox. Any 2xx answer is a success. Otherwise the error is an *Error
// that says whether a retry can help (Permanent) and never holds the
// secret, the body or the URL's path.
func (s *Sender) Send(ctx context.Context, d Delivery) error {
	u, err := url.Parse(d.URL)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" ||
		(u.Scheme != "https" && !(s.guard.AllowPrivate && u.Scheme == "http")) {
		host := ""
		if err == nil {
			host = u.Host
		}
		return &Error{Host: host, Permanent: true, Err: errors.New("the url must be an absolute https URL without credentials")}
	}
	host := u.Host
	ts := d.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	h, err := Headers(d.Secret, d.ID, ts, d.Body)
	if err != nil {
		return &Error{Host: host, Permanent: true, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(d.Body))
	if err != nil {
		return &Error{Host: host, Permanent: true, Err: errors.New("cannot build the request")}
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Lockbox")

	client := s.httpClient()
	resp, err := client.Do(req)
	if err != nil {
		return transportError(host, client.Timeout, err)
	}
	defer func() {
		// Read a little so that the connection can be reused; the body
		// itself is not wanted. A stalled body does not undo a 2xx.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	return statusError(host, resp)
}

// Error is a failed delivery.
type Error struct {
	// Host is the receiver's host (never the whole URL, which may hold a
	// token).
	Host string
	// StatusCode is the receiver's answer; 0 when there was none.
	StatusCode int
	// RetryAfter is the receiver's Retry-After (429 and 503), capped at 24 h;
	// 0 when it sent none.
	RetryAfter time.Duration
	// Permanent: sending the same delivery again cannot succeed (a refused
	// address, a 4xx other than 408, 425 and 429, a redirect, an invalid
	// delivery). Otherwise it is temporary (timeouts, refused connections,
	// TLS failures, 408, 425, 429, 5xx) and worth retrying.
	Permanent bool
	// Err is the cause.
	Err error
}

// Error says which receiver failed and how.
func (e *Error) Error() string {
	if e.Host == "" {
		return "webhook delivery: " + e.Err.Error()
	}
	return "webhook delivery to " + e.Host + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether err says that sending the same delivery again
// cannot succeed (see Error.Permanent); false for nil and for errors that do
// not say, so that those are retried.
func Permanent(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Permanent
	}
	return errors.Is(err, netguard.ErrForbiddenAddress)
}

// transportError is a delivery that got no answer. The *url.Error around the
// cause is dropped: it quotes the whole URL; so is the dial error of a
// refused address, which names the address.
func transportError(host string, timeout time.Duration, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &Error{Host: host, Err: err}
	var ne net.Error
	switch {
	case errors.Is(err, netguard.ErrForbiddenAddress):
		// The dial error names the address the host resolved to, which
		// the tenant must not learn: only the host is said.
		e.Permanent = true
		e.Err = fmt.Errorf("refused by the address guard: the host resolves to an %w", netguard.ErrForbiddenAddress)
	case errors.Is(err, context.Canceled):
		e.Err = fmt.Errorf("canceled: %w", err)
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		e.Err = fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	return e
}

// statusError is a delivery the receiver answered with a status other than
// 2xx.
func statusError(host string, resp *http.Response) *Error {
	code := resp.StatusCode
	e := &Error{Host: host, StatusCode: code}
	switch {
	case code >= 300 && code <= 399:
		e.Permanent = true
		e.Err = fmt.Errorf("receiver answered %d %s: redirects are not followed", code, http.StatusText(code))
		return e
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		e.Permanent = false
	default:
		e.Permanent = true
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	e.Err = fmt.Errorf("receiver answered %d %s", code, http.StatusText(code))
	return e
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return min(time.Duration(min(secs, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
