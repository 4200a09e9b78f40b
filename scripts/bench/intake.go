package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"lockbox.dev/shared/intake"
	intakefixtures "lockbox.dev/shared/intake/fixtures"
)

// lockbox-intake's load run files a request per call, as lockbox-create's
// does, from a ticketing system's own webhook: the example Jira "issue
// created" delivery (shared/intake/fixtures), signed as Jira signs it with
// the example configuration's Jira secret, which the bench mounts as
// lockbox-intake-config (writeSecrets). Each call varies the delivery so
// that it files a new request and meets no cap: its tenant, its reporter
// (the requester) and its issue key.

// jiraFixture is the delivery the intake runs send, and jiraSourceName the
// source of the example configuration it is for (POST /jira).
const (
	jiraFixture    = "jira-created"
	jiraSourceName = "jira"
)

// The fixture's values each call replaces: the tenant (the select list
// issue.fields.customfield_10050, "contoso" in the fixture, which also
// appears in URLs, hence the whole pair), the reporter's email address
// (the requester id, also the webhook's user) and the issue key (also in
// the issue's links).
var (
	jiraTenant   = []byte(`"value": "contoso"`)
	jiraReporter = []byte("alex.rivera@support.example")
	jiraIssue    = []byte("ACC-42")
)

// jiraDelivery makes the intake run's deliveries: the fixture, and the
// example configuration's Jira source, whose first secret signs them.
type jiraDelivery struct {
	fixture []byte
	source  *intake.Source
}

// newJiraDelivery loads the fixture and the example configuration. It
// fails when the fixture no longer holds a value the calls vary, which
// would file every call in one tenant or for one requester.
func newJiraDelivery() (*jiraDelivery, error) {
	fixture, err := intakefixtures.Body(jiraFixture)
	if err != nil {
		return nil, fmt.Errorf("intake run: %w", err)
	}
	for _, v := range [][]byte{jiraTenant, jiraReporter, jiraIssue} {
		if !bytes.Contains(fixture, v) {
			return nil, fmt.Errorf("intake run: the fixture %s no longer holds %s", jiraFixture, v)
		}
	}
	cfg, err := intake.Load(intakefixtures.Config())
	if err != nil {
		return nil, fmt.Errorf("intake run: the example configuration: %w", err)
	}
	src, err := cfg.Source(jiraSourceName)
	if err != nil {
		return nil, fmt.Errorf("intake run: the example configuration: %w", err)
	}
	return &jiraDelivery{fixture: fixture, source: src}, nil
}

// body is the fixture filed for it: in the item's tenant, reported by
// eng-<key>@support.example, as issue ACC-<key>.
func (d *jiraDelivery) body(it Item) []byte {
	b := bytes.Replace(d.fixture, jiraTenant, []byte(`"value": "`+it.Tenant+`"`), 1)
	b = bytes.ReplaceAll(b, jiraReporter, []byte("eng-"+it.Key+"@support.example"))
	return bytes.ReplaceAll(b, jiraIssue, []byte("ACC-"+it.Key))
}

// headers are what Jira sends with body: Content-Type, X-Hub-Signature
// (sha256=<hex HMAC-SHA256>) and a delivery id, which the fixtures derive
// from the body, so that a body of its own is a delivery of its own.
func (d *jiraDelivery) headers(body []byte, now time.Time) http.Header {
	return d.source.Sign(body, now)
}

// intakeCaller is the intake run's call: the item's delivery, signed as it
// is sent, to lockbox-intake's Jira source, which answers 201 with the
// request it filed.
func (g *generator) intakeCaller(j Job) (func(context.Context, Item) error, error) {
	d, err := newJiraDelivery()
	if err != nil {
		return nil, err
	}
	url := j.URL + "/" + jiraSourceName
	return func(ctx context.Context, it Item) error {
		body := d.body(it)
		return g.call(ctx, http.MethodPost, url, d.headers(body, time.Now()), body, http.StatusCreated)
	}, nil
}
