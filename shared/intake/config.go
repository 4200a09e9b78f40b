package intake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"lockbox.dev/shared/lockbox"
)

// Kind is a ticketing system, which decides how deliveries are signed.
type Kind string

// The kinds of source.
const (
	KindJira       Kind = "jira"
	KindGitHub     Kind = "github"
	KindZendesk    Kind = "zendesk"
	KindServiceNow Kind = "servicenow"
)

// Kinds are the kinds of source, in the order the documentation lists them.
var Kinds = []Kind{KindJira, KindGitHub, KindZendesk, KindServiceNow}

// Vendor is the name of k's vendor product as it spells it (GitHub).
func (k Kind) Vendor() string {
	if v, ok := map[Kind]string{KindJira: "Jira", KindGitHub: "GitHub", KindZendesk: "Zendesk", KindServiceNow: "ServiceNow"}[k]; ok {
		return v
	}
	return string(k)
}

// Do is what a delivery asks for.
type Do string

// The actions. DoNothing is the outcome of a delivery no condition selects.
const (
	DoNothing Do = ""
	DoCreate  Do = "create"
	DoClose   Do = "close"
)

// ServiceNow authentication methods.
const (
	AuthBasic = "basic"
	AuthHMAC  = "hmac"
)

// DefaultServiceNowHeader carries a ServiceNow source's HMAC unless
// configured otherwise.
const DefaultServiceNowHeader = "X-SN-Signature"

// Limits of a configuration.
const (
	MinSecretLen = 16
	maxSecretLen = 1024
	maxSecrets   = 8
	maxSources   = 256
	maxActions   = 32
	maxCondDepth = 8
	maxCondList  = 32
	maxInList    = 64
	maxUsername  = 128
)

var (
	sourceNamePattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	headerPattern     = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// Config is a loaded configuration: the sources by name.
type Config struct {
	sources map[string]*Source
	names   []string
}

// Source is one configured sender of webhooks: POST
// /function/lockbox-intake/<Name>.
type Source struct {
	Name       string
	Kind       Kind
	Tenant     Value
	Actions    []Action
	ServiceNow *ServiceNow // kind servicenow only

	secrets []secret
}

// String names the source; it never shows its secrets.
func (s Source) String() string { return fmt.Sprintf("intake source %s (%s)", s.Name, s.Kind) }

// GoString is String, for fmt's %#v.
func (s Source) GoString() string { return s.String() }

// ServiceNow says how a ServiceNow source's deliveries are authenticated.
type ServiceNow struct {
	Auth           string // AuthBasic or AuthHMAC
	Username       string // AuthBasic: the user name; the secrets are its passwords
	Header         string // AuthHMAC: the header with base64(HMAC-SHA256(secret, body))
	DeliveryHeader string // optional: a header naming the delivery
}

// Action is what a selected delivery does: create a request from Map, or
// close Ticket with Reason.
type Action struct {
	Name   string
	When   *Condition // nil: every delivery
	Do     Do
	Map    *Mapping // DoCreate
	Ticket *Value   // DoClose
	Reason *Value   // DoClose, optional
}

// Names returns the names of the sources in the order of the document.
func (c *Config) Names() []string { return append([]string(nil), c.names...) }

// Source returns the source called name; an unknown name is a KindNotFound
// error (404).
func (c *Config) Source(name string) (*Source, error) {
	if s, ok := c.sources[name]; ok {
		return s, nil
	}
	if !sourceNamePattern.MatchString(name) {
		return nil, lockbox.Errorf(lockbox.KindNotFound, "NotFound", "no such intake source")
	}
	return nil, lockbox.Errorf(lockbox.KindNotFound, "NotFound", "no intake source %q", name)
}

// Load parses a configuration strictly: unknown keys, aliases and a second
// document are refused. It reports every problem at once (errors.Join),
// each named by its place in the document.
func Load(doc []byte) (*Config, error) {
	root, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	l := &loader{}
	c := l.config(root)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return c, nil
}

func parseDocument(doc []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the intake configuration is empty")
		}
		return nil, fmt.Errorf("parse the intake configuration: %w", err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, errors.New("the intake configuration must be one YAML document")
	}
	if len(root.Content) != 1 {
		return nil, errors.New("the intake configuration is empty")
	}
	return root.Content[0], nil
}

