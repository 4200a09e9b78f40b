package intake

import (
	"encoding/base64"
	"encoding/hex"
	"flag"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/lockbox"
)

// smallSeeds are compact deliveries that every source maps to a create or a
// close: seeds that are cheap to mutate and to minimise.
var smallSeeds = []string{
	`{"webhookEvent":"jira:issue_created","issue":{"key":"ACC-1","fields":{"issuetype":{"name":"Access request"},"customfield_10050":{"value":"contoso"},"customfield_10051":{"value":"vm"},"customfield_10052":"a\nb","customfield_10053":8,"summary":"s","reporter":{"emailAddress":"a@b.c"}}}}`,
	`{"webhookEvent":"jira:issue_updated","changelog":{"items":[{"field":"status"}]},"issue":{"key":"ACC-1","fields":{"customfield_10050":{"value":"contoso"},"status":{"name":"Done","statusCategory":{"key":"done"}}}}}`,
	`{"action":"opened","issue":{"number":1,"title":"t","user":{"login":"u"},"labels":[{"name":"lockbox"}],"html_url":"https://x/1"},"repository":{"full_name":"o/r"}}`,
	`{"action":"closed","issue":{"number":1,"labels":[{"name":"lockbox"}]},"repository":{"full_name":"o/r"}}`,
	`{"event":"lockbox.requested","ticket":{"id":"1","organization":"contoso","resource_type":"t","resource_ids":"a,b","access_hours":"4","title":"t"},"agent":{"email":"a@b.c"}}`,
	`{"event":"lockbox.ticket_solved","ticket":{"id":"1","organization":"contoso"}}`,
	`{"event":"incident.lockbox_requested","incident":{"number":"INC1","company":"contoso","short_description":"s","u_lockbox_resource_type":"t","u_lockbox_resource_ids":"a","u_lockbox_hours":"2","sys_id":"x","assigned_to":{"user_name":"u"}}}`,
	`{"event":"incident.resolved","incident":{"number":"INC1","company":"contoso"}}`,
}

// fuzzing reports whether the test binary runs with -fuzz.
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// TestSmallSeedsAct: each small seed asks something of some source.
func TestSmallSeedsAct(t *testing.T) {
	c := exampleConfig(t)
	for _, seed := range smallSeeds {
		acted := false
		for _, n := range c.Names() {
			s, _ := c.Source(n)
			o, err := s.Route([]byte(seed))
			if err == nil && o.Do != DoNothing {
				checkOutcome(t, s, o)
				acted = true
			}
		}
		if !acted {
			t.Errorf("seed %s asks nothing", seed)
		}
	}
}

// fixtureBodies returns every fixture body, as fuzz seeds.
func fixtureBodies(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, n := range fixtures.Names() {
		b, err := fixtures.Body(n)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		f.Fatal("no fixtures")
	}
	return out
}

// checkVerified fails unless err is nil exactly when valid, and a refusal
// is KindUnauthorized.
func checkVerified(t *testing.T, d Delivery, err error, valid bool) {
	t.Helper()
	switch {
	case err != nil && lockbox.KindOf(err) != lockbox.KindUnauthorized:
		t.Fatalf("refused with kind %s: %v", lockbox.KindOf(err), err)
	case err == nil && !valid:
		t.Fatalf("accepted a signature no secret made: %+v", d)
	case err != nil && valid:
		t.Fatalf("refused the exact signature: %v", err)
	case err == nil && d.ID == "":
		t.Fatal("accepted without a delivery id")
	}
}

// validHex reports whether sig is sha256=<hex HMAC> of body under one of
// the source's secrets.
func validHex(s *Source, sig string, body []byte) bool {
	for _, k := range s.secrets {
		if sig == hexPrefix+hex.EncodeToString(sum(k, body)) {
			return true
		}
	}
	return false
}

