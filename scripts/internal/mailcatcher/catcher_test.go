package mailcatcher_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/mailcatcher"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
)

// start runs a catcher and an HTTP server for its handler for the test.
func start(t *testing.T) (*mailcatcher.Catcher, *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := mailcatcher.Start(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return c, srv
}

// sendLockboxMail sends the approver mail of a new request through the
// Lockbox sender, as lockbox-notify does under make run.
func sendLockboxMail(t *testing.T, c *mailcatcher.Catcher, to string) mail.Message {
	t.Helper()
	s, err := mail.New(mail.Config{URL: "smtp://" + c.SMTPAddr(), From: "Lockbox <lockbox@lockbox.localhost>",
		PortalURL: "http://127.0.0.1:8080/portal"})
	require.NoError(t, err)
	filed := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	n := lockbox.Notification{ID: "outbox-1", Type: lockbox.NoteCreated, Time: filed,
		Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"},
		Request: lockbox.Request{RequestID: "req-1", TenantID: "contoso", ResourceType: "postgres", ResourceIDs: []string{"db-1"},
			AccessLevel: "Read", Justification: "slow queries <script>alert(1)</script>", SupportRequest: "INC-1001",
			Requester: lockbox.Requester{ID: "eng-7", DisplayName: "Zoë Engineer"}, Status: lockbox.StatusPending,
			CreatedDateTime: filed, ExpirationDateTime: filed.Add(96 * time.Hour), Duration: 8, RequiredApprovals: 1}}
	subject, text, html, err := mail.Render(n, "http://127.0.0.1:8080/portal", "Alice")
	require.NoError(t, err)
	m := mail.Message{ID: s.MessageID(n.ID, to), To: to, Subject: subject, Text: text, HTML: html}
	require.NoError(t, s.Send(context.Background(), m))
	return m
}

// hostileSubject is a subject that is markup.
const hostileSubject = `<script>alert("subject")</script>`

// sendPlainMail sends a single-part mail with net/smtp, authenticating
// with AUTH PLAIN.
func sendPlainMail(t *testing.T, c *mailcatcher.Catcher) {
	t.Helper()
	body := "From: Tester <tester@example.com>\r\n" +
		"To: bob@example.com\r\n" +
		"Subject: " + hostileSubject + "\r\n" +
		"Message-ID: <plain-1@example.com>\r\n" +
		"Date: Mon, 04 May 2026 09:30:00 +0000\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello Bob.\r\n"
	host, _, err := net.SplitHostPort(c.SMTPAddr())
	require.NoError(t, err)
	auth := smtp.PlainAuth("", "anyone", "any password", host)
	require.NoError(t, smtp.SendMail(c.SMTPAddr(), auth, "tester@example.com",
		[]string{"bob@example.com", "hidden@example.com"}, []byte(body)))
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func TestMailpitAPI(t *testing.T) {
	c, srv := start(t)
	sent := sendLockboxMail(t, c, "alice@contoso.example")
	sendPlainMail(t, c)

	res, body := get(t, srv.URL+"/api/v1/messages")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))

	// The shape: Mailpit's keys, and lists that are never null.
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &raw))
	for _, k := range []string{"total", "unread", "count", "messages_count", "messages_unread", "start", "tags", "messages"} {
		assert.Contains(t, raw, k, "list key")
	}
	first := raw["messages"].([]any)[0].(map[string]any)
	for _, k := range []string{"ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created",
		"Username", "Tags", "Size", "Attachments", "Snippet"} {
		assert.Contains(t, first, k, "message summary key")
	}
	assert.Equal(t, []any{}, first["Cc"], "empty lists are [] as in Mailpit")
	assert.Equal(t, []any{}, raw["tags"])

	var list struct {
		Total, Unread, Count int
		MessagesCount        int `json:"messages_count"`
		Messages             []struct {
			ID, MessageID, Subject, Snippet, Username string
			Read                                      bool
			From                                      struct{ Name, Address string }
			To, Bcc                                   []struct{ Name, Address string }
			Created                                   string
			Size, Attachments                         int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	assert.Equal(t, 2, list.Total, "total")
	assert.Equal(t, 2, list.Unread, "unread")
	assert.Equal(t, 2, list.Count, "count")
	assert.Equal(t, 2, list.MessagesCount, "messages_count")
	require.Len(t, list.Messages, 2)

	plain, lb := list.Messages[0], list.Messages[1]
	assert.Equal(t, hostileSubject, plain.Subject, "newest first")
	assert.Equal(t, "plain-1@example.com", plain.MessageID, "MessageID without <>")
	assert.Equal(t, "anyone", plain.Username, "the AUTH user")
	assert.Equal(t, "Hello Bob.", plain.Snippet)
	require.Len(t, plain.Bcc, 1)
	assert.Equal(t, "hidden@example.com", plain.Bcc[0].Address, "envelope recipients no header names are the Bcc")

	assert.Equal(t, sent.Subject, lb.Subject)
	assert.Equal(t, sent.ID, lb.MessageID, "the Lockbox Message-ID, without <>")
	assert.Equal(t, "Lockbox", lb.From.Name)
	assert.Equal(t, "lockbox@lockbox.localhost", lb.From.Address)
	require.Len(t, lb.To, 1)
	assert.Equal(t, "alice@contoso.example", lb.To[0].Address)
	created, err := time.Parse(time.RFC3339, lb.Created)
	require.NoError(t, err, "Created is RFC 3339")
	assert.WithinDuration(t, time.Now(), created, time.Minute)
	assert.Positive(t, lb.Size)
	assert.Zero(t, lb.Attachments)
	assert.True(t, strings.HasPrefix(lb.Snippet, "Hello Alice, Zoë Engineer (eng-7) asks for Read access"), "snippet %q", lb.Snippet)

	// One message, with its text and HTML decoded.
	res, body = get(t, srv.URL+"/api/v1/message/"+lb.ID)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var msg struct {
		ID, MessageID, Subject, Text, HTML, ReturnPath string
		Date                                           time.Time
		From                                           struct{ Name, Address string }
		Attachments, Inline                            []any
	}
	require.NoError(t, json.Unmarshal([]byte(body), &msg))
	assert.Equal(t, lb.ID, msg.ID)
	assert.Equal(t, sent.ID, msg.MessageID)
	assert.Equal(t, sent.Subject, msg.Subject)
	assert.Equal(t, sent.Text, strings.ReplaceAll(msg.Text, "\r\n", "\n"), "Text")
	assert.Equal(t, sent.HTML, strings.ReplaceAll(msg.HTML, "\r\n", "\n"), "HTML")
	assert.Equal(t, "lockbox@lockbox.localhost", msg.ReturnPath)
	assert.WithinDuration(t, time.Now(), msg.Date, time.Minute, "the Date header")
	assert.Equal(t, []any{}, msg.Attachments)

	// Reading it marked it read; "latest" is the newest.
	_, body = get(t, srv.URL+"/api/v1/messages")
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	assert.Equal(t, 1, list.Unread, "unread after reading one")
	assert.True(t, list.Messages[1].Read)
	_, body = get(t, srv.URL+"/api/v1/message/latest")
	require.NoError(t, json.Unmarshal([]byte(body), &msg))
	assert.Equal(t, plain.ID, msg.ID, "latest")
	assert.Equal(t, "Hello Bob.\r\n", msg.Text)

	// Paging.
	_, body = get(t, srv.URL+"/api/v1/messages?start=1&limit=1")
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Messages, 1)
	assert.Equal(t, lb.ID, list.Messages[0].ID, "start=1&limit=1")
	assert.Equal(t, 2, list.Total)
	res, _ = get(t, srv.URL+"/api/v1/messages?limit=-1")
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "a negative limit")

	// The source.
	res, body = get(t, srv.URL+"/api/v1/message/"+plain.ID+"/raw")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "Message-ID: <plain-1@example.com>")

	// Not found.
	res, _ = get(t, srv.URL+"/api/v1/message/nope")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	// Messages() for tests: the same, newest first.
	got := c.Messages()
	require.Len(t, got, 2)
	assert.Equal(t, []string{plain.ID, lb.ID}, []string{got[0].ID, got[1].ID})

	// DELETE clears.
	req, err := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/messages", nil)
	require.NoError(t, err)
	dres, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = dres.Body.Close()
	assert.Equal(t, http.StatusOK, dres.StatusCode)
	assert.Empty(t, c.Messages(), "DELETE /api/v1/messages clears the mailbox")
	_, body = get(t, srv.URL+"/api/v1/messages")
	assert.JSONEq(t, `{"total":0,"unread":0,"count":0,"messages_count":0,"messages_unread":0,"start":0,"tags":[],"messages":[]}`, body)
}

