// Package lockboxtest holds the lifecycle scenarios that every implementation
// of the lockbox rules must pass: the pure domain functions and the Redis
// store run the same table, so the atomic scripts cannot drift from the rules.
package lockboxtest

import (
	"errors"
	"testing"
	"time"

	"lockbox.dev/shared/lockbox"
)

// System is an implementation of the lifecycle under test. Times passed in
// never go backwards within a scenario.
type System interface {
	// Create files a request as f describes.
	Create(t *testing.T, f Filing) lockbox.Request
	Act(id string, act lockbox.Act) (lockbox.Request, error)
	Get(id string, at time.Time) (lockbox.Request, error)
}

// Filing is how a scenario's request is filed.
type Filing struct {
	Input lockbox.CreateInput
	// Filer is who files it (lockbox.Request.FiledAs).
	Filer lockbox.Principal
	// Settings are the tenant's saved settings (nil: never saved);
	// DefaultEnabled is the deployment's default_enabled, which a tenant
	// that never saved settings has.
	Settings       *lockbox.Settings
	DefaultEnabled bool
	// Policy is the provider's policy (nil: none), which screens the
	// filing (lockbox.ProviderPolicy.Screen) before it is stored.
	Policy *lockbox.ProviderPolicy
	At     time.Time
}

// Step is one action of a scenario at an offset from the request's creation.
type Step struct {
	Comment string
	At      time.Duration
	// Do is an action ("approve", "deny", "revoke", "cancel") or "get".
	Do lockbox.Action
	// By is the sub of whoever acts; As the kind the audit log records
	// (approver unless set).
	By       string
	As       lockbox.ActorKind
	Duration *int
	// OnlyRequester restricts the act to requests of this requester.
	OnlyRequester string

	WantKind    lockbox.Kind   // "" when the step must succeed
	WantCode    string         // error code, when it matters
	WantStatus  lockbox.Status // status reported after the step (by Get)
	WantActive  bool           // accessActive reported after the step
	WantGrantAt time.Duration  // accessExpirationDateTime offset, when set
	// WantApprovals is how many approvals the request has after the step,
	// when it matters; WantDecisionBy who decided it, when it matters.
	WantApprovals  int
	WantDecisionBy string
}

// Get is the step action that only reads.
const Get lockbox.Action = "get"

// Scenario is a request's life: how it is filed, then what happens to it.
type Scenario struct {
	Name     string
	Duration *int // the duration asked for at creation
	// FiledBy is the sub of the user who filed it; "" for a signed
	// integration: the webhook secret of lockbox-create, or the intake
	// source of kind Intake.
	FiledBy string
	Intake  string
	// WorkItemSource is the workItemSource the filing names.
	WorkItemSource string
	// DefaultOff: the deployment's default_enabled is false (and the
	// tenant never saved settings unless Settings says otherwise).
	DefaultOff bool
	// Settings are the tenant's when the request is filed (nil: never
	// saved); FiledAt is when, after the scenarios' start (a Friday, 09:00
	// UTC), for rules with schedules.
	Settings *lockbox.Settings
	FiledAt  time.Duration
	// Policy is the provider's policy the filing passes (nil: none).
	Policy *lockbox.ProviderPolicy
	// Emergency, when set, files it as emergency access (break-glass).
	Emergency *lockbox.EmergencyInput
	Steps     []Step
}

// Requester and Approver are the actors of the scenarios.
const (
	Requester = "eng-7"
	Approver  = "alice@contoso.example"
)

// Hours returns a pointer to h, for optional durations.
func Hours(h int) *int { return &h }

// Tenant returns the default settings changed by f, for a scenario.
func Tenant(f func(s *lockbox.Settings)) *lockbox.Settings {
	s := lockbox.DefaultSettings(true)
	f(&s)
	return &s
}

