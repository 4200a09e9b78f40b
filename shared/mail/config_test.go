package mail_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/mail"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseConfig(t *testing.T) {
	vars := map[string]string{
		"smtp_url":   "smtps://lockbox-mailer@smtp.provider.example:465",
		"mail_from":  "Lockbox <lockbox@provider.example>",
		"portal_url": "https://portal.provider.example/",
	}
	got, err := mail.ParseConfig(env(vars), "s3cret")
	require.NoError(t, err)
	want := mail.Config{URL: vars["smtp_url"], Password: "s3cret", From: vars["mail_from"], PortalURL: vars["portal_url"]}
	assert.Equal(t, want, got)
	_, err = mail.New(got)
	assert.NoError(t, err, "New accepts a parsed configuration")
}

func TestParseConfigValid(t *testing.T) {
	for _, u := range []string{
		"smtp://127.0.0.1:2525",
		"smtp://mail.provider.example:587",
		"SMTP://mail.provider.example:25/",
		"smtps://[::1]:465",
	} {
		_, err := mail.ParseConfig(env(map[string]string{"smtp_url": u, "mail_from": "lockbox@provider.example"}), "")
		assert.NoError(t, err, "smtp_url=%s", u)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := map[string]struct {
		vars     map[string]string
		password string
		want     []string
	}{
		"nothing set": {map[string]string{}, "", []string{"smtp_url is not set", "mail_from is not set"}},
		"bad scheme": {map[string]string{"smtp_url": "http://mail:25", "mail_from": "a@b.example"}, "",
			[]string{`smtp_url: scheme "http" must be smtp or smtps`}},
		"no port": {map[string]string{"smtp_url": "smtp://mail.provider.example", "mail_from": "a@b.example"}, "",
			[]string{"smtp_url needs a port"}},
		"port out of range": {map[string]string{"smtp_url": "smtp://mail:70000", "mail_from": "a@b.example"}, "",
			[]string{"smtp_url needs a port"}},
		"no host": {map[string]string{"smtp_url": "smtp://:25", "mail_from": "a@b.example"}, "", []string{"smtp_url names no host"}},
		"password in the URL": {map[string]string{"smtp_url": "smtp://user:hunter2@mail:25", "mail_from": "a@b.example"}, "",
			[]string{"smtp_url must not hold a password: put it in the secret smtp-password"}},
		"a path": {map[string]string{"smtp_url": "smtp://mail:25/x?y=1", "mail_from": "a@b.example"}, "",
			[]string{"smtp_url: only scheme, user, host and port are allowed"}},
		"password without user": {map[string]string{"smtp_url": "smtp://mail:25", "mail_from": "a@b.example"}, "pw",
			[]string{"secret smtp-password is set but smtp_url names no user"}},
		"user without password": {map[string]string{"smtp_url": "smtp://user@mail:25", "mail_from": "a@b.example"}, "",
			[]string{"smtp_url names a user but the secret smtp-password is empty"}},
		"bad from": {map[string]string{"smtp_url": "smtp://mail:25", "mail_from": "lockbox"}, "",
			[]string{`mail_from="lockbox" is not a mail address`}},
		"bad portal": {map[string]string{"smtp_url": "smtp://mail:25", "mail_from": "a@b.example", "portal_url": "portal.example"}, "",
			[]string{`portal_url="portal.example" must be an absolute http or https URL`}},
		"portal with query": {map[string]string{"smtp_url": "smtp://mail:25", "mail_from": "a@b.example", "portal_url": "https://p.example/?x=1"}, "",
			[]string{`portal_url="https://p.example/?x=1" must be a base URL`}},
		"every problem at once": {map[string]string{"smtp_url": "ftp://x:1", "mail_from": "nobody", "portal_url": "ftp://p"}, "",
			[]string{"smtp_url", "mail_from", "portal_url"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := mail.ParseConfig(env(c.vars), c.password)
			require.Error(t, err)
			for _, want := range c.want {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), "hunter2", "the error never shows a password")
			_, err = mail.New(mail.Config{URL: c.vars["smtp_url"], Password: c.password, From: c.vars["mail_from"], PortalURL: c.vars["portal_url"]})
			assert.Error(t, err, "New refuses what ParseConfig refuses")
		})
	}
}
