package lockbox_test

import (
	"strings"
	"testing"
	"time"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
)

// memory applies the pure rules to requests held in a map: the reference
// implementation the store is compared with.
type memory struct {
	reqs map[string]lockbox.Request
	// held is the automatic decision of a request in internal review,
	// taken when the review releases it.
	held map[string]lockbox.AutoDecision
}

func (m *memory) Create(t *testing.T, f lockboxtest.Filing) lockbox.Request {
	if err := f.Input.Validate(); err != nil {
		t.Fatal(err)
	}
	set, at := f.Settings, f.At
	if set == nil {
		set = new(lockbox.DefaultSettings(f.DefaultEnabled))
	}
	r := lockbox.NewRequest(f.Input, "req-1", at, lockboxtest.Limits).FiledAs(f.Filer)
	r, err := f.Policy.Screen(r, f.Filer)
	if err != nil {
		t.Fatal(err)
	}
	r = r.Govern(*set)
	auto := set.Decide(r)
	r = r.ReviewWindow(lockboxtest.Limits)
	if r.Status == lockbox.StatusInternalReview {
		m.held[r.RequestID], auto = auto, lockbox.AutoDecision{}
	}
	if auto.Action != "" {
		var err error
		r, _, err = lockbox.Apply(r, lockbox.Act{Action: auto.Action, Actor: lockbox.Actor{Kind: lockbox.ActorSystem, ID: auto.ActorID},
			Reason: auto.Reason, At: at}, lockboxtest.Limits)
		if err != nil {
			t.Fatal(err)
		}
	}
	m.reqs[r.RequestID] = r
	return r
}

func (m *memory) Act(id string, act lockbox.Act) (lockbox.Request, error) {
	r, ok := m.reqs[id]
	if !ok {
		return lockbox.Request{}, lockbox.ErrNotFound(id)
	}
	was := r.Status
	r, _, err := lockbox.Apply(r, act, lockboxtest.Limits)
	if err != nil {
		return lockbox.Request{}, err
	}
	if auto := m.held[id]; was == lockbox.StatusInternalReview && r.Status == lockbox.StatusPending && auto.Action != "" {
		r, _, err = lockbox.Apply(r, lockbox.Act{Action: auto.Action, Actor: lockbox.Actor{Kind: lockbox.ActorSystem, ID: auto.ActorID},
			Reason: auto.Reason, At: act.At}, lockboxtest.Limits)
		if err != nil {
			return lockbox.Request{}, err
		}
	}
	m.reqs[id] = r
	return r, nil
}

func (m *memory) Get(id string, at time.Time) (lockbox.Request, error) {
	r, ok := m.reqs[id]
	if !ok {
		return lockbox.Request{}, lockbox.ErrNotFound(id)
	}
	return r.Effective(at), nil
}

func TestScenarios(t *testing.T) {
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	lockboxtest.Run(t, start, func(*testing.T) lockboxtest.System {
		return &memory{reqs: map[string]lockbox.Request{}, held: map[string]lockbox.AutoDecision{}}
	})
}

func TestSettle(t *testing.T) {
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r := lockbox.NewRequest(lockboxtest.Input(lockboxtest.Scenario{}), "req-1", start, lockboxtest.Limits)

	// Nothing is due while the window is open.
	if _, _, ok := lockbox.Settle(r, start.Add(time.Hour)); ok {
		t.Fatal("settled a request whose window is open")
	}
	// At the end of the window the request expires, recorded by the system.
	exp, ev, ok := lockbox.Settle(r, start.Add(96*time.Hour))
	if !ok || exp.Status != lockbox.StatusExpired || ev.OperationName != lockbox.OpExpire || ev.Actor.Kind != lockbox.ActorSystem {
		t.Fatalf("got %v %+v %v, want an expiry by the system", exp.Status, ev, ok)
	}
	if ev.FromStatus != lockbox.StatusPending || ev.ToStatus != lockbox.StatusExpired {
		t.Fatalf("got %s→%s, want Pending→Expired", ev.FromStatus, ev.ToStatus)
	}

	// An approved request completes when its grant ends.
	app, _, err := lockbox.Apply(r, lockboxtest.ActOf(lockboxtest.Step{Do: lockbox.ActionApprove, By: lockboxtest.Approver}, start), lockboxtest.Limits)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := lockbox.Settle(app, start.Add(8*time.Hour-time.Millisecond)); ok {
		t.Fatal("completed a live grant")
	}
	done, ev, ok := lockbox.Settle(app, start.Add(8*time.Hour))
	if !ok || done.Status != lockbox.StatusCompleted || ev.OperationName != lockbox.OpComplete || done.AccessActive {
		t.Fatalf("got %v %s active=%v, want Completed", done.Status, ev.OperationName, done.AccessActive)
	}
}

