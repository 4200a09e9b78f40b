package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// The passkeys page: an approver's or admin's passkeys, which sign their
// decisions in a tenant that requires it (requirePasskey). Registering is
// a WebAuthn ceremony: the page carries its options and its state (sealed
// under a key only the session's cookie gives), passkey.js runs
// navigator.credentials.create, and the form posts the answer.

// CSPWithScript is the Content-Security-Policy of the pages that run the
// portal's one script (static/passkey.js): CSP plus script-src 'self'.
//
// #nosec G101 -- a policy, not a credential.
const CSPWithScript = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const (
	pathPasskeys = "/passkeys"
	pathScript   = "/static/passkey.js"
	// statePurpose binds a sealed registration state to its use.
	statePurpose = "lockbox passkey registration"
)

// passkeysData is the passkeys page's.
type passkeysData struct {
	Passkeys []passkeyRow
	Options  string // navigator.credentials.create's options (JSON)
	State    string // the ceremony's state, sealed
	Script   string
	Required string // what the tenant requires, in words ("" when off)
	Note     string // why registering is not offered
}

type passkeyRow struct {
	lockbox.Passkey
	Short string // the credential id, shortened
}

// passkeysParams are the passkeys form's fields.
var passkeysParams = params{FormTokenField: 1, "action": 1, "name": 1, "state": 1, "credential": 1, "id": 1}

// passkeysPage lists the session's passkeys and offers to register one
// (GET passkeys).
func (p *Portal) passkeysPage(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if _, err := query(r, params{}); err != nil {
		p.failAs(w, r, s, err, "")
		return
	}
	pr := s.principal()
	if err := usecase.AuthorizePasskeys(pr); err != nil {
		p.failAs(w, r, s, err, p.link("/"))
		return
	}
	list, _, err := p.d.Cases.MyPasskeys(r.Context(), pr)
	if err != nil {
		p.failAs(w, r, s, err, p.link("/"))
		return
	}
	d := passkeysData{Script: p.link(pathScript) + "?v=" + p.pages.jsVersion}
	for _, pk := range list {
		short := pk.ID
		if len(short) > 16 {
			short = short[:8] + "…" + short[len(short)-8:]
		}
		d.Passkeys = append(d.Passkeys, passkeyRow{Passkey: pk, Short: short})
	}
	if set, err := p.d.Cases.Settings(r.Context(), pr, ""); err == nil && !set.RequirePasskey.Off() {
		d.Required = set.RequirePasskey.String()
	}
	if len(list) >= lockbox.MaxPasskeys {
		d.Note = "You hold as many passkeys as one person may: remove one to register another."
	} else {
		options, state, err := p.d.Cases.BeginPasskeyRegistration(r.Context(), pr)
		if err != nil {
			p.failAs(w, r, s, err, p.link("/"))
			return
		}
		if d.State, err = seal(sessionSealKey(s.id), statePurpose, state); err != nil {
			p.failAs(w, r, s, lockbox.Internal("seal a passkey registration", err), p.link("/"))
			return
		}
		d.Options = string(options)
	}
	w.Header().Set("Content-Security-Policy", CSPWithScript)
	p.render(w, r, s, http.StatusOK, "passkeys", "Passkeys", "passkeys", d)
}

// passkeysPost registers (action register: name, state, credential) or
// removes (action remove: id) one of the session's passkeys, and answers
// 303 to the page with a message.
func (p *Portal) passkeysPost(w http.ResponseWriter, r *http.Request) {
	back := p.link(pathPasskeys)
	s, v, ok := p.postedForm(w, r, passkeysParams, maxForm, back)
	if !ok {
		return
	}
	pr := s.principal()
	var err error
	switch v.Get("action") {
	case "register":
		err = p.register(r, s, pr, v)
		if err == nil {
			s.Flash = "Your passkey " + strings.TrimSpace(v.Get("name")) + " is registered: it signs your decisions from now on."
		}
	case "remove":
		err = p.d.Cases.RemovePasskey(r.Context(), pr, v.Get("id"))
		if err == nil {
			s.Flash = "The passkey is removed: it signs nothing more. What it signed before can still be verified."
		}
	default:
		err = lockbox.Invalidf("action must be register or remove")
	}
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	if err := p.saveSession(r, s); err != nil {
		p.d.Log.Warn("could not keep the outcome's message", "err", err)
	}
	p.redirect(w, pathPasskeys)
}

func (p *Portal) register(r *http.Request, s *session, pr lockbox.Principal, v url.Values) error {
	state, err := unseal([][]byte{sessionSealKey(s.id)}, statePurpose, v.Get("state"))
	if err != nil {
		return lockbox.Invalidf("the registration expired or is not yours: load the page again")
	}
	if v.Get("credential") == "" || !json.Valid([]byte(v.Get("credential"))) {
		return lockbox.Invalidf("no passkey was created: this page needs JavaScript and a browser with passkeys")
	}
	_, err = p.d.Cases.FinishPasskeyRegistration(r.Context(), pr, state, []byte(v.Get("credential")), strings.TrimSpace(v.Get("name")))
	return err
}

// script serves static/passkey.js.
func (p *Portal) script(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > 64 {
		p.fail(w, r, lockbox.Invalidf("query string is too long"))
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(p.pages.js)
}

// passkeyForm is what a request page's forms need to sign a decision with
// a passkey: the statement's tenant and request and the options of
// navigator.credentials.get, as the form's data-passkey (JSON).
func passkeyForm(req lockbox.Request, options map[string]any) string {
	b, err := json.Marshal(map[string]any{"tenant": req.TenantID, "request": req.RequestID, "options": options})
	if err != nil {
		return ""
	}
	return string(b)
}

// passkeyOf reads a request page's passkey fields into the decision's
// assertion; nil when the form carries none.
func passkeyOf(v url.Values) *lockbox.PasskeyAssertion {
	if v.Get("passkey_signature") == "" {
		return nil
	}
	return &lockbox.PasskeyAssertion{Time: v.Get("passkey_time"), CredentialID: v.Get("passkey_credential"),
		AuthenticatorData: v.Get("passkey_authenticator_data"), ClientDataJSON: v.Get("passkey_client_data"),
		Signature: v.Get("passkey_signature"), UserHandle: v.Get("passkey_user_handle")}
}
