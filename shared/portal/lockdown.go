package portal

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// The lockdown's forms: the settings page shows the tenant's lockdown and,
// to its admins, a form to lock the tenant down, which leads to a
// confirmation page (nothing happens before it is confirmed), or, while it
// is in force, a form to lift it. No script: each step is a form posted
// with the session's form token.
const (
	pathLockdown = "/lockdown"
	pathLift     = "/lockdown/lift"
)

// lockdownLasts are the lengths the form offers ("" until lifted), in the
// order shown.
var lockdownLasts = []struct{ Value, Label string }{
	{"", "Until an admin lifts it"},
	{"1h", "1 hour"},
	{"4h", "4 hours"},
	{"24h", "24 hours"},
	{"72h", "3 days"},
	{"168h", "7 days"},
}

// lockdownParams are the lockdown form's fields; liftParams the lift's.
var (
	lockdownParams = params{FormTokenField: 1, "reason": 1, "lasts": 1, "confirm": 1}
	liftParams     = params{FormTokenField: 1, "reason": 1}
)

// lockdownView is what the settings page shows of the lockdown.
type lockdownView struct {
	L       lockbox.Lockdown
	CanLock bool
	Lasts   []struct{ Value, Label string }
	// Base and CSRF are the layout's, for the forms of the section (a
	// template of its own, shown above the settings while the lockdown is
	// in force and below their summary otherwise).
	Base, CSRF string
}

// confirmData is the confirmation page's.
type confirmData struct {
	Tenant string
	Reason string
	Lasts  string // the form's value, sent again on confirming
	Until  string // "until an admin lifts it" or the instant, as shown
	Grants int    // live grants now (at least; see countOf)
	More   bool   // there may be more grants or requests than counted
	Waits  int    // requests waiting for a decision now
}

// lockdownView reads the tenant's lockdown for the settings page.
func (p *Portal) lockdownView(r *http.Request, s *session) (lockdownView, error) {
	l, err := p.d.Cases.LockdownState(r.Context(), s.principal(), "")
	return lockdownView{L: l, CanLock: usecase.CanLockdown(s.principal()), Lasts: lockdownLasts, Base: p.base, CSRF: s.FormToken}, err
}

// lockdown handles the lockdown form (POST lockdown): without confirm it
// shows what a lockdown would do and asks to confirm; with confirm=yes it
// locks the tenant down through the use case lockbox-lockdown's POST calls.
func (p *Portal) lockdown(w http.ResponseWriter, r *http.Request) {
	back := p.link(pathSettings)
	s, v, ok := p.postedForm(w, r, lockdownParams, maxForm, back)
	if !ok {
		return
	}
	pr := s.principal()
	if err := lockbox.AuthorizeLockdown(pr); err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	now := p.d.Now()
	body := lockbox.LockdownBody{Reason: strings.TrimSpace(v.Get("reason"))}
	var until *time.Time
	if lasts := v.Get("lasts"); lasts != "" {
		d, err := lockdownLength(lasts)
		if err != nil {
			p.failAs(w, r, s, err, back)
			return
		}
		u := now.Add(d).UTC().Truncate(time.Second)
		until, body.Until = &u, u.Format(time.RFC3339)
	}
	if _, err := body.Input(now); err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	switch v.Get("confirm") {
	case "":
		d := confirmData{Tenant: s.TenantID, Reason: body.Reason, Lasts: v.Get("lasts"), Until: "until an admin lifts it"}
		if until != nil {
			d.Until = "until " + until.Format("2006-01-02 15:04 UTC")
		}
		var more bool
		d.Grants, more = p.countOf(r, s, lockbox.StatusApproved)
		d.More = more
		d.Waits, more = p.countOf(r, s, lockbox.StatusPending)
		d.More = d.More || more
		p.render(w, r, s, http.StatusOK, "lockdown", "Lock down "+s.TenantID+"?", "settings", d)
		return
	case "yes":
	default:
		p.failAs(w, r, s, lockbox.Invalidf("confirm must be yes"), back)
		return
	}
	res, err := p.d.Cases.Lockdown(r.Context(), pr, body)
	if err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	s.Flash = fmt.Sprintf("Tenant %s is locked down: %s revoked, %s canceled; new requests are refused.", s.TenantID,
		plural(len(res.Revoked), "grant"), plural(len(res.Canceled), "waiting request"))
	if err := p.saveSession(r, s); err != nil {
		p.d.Log.Warn("could not keep the outcome's message", "err", err)
	}
	p.redirect(w, pathSettings)
}

// lift handles the lift form (POST lockdown/lift) through the use case
// lockbox-lockdown's DELETE calls.
func (p *Portal) lift(w http.ResponseWriter, r *http.Request) {
	back := p.link(pathSettings)
	s, v, ok := p.postedForm(w, r, liftParams, maxForm, back)
	if !ok {
		return
	}
	if _, err := p.d.Cases.LiftLockdown(r.Context(), s.principal(), lockbox.LiftInput{Reason: strings.TrimSpace(v.Get("reason"))}); err != nil {
		p.failAs(w, r, s, err, back)
		return
	}
	s.Flash = "The lockdown of " + s.TenantID + " is lifted: engineers may file requests again, each waiting for approval as before."
	if err := p.saveSession(r, s); err != nil {
		p.d.Log.Warn("could not keep the outcome's message", "err", err)
	}
	p.redirect(w, pathSettings)
}

// lockdownLength is the length a lockdown form's "lasts" names.
func lockdownLength(v string) (time.Duration, error) {
	for _, l := range lockdownLasts {
		if l.Value == v && v != "" {
			return time.ParseDuration(v)
		}
	}
	return 0, lockbox.Invalidf("choose how long the lockdown lasts from the list")
}

// countOf counts the tenant's requests of status st for the confirmation
// page: one page of at most usecase.MaxPageSize (more is true when there
// may be more). A failure counts nothing: the page still asks.
func (p *Portal) countOf(r *http.Request, s *session, st lockbox.Status) (n int, more bool) {
	page, err := p.d.Cases.List(r.Context(), s.principal(), usecase.ListInput{Status: st, Limit: usecase.MaxPageSize})
	if err != nil {
		p.d.Log.Warn("could not count requests for the lockdown's confirmation", "err", err)
		return 0, true
	}
	return len(page.Requests), page.Next != ""
}