func TestNewRequestDefaults(t *testing.T) {
	start := time.Date(2026, 11, 27, 9, 0, 0, 123456789, time.UTC)
	lim := lockbox.Limits{PendingTTL: 96 * time.Hour, AccessTTL: 90 * time.Second, MaxAccessTTL: time.Hour}
	r := lockbox.NewRequest(lockboxtest.Input(lockboxtest.Scenario{}), "req-1", start, lim)
	if got, want := r.CreatedDateTime, start.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("createdDateTime: got %v, want %v", got, want)
	}
	if got, want := r.ExpirationDateTime, r.CreatedDateTime.Add(96*time.Hour); !got.Equal(want) {
		t.Errorf("expirationDateTime: got %v, want %v", got, want)
	}
	// A sub-hour access_ttl still reports a whole hour but grants the real ttl.
	if r.Duration != 1 || r.Grant != 90*time.Second {
		t.Errorf("got duration %d grant %v, want 1 and 90s", r.Duration, r.Grant)
	}
}

func TestAuthorize(t *testing.T) {
	in := lockboxtest.Input(lockboxtest.Scenario{})
	svc := lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook"}
	user := func(sub, tid string, roles ...lockbox.Role) lockbox.Principal {
		return lockbox.Principal{Kind: lockbox.KindUser, Subject: sub, TenantID: tid, Roles: roles}
	}
	requester := user(lockboxtest.Requester, "provider", lockbox.RoleRequester)
	approver := user(lockboxtest.Approver, "contoso", lockbox.RoleApprover)
	reader := user("rita", "contoso", lockbox.RoleReader)
	operator := user("op", "provider", lockbox.RoleOperator)

	create := []struct {
		name string
		p    lockbox.Principal
		want lockbox.Kind
	}{
		{"webhook service files for any engineer", svc, ""},
		{"operator files for any engineer", operator, ""},
		{"requester files for themself", requester, ""},
		{"requester may not file for someone else", user("eng-8", "provider", lockbox.RoleRequester), lockbox.KindForbidden},
		{"approver may not file", approver, lockbox.KindForbidden},
		{"reader may not file", reader, lockbox.KindForbidden},
		{"no roles", user("x", "contoso"), lockbox.KindForbidden},
	}
	for _, c := range create {
		if got := kind(lockbox.AuthorizeCreate(c.p, in)); got != c.want {
			t.Errorf("create, %s: got %q, want %q", c.name, got, c.want)
		}
	}

	decide := []struct {
		name string
		p    lockbox.Principal
		want lockbox.Kind
	}{
		{"approver decides", approver, ""},
		{"reader may not decide", reader, lockbox.KindForbidden},
		{"requester may not decide", requester, lockbox.KindForbidden},
		{"approver who is also a requester may not decide", user("a", "contoso", lockbox.RoleApprover, lockbox.RoleRequester), lockbox.KindForbidden},
		{"operator may not decide", operator, lockbox.KindForbidden},
		{"operator who is also an approver may not decide", user("o", "contoso", lockbox.RoleApprover, lockbox.RoleOperator), lockbox.KindForbidden},
		{"webhook service may not decide", svc, lockbox.KindForbidden},
	}
	for _, c := range decide {
		if got := kind(lockbox.AuthorizeDecide(c.p)); got != c.want {
			t.Errorf("decide, %s: got %q, want %q", c.name, got, c.want)
		}
	}

	// Only the tenant's admin changes its settings: nothing the provider
	// controls may switch Lockbox off or add an auto-approval.
	admin := user("ada", "contoso", lockbox.RoleAdmin)
	settings := []struct {
		name   string
		p      lockbox.Principal
		tenant string
		write  bool
		want   string
		kind   lockbox.Kind
	}{
		{"admin changes their own tenant's", admin, "", true, "contoso", ""},
		{"admin names their own tenant", admin, "contoso", true, "contoso", ""},
		{"admin may not change another tenant's", admin, "fabrikam", true, "", lockbox.KindForbidden},
		{"operator may not change a tenant's", operator, "contoso", true, "", lockbox.KindForbidden},
		{"operator who is also the tenant's admin may not", user("op", "contoso", lockbox.RoleAdmin, lockbox.RoleOperator), "", true, "", lockbox.KindForbidden},
		{"requester who is also the tenant's admin may not", user("eng", "contoso", lockbox.RoleAdmin, lockbox.RoleRequester), "", true, "", lockbox.KindForbidden},
		{"signed service may not change a tenant's", svc, "contoso", true, "", lockbox.KindForbidden},
		{"approver may not change them", approver, "", true, "", lockbox.KindForbidden},
		{"operator reads the tenant it names", operator, "contoso", false, "contoso", ""},
		{"signed service reads the tenant it names", svc, "contoso", false, "contoso", ""},
		{"reader reads their own tenant's", reader, "", false, "contoso", ""},
	}
	for _, c := range settings {
		got, err := lockbox.AuthorizeSettings(c.p, c.tenant, c.write)
		if kind(err) != c.kind || got != c.want {
			t.Errorf("settings, %s: got %q %q, want %q %q", c.name, got, kind(err), c.want, c.kind)
		}
	}

	list := []struct {
		name   string
		p      lockbox.Principal
		tenant string
		want   lockbox.Scope
		kind   lockbox.Kind
	}{
		{"approver reads own tenant", approver, "", lockbox.Scope{TenantID: "contoso", HideInternal: true}, ""},
		{"reader names own tenant", reader, "contoso", lockbox.Scope{TenantID: "contoso", HideInternal: true}, ""},
		{"provider-approver reads the tenant it names", user("lead", "provider", lockbox.RoleProviderApprover), "fabrikam", lockbox.Scope{TenantID: "fabrikam"}, ""},
		{"reader may not read another tenant", reader, "fabrikam", lockbox.Scope{}, lockbox.KindForbidden},
		{"operator reads any tenant", operator, "fabrikam", lockbox.Scope{TenantID: "fabrikam"}, ""},
		{"service must name a tenant", svc, "", lockbox.Scope{}, lockbox.KindInvalid},
		{"service reads the tenant it names", svc, "contoso", lockbox.Scope{TenantID: "contoso"}, ""},
		{"requester reads only their own requests", requester, "contoso", lockbox.Scope{TenantID: "contoso", RequesterID: lockboxtest.Requester}, ""},
		{"requester must name a tenant", requester, "", lockbox.Scope{}, lockbox.KindInvalid},
		{"malformed tenant", operator, "con{toso}", lockbox.Scope{}, lockbox.KindInvalid},
		{"no roles", user("x", "contoso"), "", lockbox.Scope{}, lockbox.KindForbidden},
	}
	for _, c := range list {
		got, err := lockbox.AuthorizeList(c.p, c.tenant)
		if kind(err) != c.kind || got != c.want {
			t.Errorf("list, %s: got %+v %q, want %+v %q", c.name, got, kind(err), c.want, c.kind)
		}
	}
}