func fuzzHexVerifier(f *testing.F, source, sigHeader, idHeader string) {
	s := exampleSource(f, source)
	for _, seed := range smallSeeds[:2] {
		b := []byte(seed)
		h := s.Sign(b, fixtureNow)
		f.Add(h.Get(sigHeader), h.Get(idHeader), b)
		f.Add(strings.ToUpper(h.Get(sigHeader)), "", b)
	}
	f.Add("sha256=", "x", []byte{})
	f.Add("sha256="+strings.Repeat("0", 64), "\x00", []byte("{}"))
	f.Fuzz(func(t *testing.T, sig, id string, body []byte) {
		h := http.Header{}
		h.Set(sigHeader, sig)
		h.Set(idHeader, id)
		d, err := s.Verify(h, body, fixtureNow)
		checkVerified(t, d, err, validHex(s, sig, body))
	})
}

func FuzzVerifyJira(f *testing.F) {
	fuzzHexVerifier(f, "jira", HeaderJiraSignature, HeaderJiraDelivery)
}

func FuzzVerifyGitHub(f *testing.F) {
	fuzzHexVerifier(f, "github", HeaderGitHubSignature, HeaderGitHubDelivery)
}

func FuzzVerifyZendesk(f *testing.F) {
	s := exampleSource(f, "zendesk")
	for _, seed := range smallSeeds[4:6] {
		b := []byte(seed)
		h := s.Sign(b, fixtureNow)
		f.Add(h.Get(HeaderZendeskSignature), h.Get(HeaderZendeskTimestamp), b)
		old := s.Sign(b, fixtureNow.Add(-time.Hour))
		f.Add(old.Get(HeaderZendeskSignature), old.Get(HeaderZendeskTimestamp), b)
	}
	f.Add("", "2026-05-04T12:00:30+00:00", []byte("{}"))
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		h := http.Header{}
		h.Set(HeaderZendeskSignature, sig)
		h.Set(HeaderZendeskTimestamp, ts)
		d, err := s.Verify(h, body, fixtureNow)
		valid := false
		if t0, perr := time.Parse(time.RFC3339, ts); perr == nil && len(ts) <= maxTimestampLen && t0.Sub(fixtureNow).Abs() <= MaxSkew {
			for _, k := range s.secrets {
				valid = valid || sig == base64.StdEncoding.EncodeToString(sum(k, []byte(ts), body))
			}
		}
		checkVerified(t, d, err, valid)
	})
}

func FuzzVerifyServiceNow(f *testing.F) {
	hm := exampleSource(f, "servicenow-hmac")
	basic := exampleSource(f, "servicenow")
	for _, seed := range smallSeeds[6:] {
		b := []byte(seed)
		f.Add(hm.Sign(b, fixtureNow).Get("X-SN-Signature"), basic.Sign(b, fixtureNow).Get("Authorization"), b)
	}
	f.Add("", "Basic Og==", []byte{})
	f.Add("", "basic "+base64.StdEncoding.EncodeToString([]byte("lockbox-intake:servicenow-fixture-password-0001")), []byte{})
	f.Fuzz(func(t *testing.T, sig, authz string, body []byte) {
		h := http.Header{}
		h.Set("X-SN-Signature", sig)
		d, err := hm.Verify(h, body, fixtureNow)
		valid := false
		for _, k := range hm.secrets {
			valid = valid || sig == base64.StdEncoding.EncodeToString(sum(k, body))
		}
		checkVerified(t, d, err, valid)

		h = http.Header{}
		h.Set("Authorization", authz)
		d, err = basic.Verify(h, body, fixtureNow)
		checkVerified(t, d, err, validBasic(basic, authz))
	})
}

// validBasic reports whether authz is Basic with the source's user name
// and one of its secrets.
func validBasic(s *Source, authz string) bool {
	if len(authz) < 6 || !strings.EqualFold(authz[:6], "Basic ") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(authz[6:])
	if err != nil {
		return false
	}
	for _, k := range s.secrets {
		if string(raw) == s.ServiceNow.Username+":"+string(k) {
			return true
		}
	}
	return false
}