// BusinessHours is a rule's weekly window: Monday to Friday, 09:00-17:00 in
// Berlin (Outside inverts it).
func BusinessHours(outside bool) *lockbox.Schedule {
	return &lockbox.Schedule{Timezone: "Europe/Berlin", Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"}, From: "09:00", To: "17:00", Outside: outside}
}

// Review is a provider policy whose one rule sends every filing to n
// provider-approvers first.
func Review(n int) *lockbox.ProviderPolicy {
	return &lockbox.ProviderPolicy{Rules: []lockbox.ProviderRule{{Name: "review", Require: lockbox.ProviderRequire{InternalApprovals: n}}},
		Identity: lockbox.DefaultIdentityChecks}
}

// BreakGlass is a provider policy whose one rule allows emergency access
// approved by n provider-approvers, for at most maxHours.
func BreakGlass(n, maxHours int) *lockbox.ProviderPolicy {
	return &lockbox.ProviderPolicy{Rules: []lockbox.ProviderRule{{Name: "break-glass",
		Emergency: &lockbox.EmergencyRule{Approvals: n, MaxDuration: maxHours}}}, Identity: lockbox.DefaultIdentityChecks}
}

// Incident is the emergency the break-glass scenarios file.
var Incident = &lockbox.EmergencyInput{Incident: "INC-9001", Reason: "region outage, the customer's approvers cannot be reached"}

// Leads are the provider-approvers of the scenarios.
const (
	Lead1 = "lead-1"
	Lead2 = "lead-2"
)

// Limits are the lifetimes the scenarios assume.
var Limits = lockbox.Limits{PendingTTL: 96 * time.Hour, AccessTTL: 8 * time.Hour, MaxAccessTTL: 24 * time.Hour}

const ms = time.Millisecond

// The actions, short.
const (
	approve  = lockbox.ActionApprove
	deny     = lockbox.ActionDeny
	revoke   = lockbox.ActionRevoke
	cancel   = lockbox.ActionCancel
	iApprove = lockbox.ActionInternalApprove
	iDeny    = lockbox.ActionInternalDeny
)

// Scenarios is the lifecycle table.
var Scenarios = []Scenario{
	{Name: "approve then grant runs out", Steps: []Step{
		{Comment: "fresh request is pending", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
		{Comment: "approver approves an hour later", At: time.Hour, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 9 * time.Hour},
		{Comment: "grant still live a millisecond before its end", At: 9*time.Hour - ms, Do: Get, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 9 * time.Hour},
		{Comment: "grant over at its end: completed", At: 9 * time.Hour, Do: Get, WantStatus: lockbox.StatusCompleted, WantGrantAt: 9 * time.Hour},
		{Comment: "a completed request cannot be decided again", At: 10 * time.Hour, Do: deny, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusCompleted, WantGrantAt: 9 * time.Hour},
	}},
	{Name: "deny is final", Steps: []Step{
		{Comment: "approver denies", At: time.Minute, Do: deny, By: Approver, WantStatus: lockbox.StatusDenied},
		{Comment: "approving afterwards conflicts", At: 2 * time.Minute, Do: approve, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusDenied},
		{Comment: "denying again conflicts", At: 3 * time.Minute, Do: deny, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusDenied},
	}},
	{Name: "window runs out", Steps: []Step{
		{Comment: "still pending a millisecond before 4 days", At: 96*time.Hour - ms, Do: Get, WantStatus: lockbox.StatusPending},
		{Comment: "expired at exactly 4 days, before any sweep", At: 96 * time.Hour, Do: Get, WantStatus: lockbox.StatusExpired},
		{Comment: "approving an expired request conflicts", At: 96 * time.Hour, Do: approve, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusExpired},
		{Comment: "denying it conflicts too", At: 97 * time.Hour, Do: deny, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusExpired},
		{Comment: "and so does canceling it", At: 97 * time.Hour, Do: cancel, By: Requester, As: lockbox.ActorEngineer, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusExpired},
	}},
	{Name: "approved at the last moment", Steps: []Step{
		{Comment: "approve a millisecond before the window closes", At: 96*time.Hour - ms, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 104*time.Hour - ms},
		{Comment: "the closed window no longer matters", At: 97 * time.Hour, Do: Get, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 104*time.Hour - ms},
	}},
	{Name: "self approval", Steps: []Step{
		{Comment: "the requester may not approve their own request", At: time.Minute, Do: approve, By: Requester, WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "nor deny it", At: time.Minute, Do: deny, By: Requester, WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "nor by spelling their id in upper case", At: time.Minute, Do: approve, By: "ENG-7", WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "another approver still can", At: 2 * time.Minute, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8*time.Hour + 2*time.Minute},
		{Comment: "the requester may not revoke it either", At: 3 * time.Minute, Do: revoke, By: Requester, WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8*time.Hour + 2*time.Minute},
	}},
	{Name: "self approval in another Unicode form", FiledBy: "Zoë", Steps: []Step{
		{Comment: "filed by Zoë (NFC); Zoë spelt decomposed (NFD) and upper case may not approve it", At: time.Minute, Do: approve, By: "ZOE\u0308", WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "nor deny it", At: time.Minute, Do: deny, By: "zoe\u0308", WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
	}},
	{Name: "self approval in a compatibility or invisible spelling", Steps: []Step{
		{Comment: "eng-7 spelt in fullwidth letters may not approve their own request", At: time.Minute, Do: approve, By: "\uff45\uff4e\uff47-7", WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "nor with a combining grapheme joiner inside", At: time.Minute, Do: deny, By: "en\u034fg-7", WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
	}},
	{Name: "whoever filed may not decide", FiledBy: "olga", Steps: []Step{
		{Comment: "olga filed it for eng-7 (an operator who is also an approver): she may not approve it", At: time.Minute, Do: approve, By: "olga", WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "an approver who did not file it may", At: time.Minute, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8*time.Hour + time.Minute},
		{Comment: "nor may she revoke it", At: 2 * time.Minute, Do: revoke, By: "Olga", WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8*time.Hour + time.Minute},
	}},
	{Name: "approval shortens the grant", Duration: Hours(6), Steps: []Step{
		{Comment: "asking for more than requested is refused", At: 0, Do: approve, By: Approver, Duration: Hours(7), WantKind: lockbox.KindInvalid, WantStatus: lockbox.StatusPending},
		{Comment: "two of the six hours", At: 0, Do: approve, By: Approver, Duration: Hours(2), WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 2 * time.Hour},
		{Comment: "over after two hours", At: 2 * time.Hour, Do: Get, WantStatus: lockbox.StatusCompleted, WantGrantAt: 2 * time.Hour},
	}},
	{Name: "grant capped by max_access_ttl", Duration: Hours(72), Steps: []Step{
		{Comment: "72 hours asked, 24 granted", At: 0, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 24 * time.Hour},
		{Comment: "over after 24 hours", At: 24 * time.Hour, Do: Get, WantStatus: lockbox.StatusCompleted, WantGrantAt: 24 * time.Hour},
	}},
	{Name: "revoke ends a live grant", Steps: []Step{
		{Comment: "revoking a pending request conflicts", At: 0, Do: revoke, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusPending},
		{Comment: "approved", At: time.Hour, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 9 * time.Hour},
		{Comment: "revoked two hours in: the grant ends now", At: 3 * time.Hour, Do: revoke, By: "bob", As: lockbox.ActorAdmin, WantStatus: lockbox.StatusRevoked, WantGrantAt: 3 * time.Hour},
		{Comment: "revoking again conflicts", At: 4 * time.Hour, Do: revoke, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusRevoked, WantGrantAt: 3 * time.Hour},
		{Comment: "revoked stays revoked after the grant's first end", At: 10 * time.Hour, Do: Get, WantStatus: lockbox.StatusRevoked, WantGrantAt: 3 * time.Hour},
	}},
	{Name: "a completed grant cannot be revoked", Steps: []Step{
		{Comment: "approved", At: 0, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8 * time.Hour},
		{Comment: "at its end the grant is completed: revoking conflicts", At: 8 * time.Hour, Do: revoke, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusCompleted, WantGrantAt: 8 * time.Hour},
	}},
	{Name: "cancel withdraws a pending request", Steps: []Step{
		{Comment: "another requester's cancel does not find it", At: time.Minute, Do: cancel, By: "eng-8", As: lockbox.ActorEngineer, OnlyRequester: "eng-8", WantKind: lockbox.KindNotFound},
		{Comment: "the requester cancels it", At: time.Minute, Do: cancel, By: Requester, As: lockbox.ActorEngineer, OnlyRequester: Requester, WantStatus: lockbox.StatusCanceled},
		{Comment: "approving a canceled request conflicts", At: 2 * time.Minute, Do: approve, By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusCanceled},
		{Comment: "canceling again conflicts", At: 3 * time.Minute, Do: cancel, By: Requester, As: lockbox.ActorEngineer, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusCanceled},
		{Comment: "canceled stays canceled after the window", At: 97 * time.Hour, Do: Get, WantStatus: lockbox.StatusCanceled},
	}},
	{Name: "an approved request cannot be canceled", Steps: []Step{
		{Comment: "approved", At: 0, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8 * time.Hour},
		{Comment: "canceling conflicts: revoke ends a grant", At: time.Minute, Do: cancel, By: Requester, As: lockbox.ActorEngineer, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8 * time.Hour},
	}},
	{Name: "two approvers needed", Settings: Tenant(func(s *lockbox.Settings) { s.RequiredApprovals = 2 }), Steps: []Step{
		{Comment: "the first approval is a step: still pending", At: time.Minute, Do: approve, By: Approver, WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "the same approver again conflicts", At: 2 * time.Minute, Do: approve, By: Approver, WantKind: lockbox.KindConflict, WantCode: "AlreadyApproved", WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "nor under another spelling", At: 2 * time.Minute, Do: approve, By: "ALICE@Contoso.example", WantKind: lockbox.KindConflict, WantCode: "AlreadyApproved", WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "nor in fullwidth letters", At: 2 * time.Minute, Do: approve, By: "\uff41\uff4c\uff49\uff43\uff45@contoso.example", WantKind: lockbox.KindConflict, WantCode: "AlreadyApproved", WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "nor with invisible characters (a variation selector, a Hangul filler)", At: 2 * time.Minute, Do: approve, By: "alice\ufe0f@contoso.\u3164example", WantKind: lockbox.KindConflict, WantCode: "AlreadyApproved", WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "the requester still may not", At: 2 * time.Minute, Do: approve, By: Requester, WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "a second approver, allowing three hours, completes the quorum", At: time.Hour, Do: approve, By: "bob", Duration: Hours(3), WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 4 * time.Hour, WantApprovals: 2, WantDecisionBy: "bob"},
		{Comment: "over after the shortest duration given", At: 4 * time.Hour, Do: Get, WantStatus: lockbox.StatusCompleted, WantGrantAt: 4 * time.Hour, WantApprovals: 2},
	}},
	{Name: "quorum: the shortest duration any approver gave", Duration: Hours(6), Settings: Tenant(func(s *lockbox.Settings) { s.RequiredApprovals = 2 }), Steps: []Step{
		{Comment: "alice allows two of the six hours", At: 0, Do: approve, By: Approver, Duration: Hours(2), WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "bob allows all six: the grant lasts two", At: time.Hour, Do: approve, By: "bob", WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 3 * time.Hour, WantApprovals: 2},
	}},
	{Name: "quorum: one deny denies", Settings: Tenant(func(s *lockbox.Settings) { s.RequiredApprovals = 3 }), Steps: []Step{
		{Comment: "one approval", At: 0, Do: approve, By: Approver, WantStatus: lockbox.StatusPending, WantApprovals: 1},
		{Comment: "a deny by another approver denies", At: time.Minute, Do: deny, By: "bob", WantStatus: lockbox.StatusDenied, WantApprovals: 1, WantDecisionBy: "bob"},
		{Comment: "approving afterwards conflicts", At: 2 * time.Minute, Do: approve, By: "carol", WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusDenied, WantApprovals: 1},
	}},
	{Name: "the tenant's maxDuration caps the grant", Duration: Hours(6), Settings: Tenant(func(s *lockbox.Settings) { s.MaxDuration = Hours(2) }), Steps: []Step{
		{Comment: "six hours asked, the tenant allows two", At: 0, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 2 * time.Hour, WantApprovals: 1},
	}},
	{Name: "Lockbox off: approved at once by the system", Settings: Tenant(func(s *lockbox.Settings) { s.Enabled, s.UpdatedBy = false, "ada" }), Steps: []Step{
		{Comment: "the request is approved when it is filed, by the system", At: 0, Do: Get, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8 * time.Hour, WantDecisionBy: lockbox.SystemActor},
		{Comment: "an approver can still revoke it", At: time.Hour, Do: revoke, By: Approver, WantStatus: lockbox.StatusRevoked, WantGrantAt: time.Hour, WantDecisionBy: lockbox.SystemActor},
	}},
	{Name: "Lockbox off does not approve for whoever turned it off", FiledBy: "olga", Settings: Tenant(func(s *lockbox.Settings) { s.Enabled, s.UpdatedBy = false, "Olga" }), Steps: []Step{
		{Comment: "olga turned Lockbox off and filed this: it waits for people", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
	}},
	{Name: "Lockbox off by the deployment's default alone approves nothing", DefaultOff: true, Steps: []Step{
		{Comment: "default_enabled=false, and no admin of the tenant turned Lockbox off: the request waits for people", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
		{Comment: "an approver decides it", At: time.Minute, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8*time.Hour + time.Minute, WantDecisionBy: Approver},
	}},
	{Name: "Lockbox off does not approve for its author under another spelling", FiledBy: "\uff4f\uff4c\uff47\uff41", Settings: Tenant(func(s *lockbox.Settings) { s.Enabled, s.UpdatedBy = false, "Olga" }), Steps: []Step{
		{Comment: "Olga turned Lockbox off; she files in fullwidth letters: it waits for people", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
	}},
	{Name: "a rule auto-approves reads of virtual machines", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "vm-reads", Effect: lockbox.EffectAutoApprove, Match: lockbox.RuleMatch{
			ResourceTypes: []string{"microsoft.compute/virtualmachines"}, AccessLevels: []string{"READ"}}}}
	}), Steps: []Step{
		{Comment: "matched (case-insensitively): approved at once by the rule", At: 0, Do: Get, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8 * time.Hour, WantDecisionBy: "rule:vm-reads"},
	}},
	{Name: "a rule does not approve for the requester who wrote it", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "all", Effect: lockbox.EffectAutoApprove, UpdatedBy: "ENG-7"}}
	}), Steps: []Step{
		{Comment: "eng-7 wrote the rule: their request waits", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
	}},
	{Name: "a rule does not approve for its author under a compatibility spelling", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "all", Effect: lockbox.EffectAutoApprove, UpdatedBy: "\uff25\uff2e\uff27-7"}}
	}), Steps: []Step{
		{Comment: "ＥＮＧ-7 (fullwidth) is eng-7: their request waits", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
	}},
	{Name: "a work item source asserted by the signed webhook matches", WorkItemSource: "ServiceNow", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "snow", Effect: lockbox.EffectAutoApprove, Match: lockbox.RuleMatch{WorkItemSources: []string{"servicenow"}}}}
	}), Steps: []Step{
		{Comment: "the webhook secret signed workItemSource ServiceNow: approved by the rule", At: 0, Do: Get, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8 * time.Hour, WantDecisionBy: "rule:snow"},
	}},
	{Name: "a work item source typed with a person's token matches nothing", FiledBy: "eng-7", WorkItemSource: "ServiceNow", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "snow", Effect: lockbox.EffectAutoApprove, Match: lockbox.RuleMatch{WorkItemSources: []string{"ServiceNow"}}}}
	}), Steps: []Step{
		{Comment: "the engineer's own token says ServiceNow: the rule does not match, the request waits", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
	}},
	{Name: "an intake source asserts its kind, not the ticket's words", Intake: "jira", WorkItemSource: "ServiceNow", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{
			{Name: "snow", Effect: lockbox.EffectAutoApprove, Match: lockbox.RuleMatch{WorkItemSources: []string{"ServiceNow"}}},
			{Name: "jira-reads", Effect: lockbox.EffectAutoDeny, Match: lockbox.RuleMatch{WorkItemSources: []string{"jira"}}},
		}
	}), Steps: []Step{
		{Comment: "a Jira source maps workItemSource ServiceNow from the ticket: only the jira rule matches", At: 0, Do: Get, WantStatus: lockbox.StatusDenied, WantDecisionBy: "rule:jira-reads"},
	}},
	{Name: "first match wins", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{
			{Name: "other-engineer", Effect: lockbox.EffectAutoApprove, Match: lockbox.RuleMatch{RequesterIDs: []string{"eng-9"}}},
			{Name: "no-case-link", Effect: lockbox.EffectAutoDeny, Match: lockbox.RuleMatch{MissingSupportCaseURL: new(true)}},
			{Name: "everything", Effect: lockbox.EffectAutoApprove},
		}
	}), Steps: []Step{
		{Comment: "no support case link: the second rule denies", At: 0, Do: Get, WantStatus: lockbox.StatusDenied, WantDecisionBy: "rule:no-case-link"},
	}},
	{Name: "a rule denies outside business hours", FiledAt: 24 * time.Hour, Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "after-hours", Effect: lockbox.EffectAutoDeny, Match: lockbox.RuleMatch{Schedule: BusinessHours(true)}}}
	}), Steps: []Step{
		{Comment: "filed on Saturday, 10:00 in Berlin: denied by the rule", At: 0, Do: Get, WantStatus: lockbox.StatusDenied, WantDecisionBy: "rule:after-hours"},
	}},
	{Name: "the same rule leaves business hours alone", Settings: Tenant(func(s *lockbox.Settings) {
		s.Rules = []lockbox.Rule{{Name: "after-hours", Effect: lockbox.EffectAutoDeny, Match: lockbox.RuleMatch{Schedule: BusinessHours(true)}}}
	}), Steps: []Step{
		{Comment: "filed on Friday, 10:00 in Berlin: pending", At: 0, Do: Get, WantStatus: lockbox.StatusPending},
	}},
	{Name: "internal review: two provider approvals release it, the window starts then", Policy: Review(2), Steps: []Step{
		{Comment: "filed for internal review", At: 0, Do: Get, WantStatus: lockbox.StatusInternalReview},
		{Comment: "the customer cannot decide it yet", At: time.Minute, Do: approve, By: Approver, WantKind: lockbox.KindConflict,
			WantStatus: lockbox.StatusInternalReview},
		{Comment: "the requester never reviews their own", At: time.Minute, Do: iApprove, By: Requester, WantKind: lockbox.KindForbidden,
			WantStatus: lockbox.StatusInternalReview},
		{Comment: "first provider approval", At: time.Hour, Do: iApprove, By: Lead1, WantStatus: lockbox.StatusInternalReview},
		{Comment: "the same lead twice", At: time.Hour, Do: iApprove, By: "LEAD-1", WantKind: lockbox.KindConflict,
			WantCode: "AlreadyApproved", WantStatus: lockbox.StatusInternalReview},
		{Comment: "second provider approval releases it", At: 2 * time.Hour, Do: iApprove, By: Lead2, WantStatus: lockbox.StatusPending},
		{Comment: "still pending 96h after the release, not after filing", At: 98*time.Hour - ms, Do: Get, WantStatus: lockbox.StatusPending},
		{Comment: "the customer approves in time", At: 98*time.Hour - ms, Do: approve, By: Approver, WantStatus: lockbox.StatusApproved,
			WantActive: true, WantGrantAt: 106*time.Hour - ms, WantApprovals: 1},
	}},
	{Name: "internal review: released pending expires 96h after the release", Policy: Review(1), Steps: []Step{
		{Comment: "released after 3h", At: 3 * time.Hour, Do: iApprove, By: Lead1, WantStatus: lockbox.StatusPending},
		{Comment: "expired at the release's 96h", At: 99 * time.Hour, Do: Get, WantStatus: lockbox.StatusExpired},
	}},
	{Name: "internal review: unreviewed in 24h expires", Policy: Review(1), Steps: []Step{
		{Comment: "a millisecond before", At: 24*time.Hour - ms, Do: Get, WantStatus: lockbox.StatusInternalReview},
		{Comment: "expired at 24h", At: 24 * time.Hour, Do: Get, WantStatus: lockbox.StatusExpired},
		{Comment: "too late to approve", At: 24 * time.Hour, Do: iApprove, By: Lead1, WantKind: lockbox.KindConflict,
			WantStatus: lockbox.StatusExpired},
	}},
	{Name: "internal review: a provider deny ends it", Policy: Review(2), Steps: []Step{
		{Comment: "one approves", At: time.Minute, Do: iApprove, By: Lead1, WantStatus: lockbox.StatusInternalReview},
		{Comment: "another denies: denied whatever came before", At: time.Hour, Do: iDeny, By: Lead2, WantStatus: lockbox.StatusDenied,
			WantDecisionBy: Lead2},
		{Comment: "nothing after", At: time.Hour, Do: iApprove, By: "lead-3", WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusDenied},
	}},
	{Name: "internal review: the engineer withdraws it before the customer is asked", Policy: Review(1), Steps: []Step{
		{Comment: "cancel while in review", At: time.Minute, Do: cancel, By: Requester, As: lockbox.ActorEngineer, OnlyRequester: Requester,
			WantStatus: lockbox.StatusCanceled},
		{Comment: "nothing to approve after", At: time.Hour, Do: iApprove, By: Lead1, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusCanceled},
	}},
	{Name: "internal review: the tenant's automatic approval waits for the release", Policy: Review(1),
		Settings: Tenant(func(s *lockbox.Settings) { s.Enabled = false; s.UpdatedBy = "admin" }), Steps: []Step{
			{Comment: "held for review, not approved at once", At: 0, Do: Get, WantStatus: lockbox.StatusInternalReview},
			{Comment: "the release applies Lockbox off", At: time.Hour, Do: iApprove, By: Lead1, WantStatus: lockbox.StatusApproved,
				WantActive: true, WantGrantAt: 9 * time.Hour, WantDecisionBy: lockbox.SystemActor},
		}},
	{Name: "break-glass: two provider approvals make it live at once, for the hours asked", Policy: BreakGlass(2, 4),
		Duration: Hours(2), Emergency: Incident, Steps: []Step{
			{Comment: "filed for the provider's approvers", At: 0, Do: Get, WantStatus: lockbox.StatusInternalReview},
			{Comment: "the customer is not asked", At: time.Minute, Do: approve, By: Approver, WantKind: lockbox.KindConflict,
				WantStatus: lockbox.StatusInternalReview},
			{Comment: "the requester never lets themself in", At: time.Minute, Do: iApprove, By: Requester, WantKind: lockbox.KindForbidden,
				WantStatus: lockbox.StatusInternalReview},
			{Comment: "first provider approval", At: 10 * time.Minute, Do: iApprove, By: Lead1, WantStatus: lockbox.StatusInternalReview},
			{Comment: "the same lead twice", At: 11 * time.Minute, Do: iApprove, By: "LEAD-1", WantKind: lockbox.KindConflict,
				WantStatus: lockbox.StatusInternalReview},
			{Comment: "the second makes it live at once", At: 20 * time.Minute, Do: iApprove, By: Lead2, WantStatus: lockbox.StatusApproved,
				WantActive: true, WantGrantAt: 2*time.Hour + 20*time.Minute, WantDecisionBy: Lead2},
			{Comment: "live until its hours end", At: 2*time.Hour + 20*time.Minute - ms, Do: Get, WantStatus: lockbox.StatusApproved, WantActive: true,
				WantGrantAt: 2*time.Hour + 20*time.Minute},
			{Comment: "then completed", At: 2*time.Hour + 20*time.Minute, Do: Get, WantStatus: lockbox.StatusCompleted,
				WantGrantAt: 2*time.Hour + 20*time.Minute},
		}},
	{Name: "break-glass: the tenant's Lockbox being off decides nothing", Policy: BreakGlass(1, 4), Duration: Hours(1), Emergency: Incident,
		Settings: Tenant(func(s *lockbox.Settings) { s.Enabled = false; s.UpdatedBy = "admin" }), Steps: []Step{
			{Comment: "held for the provider's approver", At: 0, Do: Get, WantStatus: lockbox.StatusInternalReview},
			{Comment: "the provider's approver lets it in", At: time.Hour, Do: iApprove, By: Lead1, WantStatus: lockbox.StatusApproved,
				WantActive: true, WantGrantAt: 2 * time.Hour, WantDecisionBy: Lead1},
			{Comment: "the customer revokes it", At: 90 * time.Minute, Do: revoke, By: Approver, WantStatus: lockbox.StatusRevoked,
				WantGrantAt: 90 * time.Minute},
		}},
	{Name: "break-glass: a provider deny ends it", Policy: BreakGlass(2, 4), Duration: Hours(1), Emergency: Incident, Steps: []Step{
		{Comment: "one approves", At: time.Minute, Do: iApprove, By: Lead1, WantStatus: lockbox.StatusInternalReview},
		{Comment: "another denies", At: 2 * time.Minute, Do: iDeny, By: Lead2, WantStatus: lockbox.StatusDenied, WantDecisionBy: Lead2},
		{Comment: "nothing after", At: 3 * time.Minute, Do: iApprove, By: "lead-3", WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusDenied},
	}},
	{Name: "unknown request", Steps: []Step{
		{Comment: "approving an unknown id is not found", At: 0, Do: approve, By: Approver, WantKind: lockbox.KindNotFound},
	}},
}

