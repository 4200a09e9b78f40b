package mailcatcher

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/mail"
	"strconv"
	"time"
)

//go:embed pages.html.tmpl
var pagesFS embed.FS

var pages = template.Must(template.New("pages.html.tmpl").Funcs(template.FuncMap{
	"addr":  showAddress,
	"addrs": showAddresses,
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).ParseFS(pagesFS, "pages.html.tmpl"))

// contentSecurityPolicy keeps the pages and the mails they show from
// running scripts or loading anything: styles are inline, and a mail's HTML
// is shown in a sandboxed iframe (srcdoc) that inherits this policy.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the mailbox:
//
//	GET    /                          the messages, newest first (HTML)
//	GET    /messages/{id}             one message: headers, HTML and text (HTML)
//	POST   /delete                    delete every message (the page's button)
//	GET    /api/v1/messages           Mailpit's message list (?start=, ?limit=)
//	DELETE /api/v1/messages           delete every message, or {"IDs": [...]}
//	GET    /api/v1/message/{id}       one message in Mailpit's shape ("latest": the newest)
//	GET    /api/v1/message/{id}/raw   its source
//
// Links are relative, so the handler may be mounted under a prefix with
// http.StripPrefix. Cross-origin POST and DELETE requests from browsers are
// refused.
func (c *Catcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.listPage)
	mux.HandleFunc("GET /messages/{id}", c.messagePage)
	mux.HandleFunc("POST /delete", c.deletePage)
	mux.HandleFunc("GET /api/v1/messages", c.apiList)
	mux.HandleFunc("DELETE /api/v1/messages", c.apiDelete)
	mux.HandleFunc("GET /api/v1/message/{id}", c.apiMessage)
	mux.HandleFunc("GET /api/v1/message/{id}/raw", c.apiRaw)
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// listPage is the mailbox: every message, newest first.
func (c *Catcher) listPage(w http.ResponseWriter, _ *http.Request) {
	c.render(w, "list", struct {
		Title    string
		Refresh  bool
		SMTPAddr string
		Messages []Message
	}{"Mailbox", true, c.SMTPAddr(), c.Messages()})
}

// messagePage shows one message and marks it read.
func (c *Catcher) messagePage(w http.ResponseWriter, r *http.Request) {
	m, ok := c.find(r.PathValue("id"), true)
	if !ok {
		http.Error(w, "no such message", http.StatusNotFound)
		return
	}
	// Links in the mail open in a new tab, outside the sandbox.
	srcdoc := ""
	if m.HTML != "" {
		srcdoc = `<base target="_blank">` + m.HTML
	}
	title := m.Subject
	if title == "" {
		title = "(no subject)"
	}
	c.render(w, "message", struct {
		Message
		Title   string
		Refresh bool
		Srcdoc  string
	}{m, title, false, srcdoc})
}

// deletePage deletes every message and goes back to the list.
func (c *Catcher) deletePage(w http.ResponseWriter, r *http.Request) {
	c.remove(nil)
	http.Redirect(w, r, "./", http.StatusSeeOther)
}

func (c *Catcher) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		c.log.Error("mail catcher: render page", "page", name, "err", err)
	}
}

// The JSON answers, in Mailpit's API v1 shapes.
type (
	apiAddress struct {
		Name    string
		Address string
	}
	apiSummary struct {
		ID          string
		MessageID   string
		Read        bool
		From        *apiAddress
		To          []apiAddress
		Cc          []apiAddress
		Bcc         []apiAddress
		ReplyTo     []apiAddress
		Subject     string
		Created     time.Time
		Username    string
		Tags        []string
		Size        int
		Attachments int
		Snippet     string
	}
	apiList struct {
		Total          int          `json:"total"`
		Unread         int          `json:"unread"`
		Count          int          `json:"count"`
		MessagesCount  int          `json:"messages_count"`
		MessagesUnread int          `json:"messages_unread"`
		Start          int          `json:"start"`
		Tags           []string     `json:"tags"`
		Messages       []apiSummary `json:"messages"`
	}
	apiListUnsubscribe struct {
		Header     string
		Links      []string
		Errors     string
		HeaderPost string
	}
	apiMessage struct {
		ID              string
		MessageID       string
		From            *apiAddress
		To              []apiAddress
		Cc              []apiAddress
		Bcc             []apiAddress
		ReplyTo         []apiAddress
		ReturnPath      string
		Subject         string
		ListUnsubscribe apiListUnsubscribe
		Date            time.Time
		Tags            []string
		Username        string
		Text            string
		HTML            string
		Size            int
		Inline          []struct{}
		Attachments     []struct{}
	}
)