func kind(err error) lockbox.Kind {
	if err == nil {
		return ""
	}
	return lockbox.KindOf(err)
}

func TestValidate(t *testing.T) {
	ok := lockboxtest.Input(lockboxtest.Scenario{})
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}
	cases := map[string]func(*lockbox.CreateInput){
		"empty tenant":           func(in *lockbox.CreateInput) { in.TenantID = "" },
		"tenant with hash tag":   func(in *lockbox.CreateInput) { in.TenantID = "a{b}" },
		"tenant too long":        func(in *lockbox.CreateInput) { in.TenantID = strings.Repeat("a", 65) },
		"no resources":           func(in *lockbox.CreateInput) { in.ResourceIDs = nil },
		"51 resources":           func(in *lockbox.CreateInput) { in.ResourceIDs = make([]string, 51) },
		"empty resource id":      func(in *lockbox.CreateInput) { in.ResourceIDs = []string{""} },
		"empty justification":    func(in *lockbox.CreateInput) { in.Justification = "" },
		"justification too long": func(in *lockbox.CreateInput) { in.Justification = strings.Repeat("x", 4097) },
		"control characters":     func(in *lockbox.CreateInput) { in.Justification = "a\x00b" },
		"invalid utf-8":          func(in *lockbox.CreateInput) { in.Justification = "a\xffb" },
		"no support request":     func(in *lockbox.CreateInput) { in.SupportRequest = "" },
		"javascript case url":    func(in *lockbox.CreateInput) { in.SupportCaseURL = "javascript:alert(1)" },
		"relative case url":      func(in *lockbox.CreateInput) { in.SupportCaseURL = "/cases/1" },
		"requester with space":   func(in *lockbox.CreateInput) { in.Requester.ID = "eng 7" },
		"no requester":           func(in *lockbox.CreateInput) { in.Requester.ID = "" },
		"zero duration":          func(in *lockbox.CreateInput) { in.Duration = lockboxtest.Hours(0) },
		"duration over 720":      func(in *lockbox.CreateInput) { in.Duration = lockboxtest.Hours(721) },
		"no resource type":       func(in *lockbox.CreateInput) { in.ResourceType = "" },
		"bad access level":       func(in *lockbox.CreateInput) { in.AccessLevel = "Read Write" },
		"bad subscription":       func(in *lockbox.CreateInput) { in.SubscriptionID = "sub/1" },
	}
	for name, mutate := range cases {
		in := ok
		in.ResourceIDs = append([]string(nil), ok.ResourceIDs...)
		mutate(&in)
		if got := kind(in.Validate()); got != lockbox.KindInvalid {
			t.Errorf("%s: got %q, want invalid", name, got)
		}
	}

	d := lockbox.DecisionInput{RequestID: "abc-123", Reason: "ok"}
	if err := d.Validate(false); err != nil {
		t.Fatalf("valid decision refused: %v", err)
	}
	bad := map[string]lockbox.DecisionInput{
		"empty id":           {Reason: "ok"},
		"id with colon":      {RequestID: "a:b", Reason: "ok"},
		"id too long":        {RequestID: strings.Repeat("a", 65), Reason: "ok"},
		"empty reason":       {RequestID: "a"},
		"duration with deny": {RequestID: "a", Reason: "ok", Duration: lockboxtest.Hours(1)},
	}
	for name, in := range bad {
		if got := kind(in.Validate(false)); got != lockbox.KindInvalid {
			t.Errorf("%s: got %q, want invalid", name, got)
		}
	}
}