// Input returns the create input a scenario files.
func Input(s Scenario) lockbox.CreateInput {
	return lockbox.CreateInput{
		TenantID: "contoso", ResourceType: "Microsoft.Compute/virtualMachines",
		ResourceIDs: []string{"vm-1"}, AccessLevel: "Read", Justification: "disk latency, case INC-1001",
		SupportRequest: "INC-1001", Requester: lockbox.Requester{ID: Requester, DisplayName: "Eng Seven"},
		Duration: s.Duration, WorkItemSource: s.WorkItemSource, Emergency: s.Emergency,
	}
}

// Filer returns whoever files a scenario's request.
func Filer(s Scenario) lockbox.Principal {
	switch {
	case s.Intake != "":
		return lockbox.Principal{Kind: lockbox.KindService, Subject: "intake:" + s.Intake + "-prod", Source: s.Intake}
	case s.FiledBy == "":
		return lockbox.Principal{Kind: lockbox.KindService, Subject: lockbox.FiledViaWebhook}
	}
	return lockbox.Principal{Kind: lockbox.KindUser, Subject: s.FiledBy, TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleOperator}}
}

// FilingOf is how sc's request is filed, at at.
func FilingOf(sc Scenario, at time.Time) Filing {
	return Filing{Input: Input(sc), Filer: Filer(sc), Settings: sc.Settings, DefaultEnabled: !sc.DefaultOff, Policy: sc.Policy, At: at}
}

