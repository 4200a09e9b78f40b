// Package mail is the email side of Lockbox's notifications: it renders a
// notification as a mail (subject, text and HTML bodies from embedded
// templates) and sends it over SMTP with github.com/wneessen/go-mail, one
// connection per mail.
//
// A failed Send says whether trying again can help (Permanent). Recipients
// de-duplicates an approver's addresses and Mask hides most of an address in
// delivery records.
package mail

import (
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
)

// The names of the configuration: the environment variables a function reads
// and the secret holding the SMTP password. These are names, not secrets.
const (
	EnvURL         = "smtp_url"      // smtp://[user@]host:port or smtps://[user@]host:port
	EnvFrom        = "mail_from"     // the sender, e.g. Lockbox <lockbox@provider.example>
	EnvPortalURL   = "portal_url"    // the portal's public base URL
	SecretPassword = "smtp-password" // #nosec G101 -- the name of a secret file, not a secret
)

// Config says how to send mail.
type Config struct {
	// URL is smtp_url: smtp://[user@]host:port (plain SMTP, upgraded with
	// STARTTLS when the server offers it) or smtps://[user@]host:port
	// (implicit TLS). The user, if any, is the SMTP AUTH user name.
	URL string
	// Password is the secret smtp-password; empty means no SMTP AUTH.
	Password string
	// From is mail_from, the sender's address, optionally with a display
	// name ("Lockbox <lockbox@provider.example>").
	From string
	// PortalURL is portal_url, the portal's public base URL: every mail
	// links to the request's page under it. Optional: without it mails
	// carry no link.
	PortalURL string
}

// ParseConfig reads the mail configuration through getenv (os.Getenv in
// production) with password, the content of the secret smtp-password (""
// when absent), and validates it, reporting every problem at once.
func ParseConfig(getenv func(string) string, password string) (Config, error) {
	c := Config{
		URL:       strings.TrimSpace(getenv(EnvURL)),
		Password:  password,
		From:      strings.TrimSpace(getenv(EnvFrom)),
		PortalURL: strings.TrimSpace(getenv(EnvPortalURL)),
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports every problem of c at once, each naming its variable.
func (c Config) Validate() error {
	var errs []error
	if _, err := parseServer(c.URL, c.Password); err != nil {
		errs = append(errs, err)
	}
	if err := validateFrom(c.From); err != nil {
		errs = append(errs, err)
	}
	if err := validatePortal(c.PortalURL); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// server is where and how to connect, from smtp_url and smtp-password.
type server struct {
	host        string
	port        int
	implicitTLS bool // smtps://
	user        string
	password    string
}

// parseServer checks smtp_url and the password that goes with it.
func parseServer(raw, password string) (server, error) {
	if raw == "" {
		return server{}, fmt.Errorf("%s is not set", EnvURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the URL, which may hold a password: say less.
		return server{}, fmt.Errorf("%s is not a URL (smtp://[user@]host:port or smtps://[user@]host:port)", EnvURL)
	}
	var s server
	switch u.Scheme {
	case "smtp":
	case "smtps":
		s.implicitTLS = true
	default:
		return server{}, fmt.Errorf("%s: scheme %q must be smtp or smtps", EnvURL, u.Scheme)
	}
	if _, has := u.User.Password(); has {
		return server{}, fmt.Errorf("%s must not hold a password: put it in the secret %s", EnvURL, SecretPassword)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return server{}, fmt.Errorf("%s: only scheme, user, host and port are allowed (smtp://[user@]host:port)", EnvURL)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return server{}, fmt.Errorf("%s names no host", EnvURL)
	}
	if s.port, err = strconv.Atoi(u.Port()); err != nil || s.port < 1 || s.port > 65535 {
		return server{}, fmt.Errorf("%s needs a port between 1 and 65535 (smtp://host:587, smtps://host:465)", EnvURL)
	}
	s.user = u.User.Username()
	s.password = password
	switch {
	case s.password != "" && s.user == "":
		return server{}, fmt.Errorf("secret %s is set but %s names no user (smtp://user@host:port)", SecretPassword, EnvURL)
	case s.password == "" && s.user != "":
		return server{}, fmt.Errorf("%s names a user but the secret %s is empty", EnvURL, SecretPassword)
	}
	return s, nil
}

// validateFrom checks mail_from: one address, optionally with a display name.
func validateFrom(from string) error {
	if from == "" {
		return fmt.Errorf("%s is not set", EnvFrom)
	}
	if _, err := netmail.ParseAddress(from); err != nil {
		return fmt.Errorf("%s=%q is not a mail address: %w", EnvFrom, from, err)
	}
	return nil
}

// validatePortal checks portal_url, when set: an absolute http(s) URL
// without query or fragment, under which /requests/<id> is a request's page.
func validatePortal(portal string) error {
	if portal == "" {
		return nil
	}
	u, err := url.Parse(portal)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s=%q must be an absolute http or https URL", EnvPortalURL, portal)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s=%q must be a base URL without user, query or fragment", EnvPortalURL, portal)
	}
	return nil
}
