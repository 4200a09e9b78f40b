// Package mailcatcher is make run's mail catcher: an SMTP server on
// 127.0.0.1 that accepts every mail (with or without AUTH) and keeps the
// newest ones in memory, and an HTTP handler that shows them — a mailbox
// page that needs no JavaScript, and Mailpit's GET /api/v1/messages and
// GET /api/v1/message/{ID} for tools and tests.
package mailcatcher

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"lockbox.dev/shared/lockbox"
)

// Capacity is how many messages the catcher keeps: the newest.
const Capacity = 1000

// MaxMessageBytes is the largest message the catcher accepts.
const MaxMessageBytes = 10 << 20

// Message is one caught mail.
type Message struct {
	ID        string    // the catcher's id of the message
	MessageID string    // the Message-ID header, without <>
	Created   time.Time // when the catcher received it
	Read      bool      // shown on the page or through the API
	Username  string    // the SMTP AUTH user, if the sender authenticated

	EnvelopeFrom string   // MAIL FROM
	EnvelopeTo   []string // RCPT TO

	Header  mail.Header
	From    *mail.Address // nil when the header is missing or malformed
	To      []*mail.Address
	Cc      []*mail.Address
	Bcc     []*mail.Address // envelope recipients that no header names
	ReplyTo []*mail.Address
	Subject string
	Date    time.Time // the Date header; zero when missing or malformed

	Text        string // the first text/plain part, decoded
	HTML        string // the first text/html part, decoded
	Attachments int    // other parts
	Size        int    // of the raw message, in bytes
	Raw         []byte
}

// Catcher is a running mail catcher.
type Catcher struct {
	log  *slog.Logger
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{} // closed when the SMTP server has stopped

	closeOnce sync.Once
	closeErr  error

	mu   sync.Mutex
	msgs []*Message // oldest first
}

// Start starts a catcher on 127.0.0.1 at a free port. It runs until ctx
// ends or Close is called. log (nil for none) hears about each mail.
func Start(ctx context.Context, log *slog.Logger) (*Catcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mail catcher: listen: %w", err)
	}
	c := &Catcher{log: log, ln: ln, done: make(chan struct{})}
	c.srv = smtp.NewServer(backend{c})
	c.srv.Domain = "localhost"
	c.srv.AllowInsecureAuth = true // on loopback, for senders configured with a user
	c.srv.MaxMessageBytes = MaxMessageBytes
	c.srv.MaxRecipients = 100
	c.srv.ReadTimeout, c.srv.WriteTimeout = time.Minute, time.Minute
	c.srv.ErrorLog = slogErrors{log}
	go func() {
		defer close(c.done)
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("mail catcher stopped", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = c.Close() })
	return c, nil
}

// SMTPAddr is the catcher's SMTP address, host:port; smtp_url is
// "smtp://" + SMTPAddr().
func (c *Catcher) SMTPAddr() string { return c.ln.Addr().String() }

// Close stops the SMTP server and waits for it; the messages stay readable.
func (c *Catcher) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.srv.Close()
		if err := c.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) && c.closeErr == nil {
			c.closeErr = err
		}
		<-c.done
		if errors.Is(c.closeErr, smtp.ErrServerClosed) || errors.Is(c.closeErr, net.ErrClosed) {
			c.closeErr = nil
		}
	})
	return c.closeErr
}

// Messages returns copies of the caught messages, newest first.
func (c *Catcher) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Message, 0, len(c.msgs))
	for i := len(c.msgs) - 1; i >= 0; i-- {
		out = append(out, *c.msgs[i])
	}
	return out
}

// store keeps m, dropping the oldest message beyond Capacity.
func (c *Catcher) store(m *Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) >= Capacity {
		c.msgs = slices.Delete(c.msgs, 0, len(c.msgs)-Capacity+1)
	}
	c.msgs = append(c.msgs, m)
}

// find returns a copy of the message id ("latest": the newest), marking it
// read when markRead.
func (c *Catcher) find(id string, markRead bool) (Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if m := c.msgs[i]; m.ID == id || id == "latest" {
			if markRead {
				m.Read = true
			}
			return *m, true
		}
	}
	return Message{}, false
}

// remove deletes the messages ids, or all of them when ids is empty.
func (c *Catcher) remove(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(ids) == 0 {
		c.msgs = nil
		return
	}
	c.msgs = slices.DeleteFunc(c.msgs, func(m *Message) bool { return slices.Contains(ids, m.ID) })
}

// receive parses and keeps a mail the SMTP server accepted.
func (c *Catcher) receive(env envelope, raw []byte) {
	m := parseMessage(raw)
	m.ID = rand.Text()
	m.Created = time.Now().UTC()
	m.Username = env.user
	m.EnvelopeFrom = env.from
	m.EnvelopeTo = env.to
	m.Bcc = hidden(env.to, m.To, m.Cc)
	c.store(m)
	to := make([]string, len(env.to))
	for i, a := range env.to {
		to[i] = lockbox.MaskAddress(a)
	}
	c.log.Info("mail caught", "id", m.ID, "to", to, "subject", m.Subject, "bytes", m.Size)
}

// hidden returns the envelope recipients no header names: the Bcc.
func hidden(envelopeTo []string, named ...[]*mail.Address) []*mail.Address {
	var out []*mail.Address
	for _, rcpt := range envelopeTo {
		found := false
		for _, list := range named {
			found = found || slices.ContainsFunc(list, func(a *mail.Address) bool { return equalFold(a.Address, rcpt) })
		}
		if !found {
			out = append(out, &mail.Address{Address: rcpt})
		}
	}
	return out
}

// backend makes a session per SMTP connection.
type backend struct{ c *Catcher }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{c: b.c}, nil }

// envelope is one mail's SMTP envelope.
type envelope struct {
	user string
	from string
	to   []string
}

// session accepts every sender, recipient and credential.
type session struct {
	c    *Catcher
	user string
	env  envelope
}

// AuthMechanisms offers AUTH PLAIN, so senders configured with a user work.
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

// Auth accepts any credentials and remembers the user name.
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, _ string) error {
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.env = envelope{user: s.user, from: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.env.to = append(s.env.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return err
	}
	s.c.receive(s.env, b.Bytes())
	return nil
}

func (s *session) Reset()        { s.env = envelope{user: s.user} }
func (s *session) Logout() error { return nil }

// slogErrors hands the SMTP server's errors to the log.
type slogErrors struct{ log *slog.Logger }

func (l slogErrors) Printf(format string, v ...any) {
	l.log.Warn("mail catcher: " + fmt.Sprintf(format, v...))
}
func (l slogErrors) Println(v ...any) { l.log.Warn("mail catcher: " + fmt.Sprint(v...)) }