// ActOf is the act a step describes, at at.
func ActOf(st Step, at time.Time) lockbox.Act {
	kind := st.As
	if kind == "" {
		kind = lockbox.ActorApprover
	}
	act := lockbox.Act{Action: st.Do, Actor: lockbox.Actor{Kind: kind, ID: st.By}, Principal: lockbox.UserKey(st.By),
		Reason: "step reason", Duration: st.Duration, At: at}
	if st.OnlyRequester != "" {
		act.OnlyRequester = lockbox.UserKey(st.OnlyRequester)
	}
	return act
}

// Run plays every scenario against the system newSystem returns (one fresh
// system per scenario), starting each at start.
func Run(t *testing.T, start time.Time, newSystem func(t *testing.T) System) {
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			sys := newSystem(t)
			start := start.Add(sc.FiledAt)
			req := sys.Create(t, FilingOf(sc, start))
			id := req.RequestID
			if sc.Name == "unknown request" {
				id = "00000000-0000-4000-8000-000000000000"
			}
			for i, st := range sc.Steps {
				at := start.Add(st.At)
				var err error
				if st.Do == Get {
					_, err = sys.Get(id, at)
				} else {
					_, err = sys.Act(id, ActOf(st, at))
				}
				checkErr(t, i, st, err)
				if st.WantKind == lockbox.KindNotFound && sc.Name == "unknown request" {
					continue
				}
				got, err := sys.Get(id, at)
				if err != nil {
					t.Fatalf("step %d (%s): get: %v", i, st.Comment, err)
				}
				if st.WantKind == lockbox.KindNotFound {
					continue
				}
				checkState(t, i, st, start, got)
				checkProgress(t, i, st, got)
			}
		})
	}
}