// FuzzRoute sends arbitrary bodies through every source of the example
// configuration: no panic, no error but 400 and 422, and whatever is asked
// for is valid.
func FuzzRoute(f *testing.F) {
	c := exampleConfig(f)
	if !fuzzing() {
		// The fixtures are seeds of the regular run; while fuzzing, their
		// size makes every new input slow to minimise.
		for _, b := range fixtureBodies(f) {
			f.Add(b)
		}
	}
	for _, b := range append(smallSeeds,
		`{"event": "lockbox.requested", "ticket": {"id": 1, "organization": "contoso"}}`,
		`{"webhookEvent": "jira:issue_created", "issue": {"fields": {"issuetype": {"name": "Access request"}}}}`,
		`{"action": "opened", "issue": {"labels": [{"name": "lockbox"}]}}`,
		`{"event": "incident.resolved", "incident": {"number": "\u0000", "company": "contoso"}}`,
		`[[[[[[[[`, `{"a":1,"a":2}`, `"\ud800"`,
	) {
		f.Add([]byte(b))
	}
	var sources []*Source
	for _, n := range c.Names() {
		s, _ := c.Source(n)
		sources = append(sources, s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, s := range sources {
			o, err := s.Route(body)
			if err != nil {
				if k := lockbox.KindOf(err); k != lockbox.KindInvalid && k != lockbox.KindUnprocessable {
					t.Fatalf("%s: error of kind %s: %v", s.Name, k, err)
				}
				continue
			}
			checkOutcome(t, s, o)
		}
	})
}

func checkOutcome(t *testing.T, s *Source, o Outcome) {
	t.Helper()
	switch o.Do {
	case DoNothing:
		if o.Action != "" || o.TenantID != "" {
			t.Fatalf("%s: nothing to do, yet %+v", s.Name, o)
		}
		return
	case DoCreate:
		if err := o.Input.Validate(); err != nil {
			t.Fatalf("%s: a create that does not validate: %v", s.Name, err)
		}
		if o.TenantID != o.Input.TenantID || o.Ticket != o.Input.SupportRequest {
			t.Fatalf("%s: outcome and input disagree: %+v", s.Name, o)
		}
	case DoClose:
		if !lockbox.ValidTenantID(o.TenantID) || checkTicket(o.Ticket) != nil || checkReason(o.Reason) != nil {
			t.Fatalf("%s: an invalid close: %+v", s.Name, o)
		}
	default:
		t.Fatalf("%s: unknown action %q", s.Name, o.Do)
	}
	if !slices.ContainsFunc(s.Actions, func(a Action) bool { return a.Name == o.Action }) {
		t.Fatalf("%s: no action %q", s.Name, o.Action)
	}
	if k := o.Key(s.Name, Delivery{ID: "x", Derived: true}); len(k) > 255 || !printableASCII(k) {
		t.Fatalf("%s: key %q is no Idempotency-Key", s.Name, k)
	}
}

// FuzzPath: any path the subset accepts is free of gjson's computing
// syntax and selects from any body without panicking.
func FuzzPath(f *testing.F) {
	for _, p := range []string{"issue.key", `a.#(b=="c")#.d`, "labels.#.name", "a.@this", `a|b`, "..a", `#(a==1)`} {
		f.Add(p, []byte(`{"a": [{"b": "c", "d": 1}], "issue": {"key": "X"}}`))
	}
	f.Fuzz(func(t *testing.T, s string, body []byte) {
		p, err := parsePath(s)
		if err != nil {
			return
		}
		outside := s
		// Only a query's quoted literal may hold other characters.
		for {
			i := strings.Index(outside, `=="`)
			if i < 0 {
				break
			}
			j := strings.IndexByte(outside[i+3:], '"')
			if j < 0 {
				t.Fatalf("accepted %q with an open literal", s)
			}
			outside = outside[:i] + outside[i+3+j+1:]
		}
		if strings.ContainsAny(outside, "@|*?\\[]{}!%<>~, \"") || strings.Contains(outside, "..") {
			t.Fatalf("accepted %q", s)
		}
		if checkBody(body) == nil {
			_ = p.get(body)
		}
	})
}