func (l *loader) config(root *yaml.Node) *Config {
	top, ok := l.fields(root, "(document)", "sources")
	if !ok {
		return nil
	}
	c := &Config{sources: map[string]*Source{}}
	n, ok := top["sources"]
	if !ok {
		l.fail("sources", "at least one source is required")
		return c
	}
	ps, ok := l.pairs(n, "sources")
	switch {
	case !ok:
		return c
	case len(ps) == 0 || len(ps) > maxSources:
		l.fail("sources", "must hold 1..%d sources", maxSources)
	}
	for _, p := range ps {
		at := "sources." + p.key
		if !sourceNamePattern.MatchString(p.key) {
			l.fail(at, "a source's name must be 1..64 characters of [a-z0-9-]")
		}
		if s := l.source(p.key, p.value, at); s != nil {
			c.sources[p.key] = s
			c.names = append(c.names, p.key)
		}
	}
	return c
}

func (l *loader) source(name string, n *yaml.Node, at string) *Source {
	f, ok := l.fields(n, at, "kind", "secrets", "tenant", "actions", "servicenow")
	if !ok {
		return nil
	}
	s := &Source{Name: name}
	s.Kind = l.kind(f["kind"], at+".kind")
	s.secrets = l.secrets(f["secrets"], at+".secrets")
	s.ServiceNow = l.serviceNow(s.Kind, f["servicenow"], at+".servicenow")
	if t := l.required(f, "tenant", at); t != nil {
		if v := l.value(t, at+".tenant", false); v != nil {
			s.Tenant = *v
			l.checkConst(createFields[0], v, at+".tenant")
		}
	}
	s.Actions = l.actions(f["actions"], at+".actions")
	return s
}

// required returns f[key], reporting its absence.
func (l *loader) required(f map[string]*yaml.Node, key, at string) *yaml.Node {
	n, ok := f[key]
	if !ok {
		l.fail(at+"."+key, "required")
		return nil
	}
	return n
}

func (l *loader) kind(n *yaml.Node, at string) Kind {
	if n == nil {
		l.fail(at, "required: one of jira, github, zendesk, servicenow")
		return ""
	}
	s, ok := l.scalar(n, at)
	if !ok {
		return ""
	}
	for _, k := range Kinds {
		if Kind(s) == k {
			return k
		}
	}
	l.fail(at, "%q is not one of jira, github, zendesk, servicenow", s)
	return ""
}

// secrets reads 1..8 distinct secrets of 16..1024 bytes. Messages never
// quote a secret.
func (l *loader) secrets(n *yaml.Node, at string) []secret {
	if n == nil {
		l.fail(at, "required: at least one secret")
		return nil
	}
	texts, _ := l.texts(n, at, 1, maxSecrets)
	var out []secret
	seen := map[string]bool{}
	for i, s := range texts {
		switch {
		case len(s) < MinSecretLen || len(s) > maxSecretLen:
			l.fail(fmt.Sprintf("%s[%d]", at, i), "a secret must be %d..%d bytes", MinSecretLen, maxSecretLen)
		case seen[s]:
			l.fail(fmt.Sprintf("%s[%d]", at, i), "the same secret is given twice")
		default:
			seen[s] = true
			out = append(out, secret(s))
		}
	}
	return out
}

func (l *loader) serviceNow(k Kind, n *yaml.Node, at string) *ServiceNow {
	switch {
	case k == KindServiceNow && n == nil:
		l.fail(at, "required for kind servicenow: auth basic (with username) or hmac")
		return nil
	case n == nil:
		return nil
	case k != KindServiceNow:
		l.fail(at, "only a servicenow source takes this")
		return nil
	}
	f, ok := l.fields(n, at, "auth", "username", "header", "deliveryHeader")
	if !ok {
		return nil
	}
	sn := &ServiceNow{}
	if a := l.required(f, "auth", at); a != nil {
		sn.Auth, _ = l.scalar(a, at+".auth")
	}
	sn.Username = l.optionalText(f, "username", at)
	sn.Header = l.optionalText(f, "header", at)
	sn.DeliveryHeader = l.optionalText(f, "deliveryHeader", at)
	l.checkServiceNow(sn, f, at)
	return sn
}

func (l *loader) optionalText(f map[string]*yaml.Node, key, at string) string {
	n, ok := f[key]
	if !ok {
		return ""
	}
	s, _ := l.scalar(n, at+"."+key)
	return s
}

