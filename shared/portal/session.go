package portal

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"lockbox.dev/shared/lockbox"
)

// SessionCookie is the name of the session cookie. Its value is a random
// 256-bit id (base64url, 43 characters); Redis keeps the session under the
// SHA-256 of the id, so that reading Redis does not hand out sessions.
const SessionCookie = "lockbox_session"

// FormTokenField is the hidden field of every POST form that carries the
// session's form token.
const FormTokenField = "csrf"

// session is a signed-in person: who they are (as the API's principal) and
// the session's own values.
type session struct {
	id string // the cookie value; not stored

	Subject  string         `json:"sub"`
	TenantID string         `json:"tid"`
	Roles    []lockbox.Role `json:"roles"`
	Via      string         `json:"via"` // viaToken or viaOIDC
	// Cred is what the session re-checks its person with, sealed
	// (sealCred) under a key only the browser's cookie gives: the token of
	// a token sign-in, the refresh token of an OIDC one (none when the
	// identity provider gave none).
	Cred string `json:"cred,omitempty"`
	// Checked is when the session's person was last read: at sign-in, then
	// at each refresh of an OIDC session.
	Checked time.Time `json:"checked"`
	// FormToken is the secret every POST form of the session carries.
	FormToken string    `json:"csrf"`
	Created   time.Time `json:"created"`
	Seen      time.Time `json:"seen"`
	// Ends is when the session ends however busy: the absolute timeout
	// after sign-in, or sooner when the token it was started with expires.
	Ends time.Time `json:"ends"`
	// Flash is a message for the next page, shown once.
	Flash      string `json:"flash,omitempty"`
	FlashError bool   `json:"flashError,omitempty"`
}

// How a session was started.
const (
	viaToken = "token" // the token sign-in form
	viaOIDC  = "oidc"  // the customer's identity provider
)

// rolesMaxAge is how old an OIDC session's tenant and roles may get before
// they are read again from the identity provider (with the refresh token),
// or, without a refresh token, before the session ends.
const rolesMaxAge = 15 * time.Minute

// credPurpose binds a sealed credential to the kind of session.
func (s *session) credPurpose() string { return "lockbox session credential: " + s.Via }

// sealCred keeps cred in the session, sealed under a key derived from the
// session id ("" keeps none).
func (s *session) sealCred(cred string) error {
	if cred == "" {
		s.Cred = ""
		return nil
	}
	sealed, err := seal(sessionSealKey(s.id), s.credPurpose(), []byte(cred))
	if err != nil {
		return lockbox.Internal("seal session credential", err)
	}
	s.Cred = sealed
	return nil
}

// openCred returns the session's credential ("" for none).
func (s *session) openCred() (string, error) {
	if s.Cred == "" {
		return "", nil
	}
	b, err := unseal([][]byte{sessionSealKey(s.id)}, s.credPurpose(), s.Cred)
	return string(b), err
}

// principal is the session's person as the domain sees a bearer token's.
func (s *session) principal() lockbox.Principal {
	return lockbox.Principal{Kind: lockbox.KindUser, Subject: s.Subject, TenantID: s.TenantID, Roles: slices.Clone(s.Roles)}
}

// refreshEvery is how stale a session's Seen may get before a page writes it
// again: the idle timeout is kept to within this much.
const refreshEvery = time.Minute

// randomToken returns 32 random bytes, base64url without padding.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validToken reports whether v has the form of randomToken's values: 43
// characters of base64url that decode to 32 bytes and encode back the same.
func validToken(v string) bool {
	if len(v) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32 && base64.RawURLEncoding.EncodeToString(b) == v
}

// sessionKey is where Redis keeps the session with id.
func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "session:" + hex.EncodeToString(sum[:])
}

// sameToken compares a form's token with the session's in constant time.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// errNoSession marks a call without a live session; errExpired one whose
// session ended.
var (
	errNoSession = fmt.Errorf("no session")
	errExpired   = fmt.Errorf("session expired")
)

// loadSession returns the live session of r's cookie. A session past its
// idle or absolute timeout is deleted (errExpired); Redis failing is a
// KindUnavailable error.
func (p *Portal) loadSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || !validToken(c.Value) {
		return nil, errNoSession
	}
	raw, ok, err := p.d.Sessions.Get(r.Context(), sessionKey(c.Value))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errExpired
	}
	s := &session{}
	if err := json.Unmarshal(raw, s); err != nil || !validToken(s.FormToken) {
		p.d.Log.Error("unreadable portal session: deleting it", "err", err)
		_ = p.d.Sessions.Delete(r.Context(), sessionKey(c.Value))
		return nil, errExpired
	}
	s.id = c.Value
	now := p.d.Now()
	ended := !now.Before(s.Seen.Add(p.cfg.IdleTimeout)) || !now.Before(s.Ends)
	if !ended {
		switch err := p.recheck(r, s); {
		case errors.Is(err, errExpired):
			ended = true
		case err != nil:
			return nil, err
		}
	}
	if ended {
		if err := p.d.Sessions.Delete(r.Context(), sessionKey(c.Value)); err != nil {
			return nil, err
		}
		return nil, errExpired
	}
	return s, nil
}

