package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lockbox.dev/shared/config"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/intake/fixtures"
)

// send-fixture posts each vendor's fixture to its source's path, signed so
// that the source verifies it, and fails on a refusal.
func TestSendFixture(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.SecretIntake), fixtures.Config(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := intake.Load(fixtures.Config())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/function/lockbox-intake/")
		body, _ := io.ReadAll(r.Body)
		src, err := cfg.Source(name)
		if err == nil {
			_, err = src.Verify(r.Header, body, time.Now())
		}
		if err != nil {
			http.Error(w, `{"error":"`+err.Error()+`"}`, http.StatusUnauthorized)
			return
		}
		got = append(got, name)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"requestId":"r-1"}`)
	}))
	defer gw.Close()

	for _, args := range [][]string{{"jira"}, {"github", "resolved"}, {"zendesk"}, {"servicenow"}, {"servicenow-hmac", "resolved"}} {
		var out bytes.Buffer
		if err := sendFixture(append([]string{"-secrets", dir}, args...), gw.URL, &out); err != nil {
			t.Errorf("send-fixture %v: %v\n%s", args, err, out.String())
		}
		if !strings.Contains(out.String(), "201 Created") {
			t.Errorf("send-fixture %v printed %q", args, out.String())
		}
	}
	if want := []string{"jira", "github", "zendesk", "servicenow", "servicenow-hmac"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("verified deliveries to %v, want %v", got, want)
	}

	for _, args := range [][]string{{"bitbucket"}, {"jira", "deleted"}, {}} {
		if err := sendFixture(append([]string{"-secrets", dir}, args...), gw.URL, io.Discard); err == nil {
			t.Errorf("send-fixture %v: no error", args)
		}
	}
	// A source whose secret the gateway does not know is refused: an error.
	other := strings.Replace(string(fixtures.Config()), "jira-fixture-secret-current-0001", "jira-another-secret-000000001", 1)
	if err := os.WriteFile(filepath.Join(dir, config.SecretIntake), []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sendFixture([]string{"-secrets", dir, "jira"}, gw.URL, io.Discard); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused delivery: got %v, want an error naming 401", err)
	}
}

// -new sends a fixture naming a ticket no fixture names, so that it files a
// new request; -ticket names the ticket to resolve; the flags may follow
// the source.
func TestSendFixtureNewTicket(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.SecretIntake), fixtures.Config(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := intake.Load(fixtures.Config())
	if err != nil {
		t.Fatal(err)
	}
	var tickets []string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		src, _ := cfg.Source(strings.TrimPrefix(r.URL.Path, "/function/lockbox-intake/"))
		if _, err := src.Verify(r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		out, err := src.Route(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		tickets = append(tickets, out.Ticket)
		w.WriteHeader(http.StatusCreated)
	}))
	defer gw.Close()
	for _, source := range []string{"jira", "github", "zendesk", "servicenow"} {
		tickets = nil
		var out bytes.Buffer
		if err := sendFixture([]string{source, "-new", "-secrets", dir, "-gateway", gw.URL}, "", &out); err != nil {
			t.Fatalf("%s -new: %v", source, err)
		}
		if err := sendFixture([]string{"-secrets", dir, "-gateway", gw.URL, source}, "", &out); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if len(tickets) != 2 || tickets[0] == tickets[1] {
			t.Fatalf("%s: tickets %q: -new must name a ticket other than the fixture's", source, tickets)
		}
		printed := strings.Fields(out.String()[strings.Index(out.String(), "ticket "):])[1]
		printed = strings.TrimSuffix(printed, ":")
		if !strings.HasSuffix(tickets[0], printed) {
			t.Errorf("%s: printed ticket %q, sent %q", source, printed, tickets[0])
		}
		if err := sendFixture([]string{source, "resolved", "-ticket", printed, "-secrets", dir, "-gateway", gw.URL}, "", &out); err != nil {
			t.Fatalf("%s resolved -ticket: %v", source, err)
		}
		if tickets[2] != tickets[0] {
			t.Errorf("%s: resolved %q, want the new ticket %q", source, tickets[2], tickets[0])
		}
	}
}
