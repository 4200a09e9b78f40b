package mail

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"lockbox.dev/shared/lockbox"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Timeout bounds one Send: connecting, TLS, authentication and delivery.
const Timeout = 10 * time.Second

// Message is one mail to one recipient.
type Message struct {
	// ID is the Message-ID without the angle brackets ("x@host"). A mail
	// sent again carries the same one, so that it is recognisable as the
	// same mail (Sender.MessageID derives it).
	ID      string
	To      string // one address
	Subject string
	Text    string // the text/plain body (required)
	HTML    string // the text/html alternative (optional)
}

// Sender sends mails over SMTP. Build one per process with New; it is safe
// for concurrent use: each Send opens its own connection.
type Sender struct {
	srv       server
	from      string
	domain    string // of From: the right-hand side of Message-IDs
	tlsConfig *tls.Config
	timeout   time.Duration
	now       func() time.Time
}

// New returns a Sender for c, which must be valid (see Config.Validate).
// It does not connect: a server that is down fails each Send, temporarily.
func New(c Config) (*Sender, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("mail configuration: %w", err)
	}
	srv, err := parseServer(c.URL, c.Password)
	if err != nil {
		return nil, fmt.Errorf("mail configuration: %w", err)
	}
	from, err := netmail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("mail configuration: %s: %w", EnvFrom, err)
	}
	return &Sender{
		srv:       srv,
		from:      c.From,
		domain:    messageIDDomain(from.Address),
		tlsConfig: &tls.Config{ServerName: srv.host, MinVersion: tls.VersionTLS12},
		timeout:   Timeout,
		now:       time.Now,
	}, nil
}

// MessageID returns the Message-ID (without <>) of the mail that tells
// recipient about the notification notificationID: the same for every send
// of that delivery, and different for each recipient (whose address's case
// does not matter). It reveals neither: it is a hash, at mail_from's domain.
func (s *Sender) MessageID(notificationID, recipient string) string {
	sum := sha256.Sum256([]byte(notificationID + "\x00" + addressKey(recipient)))
	return "lockbox." + hex.EncodeToString(sum[:16]) + "@" + s.domain
}

// Send delivers m over one new SMTP connection, within Timeout and ctx.
// Its error says whether trying again can help (Permanent), and its text
// shows the recipient masked (Mask), never in full.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m)
	if err != nil {
		return deliveryFailure(m, true, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	client, err := s.client(ctx)
	if err != nil {
		return deliveryFailure(m, false, fmt.Errorf("smtp client: %w", err))
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return deliveryFailure(m, rejected(err), err)
	}
	return nil
}

// compose builds the mail: From, To, Subject, the given Message-ID, Date,
// and a text body with an HTML alternative (multipart/alternative).
func (s *Sender) compose(m Message) (*gomail.Msg, error) {
	if err := validateMessageID(m.ID); err != nil {
		return nil, err
	}
	if m.Text == "" {
		return nil, errors.New("the mail has no text body")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetMessageIDWithValue(m.ID)
	msg.SetDateWithValue(s.now())
	// An automatic notification (RFC 3834): no vacation replies to it.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Auto-Response-Suppress", "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// client returns a go-mail client for one Send: the server's port, STARTTLS
// when offered (smtp://) or implicit TLS (smtps://), SMTP AUTH when there is
// a password, and connections that close when ctx ends.
func (s *Sender) client(ctx context.Context) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.srv.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithDialContextFunc(s.dialer(ctx)),
	}
	if s.srv.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.srv.password != "" {
		// go-mail sends PLAIN and LOGIN credentials only over TLS (or to
		// localhost); SCRAM never reveals the password.
		opts = append(opts, gomail.WithUsername(s.srv.user), gomail.WithPassword(s.srv.password),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	return gomail.NewClient(s.srv.host, opts...)
}

// dialer connects to the server, over TLS for smtps://, and closes the
// connection when ctx (the whole Send's) ends, so that no step of the
// conversation outlives it.
func (s *Sender) dialer(ctx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.srv.implicitTLS {
			conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig.Clone()}).DialContext(dialCtx, network, addr)
		} else {
			conn, err = d.DialContext(dialCtx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
}

// rejected reports whether the server refused the mail itself with a
// permanent (5xx) reply to MAIL FROM, RCPT TO or DATA. Everything else is
// temporary: no connection, a timeout, a 4xx reply, and also a server that
// refuses the TLS handshake or the credentials, which is the configuration's
// fault and not the mail's, so the mail waits for it to be fixed.
func rejected(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	code := se.ErrorCode()
	return code >= 500 && code <= 599
}

// deliveryError is a failed Send: permanent or not, with the recipient
// masked in its text.
type deliveryError struct {
	permanent bool
	text      string
	err       error
}

func (e *deliveryError) Error() string { return e.text }
func (e *deliveryError) Unwrap() error { return e.err }

func deliveryFailure(m Message, permanent bool, err error) error {
	kind := "temporary"
	if permanent {
		kind = "permanent"
	}
	text := fmt.Sprintf("mail <%s> to %s: %s failure: %s", m.ID, lockbox.MaskAddress(m.To), kind, redact(err.Error(), m.To))
	return &deliveryError{permanent: permanent, text: text, err: err}
}

// Permanent reports whether err, from Send, is permanent: the server
// rejected the mail or its recipient (a 5xx reply), or the mail cannot be
// built (an invalid address). Sending it again cannot succeed. Every other
// failure is temporary and worth retrying.
func Permanent(err error) bool {
	var d *deliveryError
	return errors.As(err, &d) && d.permanent
}

// redact replaces addr in s, in any case, by its mask; for an address with
// a display name, the bare address too.
func redact(s, addr string) string {
	spellings := []string{strings.TrimSpace(addr)}
	if a, err := netmail.ParseAddress(addr); err == nil {
		spellings = append(spellings, a.Address)
	}
	for _, sp := range spellings {
		if sp != "" {
			s = regexp.MustCompile("(?i)"+regexp.QuoteMeta(sp)).ReplaceAllLiteralString(s, lockbox.MaskAddress(sp))
		}
	}
	return s
}

// validateMessageID checks a Message-ID without its brackets: printable
// ASCII, no space or brackets, with an @ between two non-empty parts.
func validateMessageID(id string) error {
	left, right, ok := strings.Cut(id, "@")
	if !ok || left == "" || right == "" || strings.Contains(right, "@") || len(id) > 250 {
		return fmt.Errorf("message id %q is not of the form left@right", id)
	}
	for _, r := range id {
		if r <= ' ' || r > '~' || r == '<' || r == '>' {
			return fmt.Errorf("message id %q has a character other than printable ASCII", id)
		}
	}
	return nil
}

// messageIDDomain is the right-hand side of the Message-IDs of mails from
// address: its domain, or "lockbox.invalid" if that is not plain ASCII.
func messageIDDomain(address string) string {
	domain := address[strings.LastIndexByte(address, '@')+1:]
	if domain == "" || validateMessageID("x@"+domain) != nil {
		return "lockbox.invalid"
	}
	return domain
}

// oneLine replaces line breaks and other control characters by spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