func TestDeleteSome(t *testing.T) {
	c, srv := start(t)
	sendPlainMail(t, c)
	sendPlainMail(t, c)
	keep, drop := c.Messages()[0].ID, c.Messages()[1].ID
	req, err := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/messages", strings.NewReader(`{"IDs":["`+drop+`"]}`))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	got := c.Messages()
	require.Len(t, got, 1)
	assert.Equal(t, keep, got[0].ID)
}

func TestPages(t *testing.T) {
	c, srv := start(t)
	res, body := get(t, srv.URL+"/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "No mail yet", "the empty mailbox")

	sendLockboxMail(t, c, "alice@contoso.example")
	sendPlainMail(t, c)
	msgs := c.Messages()

	res, body = get(t, srv.URL+"/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	assertLockedDown(t, res, body)
	assert.Contains(t, body, `<a href="messages/`+msgs[0].ID+`">&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;</a>`,
		"the hostile subject is listed, escaped")
	assert.Contains(t, body, `<a href="messages/`+msgs[1].ID+`">[contoso] INC-1001: access request awaiting your approval</a>`)
	assert.Less(t, strings.Index(body, msgs[0].ID), strings.Index(body, msgs[1].ID), "newest first")
	assert.Contains(t, body, "alice@contoso.example")
	assert.Contains(t, body, `<meta http-equiv="refresh" content="10">`, "the list refreshes without JavaScript")

	res, body = get(t, srv.URL+"/messages/"+msgs[1].ID)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assertLockedDown(t, res, body)
	assert.Contains(t, body, `<iframe title="The message's HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox"`,
		"the HTML part is in a sandbox that allows no script")
	assert.NotContains(t, body, "allow-scripts")
	assert.NotContains(t, body, "allow-same-origin")
	assert.Contains(t, body, `srcdoc="&lt;base target=&#34;_blank&#34;&gt;&lt;!DOCTYPE html&gt;`, "srcdoc is escaped")
	assert.Contains(t, body, `&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;`,
		"the justification, escaped in the mail, is escaped again in srcdoc")
	assert.Contains(t, body, "<dt>Message-ID</dt><dd>&lt;lockbox.", "headers")
	assert.Contains(t, body, "Lockbox &lt;lockbox@lockbox.localhost&gt;", "From")
	assert.Contains(t, body, "<pre>Hello Alice,", "the text part")
	assert.Contains(t, body, "slow queries &lt;script&gt;alert(1)&lt;/script&gt;", "the text part, escaped")

	res, body = get(t, srv.URL+"/messages/"+msgs[0].ID)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assertLockedDown(t, res, body)
	assert.Contains(t, body, "<h1>&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;</h1>")
	assert.NotContains(t, body, "<iframe", "no HTML part, no iframe")
	assert.Contains(t, body, "<dt>Bcc</dt><dd>hidden@example.com</dd>")
	assert.Contains(t, body, "authenticated as anyone")

	res, _ = get(t, srv.URL+"/messages/nope")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	// The page's button clears the mailbox, from the same origin only.
	form, err := http.NewRequest(http.MethodPost, srv.URL+"/delete", nil)
	require.NoError(t, err)
	form.Header.Set("Sec-Fetch-Site", "cross-site")
	fres, err := http.DefaultClient.Do(form)
	require.NoError(t, err)
	_ = fres.Body.Close()
	assert.Equal(t, http.StatusForbidden, fres.StatusCode, "a cross-site POST")
	assert.Len(t, c.Messages(), 2)
	form.Header.Set("Sec-Fetch-Site", "same-origin")
	fres, err = http.DefaultClient.Do(form)
	require.NoError(t, err)
	_ = fres.Body.Close()
	assert.Equal(t, http.StatusOK, fres.StatusCode, "after the redirect to the list")
	assert.Empty(t, c.Messages())
}

// assertLockedDown checks that a page runs no script and sets its policy.
func assertLockedDown(t *testing.T, res *http.Response, body string) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'", "CSP")
	assert.NotContains(t, csp, "script-src", "CSP allows no script")
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	assert.NotContains(t, strings.ToLower(body), "<script", "no script on the page")
}

func TestMethods(t *testing.T) {
	_, srv := start(t)
	res, err := http.Post(srv.URL+"/api/v1/messages", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "POST /api/v1/messages")
	res, _ = get(t, srv.URL+"/nothing-here")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := mailcatcher.Start(ctx, nil)
	require.NoError(t, err)
	conn, err := net.Dial("tcp", c.SMTPAddr())
	require.NoError(t, err)
	_ = conn.Close()

	cancel()
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", c.SMTPAddr(), time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err != nil
	}, 5*time.Second, 20*time.Millisecond, "the SMTP port closes when ctx ends")
	assert.NoError(t, c.Close(), "Close after the context ended")
}

