package mailcatcher

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds how deeply multipart bodies nest.
const maxDepth = 8

// parseMessage reads what the catcher shows of a raw mail: headers, the
// first text/plain and text/html parts, and how many other parts there
// are. A mail it cannot parse is kept whole as its text.
func parseMessage(raw []byte) *Message {
	m := &Message{Size: len(raw), Raw: raw, Header: mail.Header{}}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Text = toUTF8(raw, "")
		return m
	}
	h := msg.Header
	m.Header = h
	m.MessageID = strings.Trim(strings.TrimSpace(h.Get("Message-ID")), "<>")
	m.Subject = decodeHeader(h.Get("Subject"))
	if from := addresses(h, "From"); len(from) > 0 {
		m.From = from[0]
	}
	m.To, m.Cc, m.ReplyTo = addresses(h, "To"), addresses(h, "Cc"), addresses(h, "Reply-To")
	if d, err := h.Date(); err == nil {
		m.Date = d
	}
	walk(m, partHeader{
		contentType: h.Get("Content-Type"), encoding: h.Get("Content-Transfer-Encoding"),
		disposition: h.Get("Content-Disposition"),
	}, msg.Body, 0)
	return m
}

// partHeader is what walk needs of a part's header.
type partHeader struct {
	contentType, encoding, disposition string
}

// walk reads one part (a whole single-part mail, or a part of a multipart
// one) into m.
func walk(m *Message, ph partHeader, body io.Reader, depth int) {
	mediaType, params, err := mime.ParseMediaType(ph.contentType)
	if err != nil {
		mediaType, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxDepth || params["boundary"] == "" {
			m.Attachments++
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walk(m, partHeader{
				contentType: p.Header.Get("Content-Type"), encoding: p.Header.Get("Content-Transfer-Encoding"),
				disposition: p.Header.Get("Content-Disposition"),
			}, p, depth+1)
		}
	}
	attachment := strings.HasPrefix(strings.ToLower(strings.TrimSpace(ph.disposition)), "attachment")
	switch {
	case mediaType == "text/plain" && !attachment && m.Text == "":
		m.Text = toUTF8(decodeBody(body, ph.encoding), params["charset"])
	case mediaType == "text/html" && !attachment && m.HTML == "":
		m.HTML = toUTF8(decodeBody(body, ph.encoding), params["charset"])
	default:
		m.Attachments++
	}
}

// decodeBody undoes a Content-Transfer-Encoding; what does not decode is
// shown as it came.
func decodeBody(body io.Reader, encoding string) []byte {
	raw, _ := io.ReadAll(io.LimitReader(body, MaxMessageBytes))
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(bytes.NewReader(raw))
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: bytes.NewReader(raw)})
	default:
		return raw
	}
	decoded, err := io.ReadAll(r)
	if err != nil {
		return raw
	}
	return decoded
}

// newlineStripper drops CR and LF, which base64 bodies are broken into.
type newlineStripper struct{ r io.Reader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		out := 0
		for _, b := range p[:k] {
			if b != '\r' && b != '\n' {
				p[out] = b
				out++
			}
		}
		if out > 0 || err != nil {
			return out, err
		}
	}
}

// toUTF8 turns a body in charset into valid UTF-8: ISO-8859-1 (and
// US-ASCII) are converted, anything else is taken as UTF-8.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1", "windows-1252":
		var s strings.Builder
		for _, c := range b {
			s.WriteRune(rune(c))
		}
		return s.String()
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// decodeHeader decodes RFC 2047 encoded words; a header that does not
// decode is shown as it came.
func decodeHeader(v string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// addresses returns the addresses of header name; none when it is missing
// or malformed.
func addresses(h mail.Header, name string) []*mail.Address {
	list, err := h.AddressList(name)
	if err != nil {
		return nil
	}
	return list
}

var (
	tags   = regexp.MustCompile(`(?s)<(style|script|head)\b.*?</(style|script|head)\s*>|<[^>]*>`)
	spaces = regexp.MustCompile(`\s+`)
)

// snippet is the start of what m says, as Mailpit shows it: up to 250
// characters of its text (or its HTML without tags), white space collapsed.
func snippet(m Message) string {
	s := m.Text
	if strings.TrimSpace(s) == "" {
		s = tags.ReplaceAllString(m.HTML, " ")
		s = strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`).Replace(s)
	}
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if r := []rune(s); len(r) > 250 {
		s = string(r[:250])
	}
	return s
}

// equalFold compares two addresses case-insensitively.
func equalFold(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
