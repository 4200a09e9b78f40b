package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

//go:embed templates/*.html static/portal.css static/passkey.js
var files embed.FS

// pages are the parsed templates, one set per page (each with the layout),
// and the stylesheet.
type pages struct {
	t          map[string]*template.Template
	css        []byte
	cssVersion string // a hash of the stylesheet, so it may be cached
	js         []byte // static/passkey.js, the one script
	jsVersion  string
}

// The pages.
var pageNames = []string{"login", "requests", "request", "activity", "settings", "lockdown", "passkeys", "error", "provider"}

var funcs = template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"utcp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"isop": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"statusClass": func(s lockbox.Status) string { return "status-" + strings.ToLower(string(s)) },
	"has":         slices.Contains[[]string],
	// parts cuts a resource id before each "/", where a line may break.
	"parts": pathParts,
}

func loadPages() (*pages, error) {
	layout, err := template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("portal layout: %w", err)
	}
	ps := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal page %s: %w", name, err)
		}
		ps.t[name] = t
	}
	if ps.css, err = fs.ReadFile(files, "static/portal.css"); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(ps.css)
	ps.cssVersion = hex.EncodeToString(sum[:6])
	if ps.js, err = fs.ReadFile(files, "static/passkey.js"); err != nil {
		return nil, err
	}
	sum = sha256.Sum256(ps.js)
	ps.jsVersion = hex.EncodeToString(sum[:6])
	return ps, nil
}

// view is what the layout renders around a page.
type view struct {
	Base       string // the public base path
	CSS        string // the stylesheet's path
	Title      string
	Nav        string // the section the page belongs to
	User       *userView
	CSRF       string // the session's form token
	Flash      string
	FlashError bool
	Data       any // the page's own values
}

// userView is the signed-in person as the layout shows them.
type userView struct {
	Subject, TenantID string
	Roles             []lockbox.Role
	Admin             bool
	// Provider: the provider's engineer or approver, whose page is the
	// provider console.
	Provider bool
	Passkeys bool // may hold passkeys, and the deployment has them (the Passkeys page)
}

// render writes page with data, status and the layout around it. s, when
// set, is the signed-in session: its flash is shown (and cleared).
func (p *Portal) render(w http.ResponseWriter, r *http.Request, s *session, status int, page, title, nav string, data any) {
	v := view{Base: p.base, CSS: p.link(pathCSS) + "?v=" + p.pages.cssVersion, Title: title, Nav: nav, Data: data}
	if s != nil {
		pr := s.principal()
		v.User = &userView{Subject: s.Subject, TenantID: s.TenantID, Roles: s.Roles,
			Admin: usecase.CanChangeSettings(pr), Provider: providerUser(pr), Passkeys: usecase.AuthorizePasskeys(pr) == nil && p.d.Cases.RP != nil}
		v.CSRF = s.FormToken
		if s.Flash != "" {
			v.Flash, v.FlashError = s.Flash, s.FlashError
			s.Flash, s.FlashError = "", false
			if err := p.saveSession(r, s); err != nil {
				p.d.Log.Warn("could not clear a shown message", "err", err)
			}
		}
	}
	var buf bytes.Buffer
	if err := p.pages.t[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.d.Log.Error("rendering a page failed", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorData is the error page's.
type errorData struct {
	Status    int
	Heading   string
	Message   string
	Back      string // a link back, or ""
	BackLabel string // its words ("Go back" when empty)
	SignIn    bool   // offer the sign-in page
}

// fail answers err as an error page, without the signed-in layout.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	p.failAs(w, r, nil, err, "")
}

// failAs answers err as an error page for the session s (nil: signed out),
// with a link back to back ("" for none). The status comes from the one
// table of error kinds (httpapi.Status); causes of 5xx are logged, never
// shown.
func (p *Portal) failAs(w http.ResponseWriter, r *http.Request, s *session, err error, back string) {
	status, data := errorPage(err, p.d.Log)
	data.Back = back
	data.SignIn = s == nil && (status == http.StatusUnauthorized || status == http.StatusForbidden)
	p.render(w, r, s, status, "error", data.Heading, "", data)
}

// errorPage turns err into a status and the page's words.
func errorPage(err error, log *slog.Logger) (int, errorData) {
	var le *lockbox.Error
	if !errors.As(err, &le) {
		le = lockbox.Internal("unclassified", err)
	}
	status := httpapi.Status(le.Kind)
	d := errorData{Status: status, Heading: http.StatusText(status), Message: sentence(le.Message)}
	switch {
	case status == http.StatusServiceUnavailable:
		log.Error("portal call failed", "kind", string(le.Kind), "err", le.Err)
		d.Heading, d.Message = "Lockbox is unavailable", "Lockbox cannot reach its store right now. Nothing was changed; try again in a moment."
	case status >= 500:
		log.Error("portal call failed", "kind", string(le.Kind), "err", le.Err)
		d.Heading, d.Message = "Something went wrong", "Lockbox could not serve this page. Nothing was changed."
	case status == http.StatusNotFound:
		d.Heading = "Not found"
	case status == http.StatusForbidden:
		d.Heading = "Not allowed"
	case status == http.StatusBadRequest:
		d.Heading = "This cannot be done"
	case status == http.StatusConflict:
		d.Heading = "This request has moved on"
	}
	return status, d
}

// message is what err may say to a person: a domain error's message, or a
// generic one for failures of Lockbox itself.
func message(err error, log *slog.Logger) string {
	var le *lockbox.Error
	if errors.As(err, &le) && httpapi.Status(le.Kind) < 500 {
		return le.Message
	}
	_, d := errorPage(err, log)
	return d.Message
}

// sentence makes a domain message ("reason must be …") a sentence.
func sentence(m string) string {
	if m == "" {
		return m
	}
	r, n := utf8.DecodeRuneInString(m)
	m = string(unicode.ToUpper(r)) + m[n:]
	if !strings.HasSuffix(m, ".") && !strings.HasSuffix(m, "?") && !strings.HasSuffix(m, "!") {
		m += "."
	}
	return m
}

// unavailablePage is the answer when the portal cannot be built (its
// configuration is wrong, or Redis may evict keys): a bare page, with the
// same security headers.
func unavailablePage(err error) handler.Response {
	status, data := errorPage(err, slog.Default())
	var buf bytes.Buffer
	ps, perr := loadPages()
	if perr == nil {
		perr = ps.t["error"].ExecuteTemplate(&buf, "layout", view{Title: data.Heading, Data: data})
	}
	if perr != nil {
		buf.Reset()
		buf.WriteString("Lockbox is unavailable.\n")
	}
	h := http.Header{}
	securityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	return handler.Response{StatusCode: status, Header: h, Body: buf.Bytes()}
}

// redirect answers 303 See Other to the portal path to.
func (p *Portal) redirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", p.link(to))
	w.WriteHeader(http.StatusSeeOther)
}
