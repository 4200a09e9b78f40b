package mail_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
)

// received is one mail the test server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the session was encrypted when the mail was sent
	User string // who authenticated, if anyone
}

// backend is a go-smtp backend that records what it accepts. users, when
// set, are the only credentials accepted, and mail needs them; reject, when
// set, answers RCPT TO.
type backend struct {
	users  map[string]string
	reject func(to string) error

	mu   sync.Mutex
	msgs []received
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := &session{b: b, conn: c}
	if b.users != nil {
		return &authSession{s}, nil
	}
	return s, nil
}

func (b *backend) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type session struct {
	b    *backend
	conn *smtp.Conn
	user string
	cur  received
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.users != nil && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from, User: s.user}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.reject != nil {
		if err := s.b.reject(to); err != nil {
			return err
		}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = data
	_, s.cur.TLS = s.conn.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// authSession offers AUTH PLAIN.
type authSession struct{ *session }

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if want, ok := s.b.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

// The ways the test server takes connections.
const (
	plainSMTP   = "plain"    // no TLS
	startTLS    = "starttls" // STARTTLS offered
	implicitTLS = "tls"      // TLS from the first byte
)

// testPKI is a throwaway CA and a certificate it signed for 127.0.0.1.
type testPKI struct {
	roots  *x509.CertPool
	server tls.Certificate
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Lockbox test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)

	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	return testPKI{roots: roots, server: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}}
}

// serve starts a real SMTP server for be on 127.0.0.1 and returns its
// address; it stops with the test.
func serve(t *testing.T, be *backend, mode string, pki testPKI, insecureAuth bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.AllowInsecureAuth = insecureAuth
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = testLog{t}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}
	switch mode {
	case startTLS:
		s.TLSConfig = tlsConfig
	case implicitTLS:
		l = tls.NewListener(l, tlsConfig)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		_ = s.Close()
		_ = l.Close() // in case Serve had not taken it yet
		<-done
	})
	return l.Addr().String()
}

// testLog sends the server's errors to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l testLog) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

const (
	from      = "Lockbox <lockbox@provider.example>"
	recipient = "alice@contoso.example"
)

func newSender(t *testing.T, url, password string, pki testPKI) *mail.Sender {
	t.Helper()
	s, err := mail.New(mail.Config{URL: url, Password: password, From: from, PortalURL: portalURL})
	require.NoError(t, err)
	if pki.roots != nil {
		mail.SetRootCAs(s, pki.roots)
	}
	return s
}

// createdMail renders the approver mail of a new request.
func createdMail(t *testing.T, s *mail.Sender, to string) mail.Message {
	t.Helper()
	r := pending()
	r.Requester.DisplayName = "Zoë Engineer" // not ASCII: the bodies must be encoded
	r.Justification = `<script>alert("x")</script> on the orders table → slow`
	n := lockbox.Notification{ID: "outbox-17", Type: lockbox.NoteCreated, Request: r, Time: filed, Actor: engineer}
	subject, text, html, err := mail.Render(n, portalURL, "Alice")
	require.NoError(t, err)
	return mail.Message{ID: s.MessageID(n.ID, to), To: to, Subject: subject, Text: text, HTML: html}
}

// parsed is a received mail, decoded with the standard library alone.
type parsed struct {
	header netmail.Header
	parts  map[string]string // media type → decoded body
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType, "the mail's Content-Type")
	p := parsed{header: m.Header, parts: map[string]string{}}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(part)
		require.NoError(t, err)
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			body, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), ""))
			require.NoError(t, err)
		}
		ct, ctParams, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		assert.Equal(t, "utf-8", strings.ToLower(ctParams["charset"]), "%s charset", ct)
		p.parts[ct] = string(body)
	}
	return p
}

