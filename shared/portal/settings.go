package portal

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// maxSettingsForm bounds the settings form's body: the document (at most
// httpapi.MaxBody bytes of JSON) grows when form-encoded.
const maxSettingsForm = 4 * httpapi.MaxBody

// settingsData is the settings page's.
type settingsData struct {
	Tenant   string
	S        lockbox.Settings // as stored, without secrets
	Words    inForce          // S in words
	Form     settingsForm     // the settings form's fields
	Document string           // the JSON form's document
	Version  int64            // the version the forms edit
	CanEdit  bool
	Error    string
	Lockdown lockdownView
	// JSONOpen: the JSON form is shown unfolded (it was the one refused).
	JSONOpen bool
	// What the form offers: the week's days, webhook formats and events.
	Days    []string
	Formats []string
	Events  []string
}

// settingsParams are the settings form's fields.
var settingsParams = params{FormTokenField: 1, "version": 1, "document": 1}

// settingsPage shows the tenant's settings (GET settings) to its admins,
// approvers and readers, and to admins a form to change them.
func (p *Portal) settingsPage(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if _, err := query(r, params{}); err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	set, err := p.d.Cases.Settings(r.Context(), s.principal(), "")
	if err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	p.showSettings(w, r, s, http.StatusOK, set, set.Version, "", "")
}

// showSettings renders the settings page (set as the session may see it)
// with an edit form of version; document and problem, when set, are a
// refused edit shown again with what was wrong.
func (p *Portal) showSettings(w http.ResponseWriter, r *http.Request, s *session, status int, set lockbox.Settings,
	version int64, document, problem string) {
	d := p.settingsPageData(s, set, version, problem)
	var err error
	if d.Lockdown, err = p.lockdownView(r, s); err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	d.Document, d.JSONOpen = document, document != ""
	if document == "" {
		d.Document = indentJSON(d.S)
	}
	p.render(w, r, s, status, "settings", "Settings", "settings", d)
}

// showSettingsForm renders the settings page with a refused settings form
// (its fields v) shown again with what was wrong.
func (p *Portal) showSettingsForm(w http.ResponseWriter, r *http.Request, s *session, status int, set lockbox.Settings,
	version int64, v url.Values, problem string) {
	d := p.settingsPageData(s, set, version, problem)
	var err error
	if d.Lockdown, err = p.lockdownView(r, s); err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	d.Form, d.Document = formFrom(v), indentJSON(set)
	p.render(w, r, s, status, "settings", "Settings", "settings", d)
}

// settingsPageData is the settings page's data for set, edited at version.
func (p *Portal) settingsPageData(s *session, set lockbox.Settings, version int64, problem string) settingsData {
	return settingsData{Tenant: s.TenantID, S: set, Words: settingsInWords(set, p.d.Cases.GrantCap()), Form: formOf(set),
		Version: version, Error: problem, CanEdit: usecase.CanChangeSettings(s.principal()),
		Days: weekOrder, Formats: []string{lockbox.FormatStandard, lockbox.FormatSlack, lockbox.FormatTeams}, Events: lockbox.NotificationTypes}
}

// indentJSON is v as indented JSON, without HTML escaping (the template
// escapes it).
func indentJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // settings always encode
	return buf.String()
}

// saveSettings stores the settings form's document (POST settings) as
// lockbox-settings' PUT does: the admin's own tenant, the version read as
// If-Match (a stale one is refused), the same validation and audit.
func (p *Portal) saveSettings(w http.ResponseWriter, r *http.Request) {
	back := p.link(pathSettings)
	s, v, ok := p.postedForm(w, r, settingsParams, maxSettingsForm, back)
	if !ok {
		return
	}
	pr := s.principal()
	version, err := formVersion(v)
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	doc := v.Get("document")
	stored, err := p.putSettings(r, pr, doc, version)
	if err != nil {
		current, rerr := p.d.Cases.Settings(r.Context(), pr, "")
		if rerr != nil {
			p.failAs(w, r, s, rerr, back)
			return
		}
		status, _ := errorPage(err, p.d.Log)
		if len(doc) > httpapi.MaxBody {
			doc = "" // not shown again: the current document is
		}
		// The form still edits the version that was read: a stale one
		// stays stale until the page is loaded again.
		p.showSettings(w, r, s, status, current, version, doc, message(err, p.d.Log))
		return
	}
	s.Flash = "Settings saved: version " + strconv.FormatInt(stored.Version, 10) + "."
	if err := p.saveSession(r, s); err != nil {
		p.d.Log.Warn("could not keep the outcome's message", "err", err)
	}
	p.redirect(w, pathSettings)
}

// putSettings decodes doc strictly (as lockbox-settings decodes a PUT's
// body) and stores it over pr's tenant's settings of version ifVersion
// through the use case lockbox-settings' PUT calls: authorized, validated,
// webhook URLs checked, secrets kept, the change audited.
func (p *Portal) putSettings(r *http.Request, pr lockbox.Principal, doc string, ifVersion int64) (lockbox.Settings, error) {
	if len(doc) > httpapi.MaxBody {
		return lockbox.Settings{}, httpapi.ErrTooLarge("the document", httpapi.MaxBody)
	}
	var next lockbox.Settings
	req := handler.Request{Method: http.MethodPut, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(doc)}
	if err := httpapi.Decode(req, &next); err != nil {
		return lockbox.Settings{}, err
	}
	return p.d.Cases.PutSettings(r.Context(), pr, "", next, []int64{ifVersion})
}