func checkErr(t *testing.T, i int, st Step, err error) {
	t.Helper()
	if st.WantKind == "" {
		if err != nil {
			t.Fatalf("step %d (%s): got error %v, want success", i, st.Comment, err)
		}
		return
	}
	if got := lockbox.KindOf(err); got != st.WantKind {
		t.Fatalf("step %d (%s): got kind %q (%v), want %q", i, st.Comment, got, err, st.WantKind)
	}
	var le *lockbox.Error
	errors.As(err, &le)
	if st.WantCode != "" && le.Code != st.WantCode {
		t.Fatalf("step %d (%s): got code %q, want %q", i, st.Comment, le.Code, st.WantCode)
	}
	if st.WantKind == lockbox.KindConflict && le.CurrentStatus != st.WantStatus {
		t.Fatalf("step %d (%s): got currentStatus %q, want %q", i, st.Comment, le.CurrentStatus, st.WantStatus)
	}
}

func checkState(t *testing.T, i int, st Step, start time.Time, got lockbox.Request) {
	t.Helper()
	if got.Status != st.WantStatus || got.AccessActive != st.WantActive {
		t.Fatalf("step %d (%s): got %s active=%v, want %s active=%v", i, st.Comment, got.Status, got.AccessActive, st.WantStatus, st.WantActive)
	}
	if st.WantGrantAt == 0 {
		if got.AccessExpirationDateTime != nil {
			t.Fatalf("step %d (%s): got accessExpirationDateTime %v, want none", i, st.Comment, got.AccessExpirationDateTime)
		}
		return
	}
	want := start.Add(st.WantGrantAt)
	if got.AccessExpirationDateTime == nil || !got.AccessExpirationDateTime.Equal(want) {
		t.Fatalf("step %d (%s): got accessExpirationDateTime %v, want %v", i, st.Comment, got.AccessExpirationDateTime, want)
	}
}

func checkProgress(t *testing.T, i int, st Step, got lockbox.Request) {
	t.Helper()
	if len(got.Approvals) != st.WantApprovals && (st.WantApprovals > 0 || got.RequiredApprovals > 1) {
		t.Fatalf("step %d (%s): got %d approvals, want %d", i, st.Comment, len(got.Approvals), st.WantApprovals)
	}
	if st.WantDecisionBy != "" && (got.Decision == nil || got.Decision.By != st.WantDecisionBy) {
		t.Fatalf("step %d (%s): got decision %+v, want one by %s", i, st.Comment, got.Decision, st.WantDecisionBy)
	}
}

// Decision is the act of an approver (or, for revoke, whoever by is)
// deciding: action by by for reason at at, shortened to durationHours when
// given.
func Decision(action lockbox.Action, by, reason string, durationHours *int, at time.Time) lockbox.Act {
	return lockbox.Act{Action: action, Actor: lockbox.Actor{Kind: lockbox.ActorApprover, ID: by}, Principal: lockbox.UserKey(by),
		Reason: reason, Duration: durationHours, At: at}
}