// checkDelivered checks the one mail srv received: envelope, headers and
// both bodies, decoded.
func checkDelivered(t *testing.T, be *backend, m mail.Message) received {
	t.Helper()
	got := be.received()
	require.Len(t, got, 1, "mails received")
	rcv := got[0]
	assert.Equal(t, "lockbox@provider.example", rcv.From, "envelope sender")
	assert.Equal(t, []string{m.To}, rcv.To, "envelope recipients")

	p := parse(t, rcv.Data)
	assert.Equal(t, "<"+m.ID+">", p.header.Get("Message-ID"), "Message-ID")
	subject, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, m.Subject, subject, "Subject")
	fromAddr, err := p.header.AddressList("From")
	require.NoError(t, err)
	assert.Equal(t, []*netmail.Address{{Name: "Lockbox", Address: "lockbox@provider.example"}}, fromAddr, "From")
	toAddr, err := p.header.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, []*netmail.Address{{Address: m.To}}, toAddr, "To")
	date, err := p.header.Date()
	require.NoError(t, err, "Date")
	assert.WithinDuration(t, time.Now(), date, time.Minute, "Date")
	assert.Equal(t, "auto-generated", p.header.Get("Auto-Submitted"), "Auto-Submitted")
	assert.Empty(t, p.header.Get("X-Mailer"), "no library banner")

	assert.Equal(t, m.Text, strings.ReplaceAll(p.parts["text/plain"], "\r\n", "\n"), "the text/plain part, decoded")
	assert.Equal(t, m.HTML, strings.ReplaceAll(p.parts["text/html"], "\r\n", "\n"), "the text/html part, decoded")
	assert.Len(t, p.parts, 2, "parts: %v", keys(p.parts))
	return rcv
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSendPlain(t *testing.T) {
	be := &backend{}
	addr := serve(t, be, plainSMTP, testPKI{}, false)
	s := newSender(t, "smtp://"+addr, "", testPKI{})
	m := createdMail(t, s, recipient)

	require.NoError(t, s.Send(context.Background(), m))
	rcv := checkDelivered(t, be, m)
	assert.False(t, rcv.TLS, "no TLS: the server offers none")
	assert.Contains(t, m.HTML, "&lt;script&gt;", "the hostile justification went out escaped")
	assert.Contains(t, m.Text, "Zoë Engineer", "the text went out in UTF-8")
}

func TestSendSTARTTLS(t *testing.T) {
	pki := newPKI(t)
	be := &backend{}
	addr := serve(t, be, startTLS, pki, false)
	s := newSender(t, "smtp://"+addr, "", pki)
	m := createdMail(t, s, recipient)

	require.NoError(t, s.Send(context.Background(), m))
	rcv := checkDelivered(t, be, m)
	assert.True(t, rcv.TLS, "the session was upgraded with STARTTLS")
}

func TestSendSTARTTLSUntrustedCertificate(t *testing.T) {
	be := &backend{}
	addr := serve(t, be, startTLS, newPKI(t), false)
	s := newSender(t, "smtp://"+addr, "", testPKI{}) // the system's roots do not know the test CA
	err := s.Send(context.Background(), createdMail(t, s, recipient))
	require.Error(t, err, "an offered STARTTLS that fails is no reason to send in the clear")
	assert.False(t, mail.Permanent(err), "got permanent, want temporary: %v", err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Empty(t, be.received(), "nothing was sent")
}

func TestSendImplicitTLS(t *testing.T) {
	pki := newPKI(t)
	be := &backend{}
	addr := serve(t, be, implicitTLS, pki, false)
	s := newSender(t, "smtps://"+addr, "", pki)
	m := createdMail(t, s, recipient)

	require.NoError(t, s.Send(context.Background(), m))
	rcv := checkDelivered(t, be, m)
	assert.True(t, rcv.TLS, "smtps: TLS from the start")
}

func TestSendAuth(t *testing.T) {
	pki := newPKI(t)
	const user, password = "lockbox-mailer", "correct horse battery staple"
	cases := map[string]struct {
		mode, scheme string
		insecureAuth bool
	}{
		"AUTH PLAIN on a plain connection to localhost": {plainSMTP, "smtp", true},
		"AUTH PLAIN after STARTTLS":                     {startTLS, "smtp", false},
		"AUTH PLAIN over smtps":                         {implicitTLS, "smtps", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			be := &backend{users: map[string]string{user: password}}
			addr := serve(t, be, c.mode, pki, c.insecureAuth)
			s := newSender(t, c.scheme+"://"+user+"@"+addr, password, pki)
			m := createdMail(t, s, recipient)
			require.NoError(t, s.Send(context.Background(), m))
			rcv := checkDelivered(t, be, m)
			assert.Equal(t, user, rcv.User, "authenticated as the URL's user")
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		be := &backend{users: map[string]string{user: password}}
		addr := serve(t, be, startTLS, pki, false)
		s := newSender(t, "smtp://"+user+"@"+addr, "wrong password", pki)
		err := s.Send(context.Background(), createdMail(t, s, recipient))
		require.Error(t, err)
		assert.False(t, mail.Permanent(err), "refused credentials are the configuration's fault: temporary, got %v", err)
		assert.Contains(t, err.Error(), "535")
		assert.NotContains(t, err.Error(), "wrong password", "the error never shows the password")
		assert.Empty(t, be.received())
	})
}

func TestSendRejections(t *testing.T) {
	cases := map[string]struct {
		reply     *smtp.SMTPError
		permanent bool
	}{
		"550 unknown recipient": {&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "<" + recipient + ">: no such user"}, true},
		"451 try again later": {&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message: "greylisted, try again later"}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			be := &backend{reject: func(string) error { return c.reply }}
			addr := serve(t, be, plainSMTP, testPKI{}, false)
			s := newSender(t, "smtp://"+addr, "", testPKI{})
			err := s.Send(context.Background(), createdMail(t, s, recipient))
			require.Error(t, err)
			assert.Equal(t, c.permanent, mail.Permanent(err), "Permanent(%v)", err)
			assert.Contains(t, err.Error(), fmt.Sprint(c.reply.Code))
			assert.NotContains(t, strings.ToLower(err.Error()), recipient, "the error masks the recipient")
			assert.Contains(t, err.Error(), "a***@contoso.example")
			assert.Empty(t, be.received())
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nobody listens there now

	s := newSender(t, "smtp://"+addr, "", testPKI{})
	err = s.Send(context.Background(), createdMail(t, s, recipient))
	require.Error(t, err)
	assert.False(t, mail.Permanent(err), "got permanent, want temporary: %v", err)
	assert.Contains(t, err.Error(), "temporary failure")
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr, "the cause stays inspectable")
}

func TestSendTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	var mu sync.Mutex
	var conns []net.Conn
	go func() { // accepts, then says nothing: no greeting
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	s := newSender(t, "smtp://"+l.Addr().String(), "", testPKI{})
	mail.SetTimeout(s, 300*time.Millisecond)
	start := time.Now()
	err = s.Send(context.Background(), createdMail(t, s, recipient))
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "Send gives up at its timeout")
	assert.False(t, mail.Permanent(err), "got permanent, want temporary: %v", err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded),
		"got %v, want a timeout", err)

	t.Run("the caller's deadline", func(t *testing.T) {
		s := newSender(t, "smtp://"+l.Addr().String(), "", testPKI{})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.Send(ctx, createdMail(t, s, recipient))
		require.Error(t, err)
		assert.Less(t, time.Since(start), 5*time.Second, "Send gives up at ctx's deadline")
		assert.False(t, mail.Permanent(err))
	})
}

func TestSendInvalidMessage(t *testing.T) {
	be := &backend{}
	addr := serve(t, be, plainSMTP, testPKI{}, false)
	s := newSender(t, "smtp://"+addr, "", testPKI{})
	good := createdMail(t, s, recipient)
	cases := map[string]func(m *mail.Message){
		"recipient is no address": func(m *mail.Message) { m.To = "alice at contoso" },
		"no recipient":            func(m *mail.Message) { m.To = "" },
		"id without @":            func(m *mail.Message) { m.ID = "outbox-17" },
		"id with brackets":        func(m *mail.Message) { m.ID = "<a@b>" },
		"id with a space":         func(m *mail.Message) { m.ID = "a b@c" },
		"no text":                 func(m *mail.Message) { m.Text = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := good
			mutate(&m)
			err := s.Send(context.Background(), m)
			require.Error(t, err)
			assert.True(t, mail.Permanent(err), "a mail that cannot be built never will be: %v", err)
		})
	}
	assert.Empty(t, be.received(), "nothing was sent")
}

func TestSendStripsLineBreaksFromTheSubject(t *testing.T) {
	be := &backend{}
	addr := serve(t, be, plainSMTP, testPKI{}, false)
	s := newSender(t, "smtp://"+addr, "", testPKI{})
	m := createdMail(t, s, recipient)
	m.Subject = "[contoso] INC-1\r\nBcc: victim@example.com"
	require.NoError(t, s.Send(context.Background(), m))
	got := be.received()
	require.Len(t, got, 1)
	assert.Equal(t, []string{recipient}, got[0].To, "no header was injected")
	p := parse(t, got[0].Data)
	assert.Empty(t, p.header.Get("Bcc"))
}

func TestMessageID(t *testing.T) {
	s := newSender(t, "smtp://127.0.0.1:25", "", testPKI{})
	id := s.MessageID("outbox-17", "Alice@Contoso.example")
	assert.Regexp(t, `^lockbox\.[0-9a-f]{32}@provider\.example$`, id)
	assert.Equal(t, id, s.MessageID("outbox-17", "alice@contoso.example"), "the recipient's case does not matter")
	assert.Equal(t, id, s.MessageID("outbox-17", "Alice <alice@contoso.example>"), "nor a display name")
	assert.NotEqual(t, id, s.MessageID("outbox-17", "bob@contoso.example"), "one per recipient")
	assert.NotEqual(t, id, s.MessageID("outbox-18", "alice@contoso.example"), "one per notification")
	assert.NotContains(t, id, "alice", "the Message-ID does not reveal the address")
}