func TestMultipartFromOtherSenders(t *testing.T) {
	c, _ := start(t)
	body := "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n" +
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n" +
		"--inner\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n" +
		"--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+R3LDvMOf\r\nZTwvcD4=\r\n" +
		"--inner--\r\n" +
		"--outer\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\n%PDF\r\n" +
		"--outer--\r\n"
	require.NoError(t, smtp.SendMail(c.SMTPAddr(), nil, "a@example.com", []string{"b@example.com"}, []byte(body)))
	got := c.Messages()
	require.Len(t, got, 1)
	m := got[0]
	assert.Equal(t, "Grüße", m.Subject, "an encoded subject")
	assert.Equal(t, "Grüße", strings.TrimSpace(m.Text), "quoted-printable ISO-8859-1")
	assert.Equal(t, "<p>Grüße</p>", m.HTML, "base64 UTF-8")
	assert.Equal(t, 1, m.Attachments)
}

func TestMountedUnderAPrefix(t *testing.T) {
	c, _ := start(t)
	mux := http.NewServeMux()
	mux.Handle("/mail/", http.StripPrefix("/mail", c.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	sendPlainMail(t, c)
	id := c.Messages()[0].ID

	res, body := get(t, srv.URL+"/mail/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, `href="messages/`+id+`"`)
	res, body = get(t, srv.URL+"/mail/messages/"+id)
	require.Equal(t, http.StatusOK, res.StatusCode, "the list's relative link")
	require.Contains(t, body, `href="../api/v1/message/`+id+`/raw"`)
	page, err := url.Parse(srv.URL + "/mail/messages/" + id)
	require.NoError(t, err)
	raw := page.ResolveReference(&url.URL{Path: "../api/v1/message/" + id + "/raw"})
	assert.Equal(t, "/mail/api/v1/message/"+id+"/raw", raw.Path)
	res, _ = get(t, raw.String())
	assert.Equal(t, http.StatusOK, res.StatusCode, "the message page's relative link")
	res, _ = get(t, srv.URL+"/mail/api/v1/messages")
	assert.Equal(t, http.StatusOK, res.StatusCode)
}