// Identities are compared in one canonical form: without default-ignorable
// code points, NFKC, case-folded.
func TestCanonicalID(t *testing.T) {
	same := [][2]string{
		{"Alice", "alice"}, {"ALICE@CONTOSO.EXAMPLE", "alice@contoso.example"},
		{"Zo\u00eb", "zoe\u0308"}, {"ZOE\u0308", "zo\u00eb"}, // NFC and NFD, any case
		{"Stra\u00dfe", "STRASSE"}, // full case folding, not lower-casing
	}
	for _, p := range same {
		if !lockbox.SameIdentity(p[0], p[1]) {
			t.Errorf("%q and %q: got different identities, want the same", p[0], p[1])
		}
	}
	// Compatibility forms and invisible code points: one person, however
	// spelt (fullwidth letters, a combining grapheme joiner, a variation
	// selector, a Hangul filler, a zero-width joiner).
	for _, p := range [][2]string{
		{"\uff41\uff4c\uff49\uff43\uff45", "alice"}, {"ALI\uff23E", "alice"}, {"\u2160", "i"},
		{"ali\u034fce", "alice"}, {"alice\ufe0f", "alice"}, {"al\u3164ice", "alice"}, {"al\u200dice", "alice"},
		{"\u00adalice", "alice"}, {"alice\U000e0041", "alice"},
	} {
		if !lockbox.SameIdentity(p[0], p[1]) {
			t.Errorf("%q and %q: got different identities, want the same", p[0], p[1])
		}
	}
	for _, p := range [][2]string{{"alice", "alice2"}, {"zoe", "zo\u00eb"}, {"eng-7", "eng_7"}} {
		if lockbox.SameIdentity(p[0], p[1]) {
			t.Errorf("%q and %q: got the same identity, want different", p[0], p[1])
		}
	}
	user := lockbox.Principal{Kind: lockbox.KindUser, Subject: "Alice"}
	svc := lockbox.Principal{Kind: lockbox.KindService, Subject: "alice"}
	if user.Key() == svc.Key() {
		t.Errorf("a user and a service of the same name share key %q", user.Key())
	}
	if got, want := user.Key(), lockbox.UserKey("ALICE"); got != want {
		t.Errorf("got key %q, want %q", got, want)
	}
}