// apiList answers GET /api/v1/messages: newest first, from ?start= (0),
// at most ?limit= (50) of them.
func (c *Catcher) apiList(w http.ResponseWriter, r *http.Request) {
	start, err := queryInt(r, "start", 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	limit, err := queryInt(r, "limit", 50)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	all := c.Messages()
	res := apiList{Total: len(all), MessagesCount: len(all), Start: start, Tags: []string{}, Messages: []apiSummary{}}
	for _, m := range all {
		if !m.Read {
			res.Unread++
		}
	}
	res.MessagesUnread = res.Unread
	if start < len(all) {
		for _, m := range all[start:min(start+limit, len(all))] {
			res.Messages = append(res.Messages, summary(m))
		}
	}
	res.Count = len(res.Messages)
	writeJSON(w, res)
}

// apiMessage answers GET /api/v1/message/{id} and marks the message read.
func (c *Catcher) apiMessage(w http.ResponseWriter, r *http.Request) {
	m, ok := c.find(r.PathValue("id"), true)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	date := m.Date
	if date.IsZero() {
		date = m.Created
	}
	writeJSON(w, apiMessage{
		ID: m.ID, MessageID: m.MessageID, From: apiAddr(m.From),
		To: apiAddrs(m.To), Cc: apiAddrs(m.Cc), Bcc: apiAddrs(m.Bcc), ReplyTo: apiAddrs(m.ReplyTo),
		ReturnPath: m.EnvelopeFrom, Subject: m.Subject,
		ListUnsubscribe: apiListUnsubscribe{Links: []string{}},
		Date:            date, Tags: []string{}, Username: m.Username, Text: m.Text, HTML: m.HTML, Size: m.Size,
		Inline: []struct{}{}, Attachments: []struct{}{},
	})
}

// apiRaw answers GET /api/v1/message/{id}/raw with the message's source.
func (c *Catcher) apiRaw(w http.ResponseWriter, r *http.Request) {
	m, ok := c.find(r.PathValue("id"), false)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(m.Raw)
}

// apiDelete answers DELETE /api/v1/messages: the messages of {"IDs": [...]},
// or every message without a body.
func (c *Catcher) apiDelete(w http.ResponseWriter, r *http.Request) {
	var body struct{ IDs []string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		http.Error(w, "the body must be empty or {\"IDs\": [...]}", http.StatusBadRequest)
		return
	}
	c.remove(body.IDs)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

func summary(m Message) apiSummary {
	return apiSummary{
		ID: m.ID, MessageID: m.MessageID, Read: m.Read, From: apiAddr(m.From),
		To: apiAddrs(m.To), Cc: apiAddrs(m.Cc), Bcc: apiAddrs(m.Bcc), ReplyTo: apiAddrs(m.ReplyTo),
		Subject: m.Subject, Created: m.Created, Username: m.Username, Tags: []string{},
		Size: m.Size, Attachments: m.Attachments, Snippet: snippet(m),
	}
}

func apiAddr(a *mail.Address) *apiAddress {
	if a == nil {
		return nil
	}
	return &apiAddress{Name: a.Name, Address: a.Address}
}

func apiAddrs(list []*mail.Address) []apiAddress {
	out := make([]apiAddress, 0, len(list))
	for _, a := range list {
		out = append(out, *apiAddr(a))
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// queryInt reads a non-negative number from the query, def when absent.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New(name + " must be a whole number of at least 0")
	}
	return n, nil
}

// showAddress shows an address as a mail client does.
func showAddress(a *mail.Address) string {
	if a == nil {
		return ""
	}
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// showAddresses shows a list of addresses, comma-separated.
func showAddresses(list []*mail.Address) string {
	s := ""
	for i, a := range list {
		if i > 0 {
			s += ", "
		}
		s += showAddress(a)
	}
	return s
}