func (l *loader) checkServiceNow(sn *ServiceNow, f map[string]*yaml.Node, at string) {
	switch sn.Auth {
	case AuthBasic:
		if _, ok := f["header"]; ok {
			l.fail(at+".header", "only auth hmac takes a header")
		}
		if sn.Username == "" || len(sn.Username) > maxUsername || strings.ContainsAny(sn.Username, ":\x00") || !printableASCII(sn.Username) {
			l.fail(at+".username", "required for auth basic: 1..%d printable ASCII characters without ':'", maxUsername)
		}
	case AuthHMAC:
		if _, ok := f["username"]; ok {
			l.fail(at+".username", "only auth basic takes a username")
		}
		if sn.Header == "" {
			sn.Header = DefaultServiceNowHeader
		}
		l.checkHeader(sn.Header, at+".header")
	case "":
	default:
		l.fail(at+".auth", "%q is not basic or hmac", sn.Auth)
	}
	if sn.DeliveryHeader != "" {
		l.checkHeader(sn.DeliveryHeader, at+".deliveryHeader")
	}
}

func (l *loader) checkHeader(h, at string) {
	if !headerPattern.MatchString(h) || strings.EqualFold(h, "Authorization") {
		l.fail(at, "a header name must be 1..64 characters of [A-Za-z0-9-], not Authorization")
	}
}

func (l *loader) actions(n *yaml.Node, at string) []Action {
	if n == nil {
		l.fail(at, "required: at least one action")
		return nil
	}
	items, ok := l.sequence(n, at, 1, maxActions)
	if !ok {
		return nil
	}
	var out []Action
	names := map[string]bool{}
	for i, item := range items {
		a := l.action(item, fmt.Sprintf("%s[%d]", at, i))
		if a == nil {
			continue
		}
		if names[a.Name] {
			l.fail(fmt.Sprintf("%s[%d].name", at, i), "another action is called %q: name each action of a source differently", a.Name)
		}
		names[a.Name] = true
		out = append(out, *a)
	}
	return out
}

func (l *loader) action(n *yaml.Node, at string) *Action {
	f, ok := l.fields(n, at, "name", "when", "do", "map", "ticket", "reason")
	if !ok {
		return nil
	}
	a := &Action{}
	if d := l.required(f, "do", at); d != nil {
		s, _ := l.scalar(d, at+".do")
		a.Do = Do(s)
	}
	a.Name = string(a.Do)
	if nm, ok := f["name"]; ok {
		a.Name, _ = l.scalar(nm, at+".name")
		if !sourceNamePattern.MatchString(a.Name) {
			l.fail(at+".name", "an action's name must be 1..64 characters of [a-z0-9-]")
		}
	}
	if w, ok := f["when"]; ok {
		a.When = l.condition(w, at+".when", 1)
	}
	switch a.Do {
	case DoCreate:
		l.create(a, f, at)
	case DoClose:
		l.close(a, f, at)
	case "":
	default:
		l.fail(at+".do", "%q is not create or close", string(a.Do))
	}
	return a
}

func (l *loader) create(a *Action, f map[string]*yaml.Node, at string) {
	for _, k := range []string{"ticket", "reason"} {
		if _, ok := f[k]; ok {
			l.fail(at+"."+k, "only a close takes this")
		}
	}
	if m := l.required(f, "map", at); m != nil {
		a.Map = l.mapping(m, at+".map")
	}
}

func (l *loader) close(a *Action, f map[string]*yaml.Node, at string) {
	if _, ok := f["map"]; ok {
		l.fail(at+".map", "only a create takes this")
	}
	if t := l.required(f, "ticket", at); t != nil {
		a.Ticket = l.value(t, at+".ticket", false)
		if a.Ticket != nil && a.Ticket.Const != nil {
			if err := checkTicket(*a.Ticket.Const); err != nil {
				l.fail(at+".ticket", "%s", strings.Replace(err.Error(), "supportRequest", "a ticket", 1))
			}
		}
	}
	if r, ok := f["reason"]; ok {
		a.Reason = l.value(r, at+".reason", false)
		if a.Reason != nil && a.Reason.Const != nil {
			if err := checkReason(*a.Reason.Const); err != nil {
				l.fail(at+".reason", "%s", err)
			}
		}
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