// An identity that holds control, format or invisible characters is
// refused where it enters (a requester's id, a token's sub, an approver's
// id), not only compared away.
func TestInvisibleIdentitiesRefused(t *testing.T) {
	for _, id := range []string{"ali\u034fce", "alice\ufe0f", "al\u3164ice", "al\u200dice", "\u00adalice", "alice\U000e0041",
		"al\u200bice", "al\u2060ice", "alice\u202e", "al\ufeffice", "al\u115fice", "al\uffa0ice", "a\u0000b", "a\u0085b",
		"al ice", "al\u00a0ice", "al\u2800ice"} {
		if lockbox.ValidRequesterID(id) {
			t.Errorf("ValidRequesterID(%q): got valid, want refused", id)
		}
		in := lockboxtest.Input(lockboxtest.Scenario{})
		in.Requester.ID = id
		if got := kind(in.Validate()); got != lockbox.KindInvalid {
			t.Errorf("requester.id %q: got %q, want invalid", id, got)
		}
		if _, err := lockbox.UserFromClaims(id, map[string]any{"tid": "contoso"}, "tid", "roles"); lockbox.KindOf(err) != lockbox.KindUnauthorized {
			t.Errorf("token sub %q: got %v, want unauthorized", id, err)
		}
		set := lockbox.DefaultSettings(true)
		set.Approvers = []lockbox.Approver{{ID: id, Email: "a@contoso.example"}}
		if got := kind(set.Validate(false)); got != lockbox.KindInvalid {
			t.Errorf("approvers[0].id %q: got %q, want invalid", id, got)
		}
	}
	for _, id := range []string{"alice", "Zo\u00eb", "\u00e9lodie.martin@contoso.example", "\u674e\u96f7", "eng-7"} {
		if !lockbox.ValidRequesterID(id) {
			t.Errorf("ValidRequesterID(%q): got refused, want valid", id)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	cases := map[string]string{
		"alice@contoso.example":         "a***@contoso.example",
		"a@contoso.example":             "a***@contoso.example",
		"Alice <alice@contoso.example>": "a***@contoso.example",
		"zoë@contoso.example":           "z***@contoso.example",
		"élodie@contoso.example":        "é***@contoso.example",
		"not an address":                "***",
		"@contoso.example":              "***",
		"alice@":                        "***",
		"":                              "***",
	}
	for in, want := range cases {
		if got := lockbox.MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q): got %q, want %q", in, got, want)
		}
	}
}

// Saving a document unchanged keeps each rule's author, whatever the rule
// holds: a rule with a schedule or missingSupportCaseUrl (pointers) once got
// a new author on every save, so an unrelated change by the admin made the
// rule theirs, and a request by its real author was auto-approved.
func TestUpdatedKeepsEachRuleAuthor(t *testing.T) {
	rules := func() []lockbox.Rule {
		return []lockbox.Rule{
			{Name: "after-hours", Effect: lockbox.EffectAutoDeny, Match: lockbox.RuleMatch{Schedule: lockboxtest.BusinessHours(true)}},
			{Name: "no-link", Effect: lockbox.EffectAutoDeny, Match: lockbox.RuleMatch{MissingSupportCaseURL: new(true)}},
			{Name: "reads", Effect: lockbox.EffectAutoApprove, Match: lockbox.RuleMatch{AccessLevels: []string{"Read"}}},
		}
	}
	prev := lockbox.DefaultSettings(true)
	prev.Rules = rules()
	for i := range prev.Rules {
		prev.Rules[i].UpdatedBy = "eng-7"
	}
	next := lockbox.DefaultSettings(true)
	next.Rules = rules() // the same rules, read back and sent again: new pointers
	next.RequiredApprovals = 2
	got, err := next.Updated(prev, "ada")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got.Rules {
		if r.UpdatedBy != "eng-7" {
			t.Errorf("rule %s: got updatedBy %q, want eng-7 (unchanged)", r.Name, r.UpdatedBy)
		}
	}
	if got, want := got.Changes(prev), "requiredApprovals 1 → 2"; got != want {
		t.Errorf("changes: got %q, want %q", got, want)
	}
	// A rule really changed is its new author's.
	next.Rules[0].Match.Schedule.To = "18:00"
	got, err = next.Updated(prev, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if got.Rules[0].UpdatedBy != "ada" || got.Rules[1].UpdatedBy != "eng-7" {
		t.Errorf("got authors %q, %q; want ada, eng-7", got.Rules[0].UpdatedBy, got.Rules[1].UpdatedBy)
	}
}

// Webhook URLs are credentials: only the tenant's admins see them whole.
func TestPublicSettingsMaskWebhookURLs(t *testing.T) {
	s := lockbox.DefaultSettings(true)
	s.Webhooks = []lockbox.Webhook{{ID: "chat", URL: "https://hooks.slack.com/services/T000/B000/XXXXXXXX", Format: lockbox.FormatSlack,
		Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNA=="}}
	if got, want := s.Public().Webhooks[0].URL, "https://hooks.slack.com/…"; got != want {
		t.Errorf("public: got %q, want %q", got, want)
	}
	admin := s.ForAdmin().Webhooks[0]
	if admin.URL != s.Webhooks[0].URL || admin.Secret != "" {
		t.Errorf("admin: got %+v, want the whole URL and no secret", admin)
	}
	if s.Webhooks[0].Secret == "" {
		t.Error("Public changed the settings it was given")
	}
}