// recheck confirms, at every use of s, that its person may still use the
// portal as s says. A token session's token must still verify exactly as
// the API verifies it (its exp, its key still in the secret) and name the
// same person. An OIDC session's tenant and roles are read again from the
// identity provider once they are rolesMaxAge old (refresh), and s is
// saved with them. errExpired when the session must end.
func (p *Portal) recheck(r *http.Request, s *session) error {
	switch s.Via {
	case viaToken:
		tok, err := s.openCred()
		if err != nil || tok == "" {
			p.d.Log.Warn("portal session ended: it keeps no token to verify", "tenantId", s.TenantID, "sub", s.Subject)
			return errExpired
		}
		pr, err := p.d.Auth.Authenticate(http.Header{"Authorization": {"Bearer " + tok}}, nil, lockbox.KindUser)
		if err != nil {
			p.d.Log.Info("portal session ended: its token is refused", "tenantId", s.TenantID, "sub", s.Subject, "err", err)
			return errExpired
		}
		if pr.Subject != s.Subject || pr.TenantID != s.TenantID || !slices.Equal(pr.Roles, s.Roles) {
			p.d.Log.Warn("portal session ended: its token names another person", "tenantId", s.TenantID, "sub", s.Subject)
			return errExpired
		}
		return nil
	case viaOIDC:
		if p.d.Now().Sub(s.Checked) < rolesMaxAge {
			return nil
		}
		return p.refresh(r, s)
	}
	p.d.Log.Warn("portal session ended: it was started in an unknown way", "via", truncate(s.Via, 20))
	return errExpired
}

// saveSession stores s, seen now, for the rest of its lifetime: the idle
// timeout, or less when its absolute end is nearer.
func (p *Portal) saveSession(r *http.Request, s *session) error {
	now := p.d.Now()
	s.Seen = now
	ttl := min(p.cfg.IdleTimeout, s.Ends.Sub(now))
	if ttl <= 0 {
		return errExpired
	}
	b, err := json.Marshal(s) // #nosec G117 -- Cred is sealed under a key Redis does not hold (sealCred)
	if err != nil {
		return lockbox.Internal("encode session", err)
	}
	return p.d.Sessions.Put(r.Context(), sessionKey(s.id), b, ttl)
}

// touch keeps s alive: it is written again, seen now, once Seen is older
// than refreshEvery.
func (p *Portal) touch(r *http.Request, s *session) error {
	if p.d.Now().Sub(s.Seen) < refreshEvery {
		return nil
	}
	return p.saveSession(r, s)
}

// startSession signs pr in: a new session with a fresh id and form token
// (any session the browser had is deleted first, so an id never survives a
// sign-in), keeping cred sealed (see session.Cred), and its cookie. It ends
// after the absolute timeout, or at until when that is sooner (zero: no
// bound).
func (p *Portal) startSession(w http.ResponseWriter, r *http.Request, pr lockbox.Principal, via, cred string, until time.Time) error {
	if c, err := r.Cookie(SessionCookie); err == nil && validToken(c.Value) {
		if err := p.d.Sessions.Delete(r.Context(), sessionKey(c.Value)); err != nil {
			return err
		}
	}
	now := p.d.Now()
	s := &session{id: randomToken(), Subject: pr.Subject, TenantID: pr.TenantID, Roles: pr.Roles, Via: via,
		FormToken: randomToken(), Created: now, Checked: now, Ends: now.Add(p.cfg.AbsoluteTimeout)}
	if !until.IsZero() && until.Before(s.Ends) {
		s.Ends = until
	}
	if err := s.sealCred(cred); err != nil {
		return err
	}
	if err := p.saveSession(r, s); err != nil {
		return err
	}
	http.SetCookie(w, p.cookie(SessionCookie, s.id, p.base, 0))
	return nil
}

// endSession deletes s and its cookie.
func (p *Portal) endSession(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := p.d.Sessions.Delete(r.Context(), sessionKey(s.id)); err != nil {
		return err
	}
	p.clearCookie(w, SessionCookie, p.base)
	return nil
}

// cookie returns a cookie of the portal: HttpOnly, SameSite=Lax, Secure
// when the portal is served over https, limited to path. maxAge 0 makes a
// browser-session cookie.
func (p *Portal) cookie(name, value, path string, maxAge int) *http.Cookie {
	if path == "" {
		path = "/"
	}
	// #nosec G124 -- Secure whenever portal_url is https; plain http only
	// where the portal is served over http (make run on loopback).
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true, Secure: p.secure,
		SameSite: http.SameSiteLaxMode}
}

// clearCookie tells the browser to drop a cookie.
func (p *Portal) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, p.cookie(name, "", path, -1))
}
