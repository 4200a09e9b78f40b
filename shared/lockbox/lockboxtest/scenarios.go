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
	Create(t *testing.T, in lockbox.CreateInput, at time.Time) lockbox.Request
	Approve(id, by, reason string, durationHours *int, at time.Time) (lockbox.Request, error)
	Deny(id, by, reason string, at time.Time) (lockbox.Request, error)
	Get(id string, at time.Time) (lockbox.Request, error)
}

// Step is one action of a scenario at an offset from the request's creation.
type Step struct {
	Comment  string
	At       time.Duration
	Do       string // "approve", "deny" or "get"
	By       string
	Duration *int

	WantKind    lockbox.Kind   // "" when the step must succeed
	WantCode    string         // error code, when it matters
	WantStatus  lockbox.Status // status reported after the step (by Get)
	WantActive  bool           // accessActive reported after the step
	WantGrantAt time.Duration  // accessExpirationDateTime offset, when approved
}

// Scenario is a request's life: how it is filed, then what happens to it.
type Scenario struct {
	Name     string
	Duration *int // the duration asked for at creation
	Steps    []Step
}

// Requester and Approver are the actors of the scenarios.
const (
	Requester = "eng-7"
	Approver  = "alice@contoso.example"
)

// Hours returns a pointer to h, for optional durations.
func Hours(h int) *int { return &h }

// Limits are the lifetimes the scenarios assume.
var Limits = lockbox.Limits{PendingTTL: 96 * time.Hour, AccessTTL: 8 * time.Hour, MaxAccessTTL: 24 * time.Hour}

const ms = time.Millisecond

// Scenarios is the lifecycle table.
var Scenarios = []Scenario{
	{Name: "approve then grant runs out", Steps: []Step{
		{Comment: "fresh request is pending", At: 0, Do: "get", WantStatus: lockbox.StatusPending},
		{Comment: "approver approves an hour later", At: time.Hour, Do: "approve", By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 9 * time.Hour},
		{Comment: "grant still live a millisecond before its end", At: 9*time.Hour - ms, Do: "get", WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 9 * time.Hour},
		{Comment: "grant over at its end: completed", At: 9 * time.Hour, Do: "get", WantStatus: lockbox.StatusCompleted, WantGrantAt: 9 * time.Hour},
		{Comment: "a completed request cannot be decided again", At: 10 * time.Hour, Do: "deny", By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusCompleted, WantGrantAt: 9 * time.Hour},
	}},
	{Name: "deny is final", Steps: []Step{
		{Comment: "approver denies", At: time.Minute, Do: "deny", By: Approver, WantStatus: lockbox.StatusDenied},
		{Comment: "approving afterwards conflicts", At: 2 * time.Minute, Do: "approve", By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusDenied},
		{Comment: "denying again conflicts", At: 3 * time.Minute, Do: "deny", By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusDenied},
	}},
	{Name: "window runs out", Steps: []Step{
		{Comment: "still pending a millisecond before 4 days", At: 96*time.Hour - ms, Do: "get", WantStatus: lockbox.StatusPending},
		{Comment: "expired at exactly 4 days, before any sweep", At: 96 * time.Hour, Do: "get", WantStatus: lockbox.StatusExpired},
		{Comment: "approving an expired request conflicts", At: 96 * time.Hour, Do: "approve", By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusExpired},
		{Comment: "denying it conflicts too", At: 97 * time.Hour, Do: "deny", By: Approver, WantKind: lockbox.KindConflict, WantStatus: lockbox.StatusExpired},
	}},
	{Name: "approved at the last moment", Steps: []Step{
		{Comment: "approve a millisecond before the window closes", At: 96*time.Hour - ms, Do: "approve", By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 104*time.Hour - ms},
		{Comment: "the closed window no longer matters", At: 97 * time.Hour, Do: "get", WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 104*time.Hour - ms},
	}},
	{Name: "self approval", Steps: []Step{
		{Comment: "the requester may not approve their own request", At: time.Minute, Do: "approve", By: Requester, WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "nor deny it", At: time.Minute, Do: "deny", By: Requester, WantKind: lockbox.KindForbidden, WantCode: "SelfApproval", WantStatus: lockbox.StatusPending},
		{Comment: "another approver still can", At: 2 * time.Minute, Do: "approve", By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 8*time.Hour + 2*time.Minute},
	}},
	{Name: "approval shortens the grant", Duration: Hours(6), Steps: []Step{
		{Comment: "asking for more than requested is refused", At: 0, Do: "approve", By: Approver, Duration: Hours(7), WantKind: lockbox.KindInvalid, WantStatus: lockbox.StatusPending},
		{Comment: "two of the six hours", At: 0, Do: "approve", By: Approver, Duration: Hours(2), WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 2 * time.Hour},
		{Comment: "over after two hours", At: 2 * time.Hour, Do: "get", WantStatus: lockbox.StatusCompleted, WantGrantAt: 2 * time.Hour},
	}},
	{Name: "grant capped by max_access_ttl", Duration: Hours(72), Steps: []Step{
		{Comment: "72 hours asked, 24 granted", At: 0, Do: "approve", By: Approver, WantStatus: lockbox.StatusApproved, WantActive: true, WantGrantAt: 24 * time.Hour},
		{Comment: "over after 24 hours", At: 24 * time.Hour, Do: "get", WantStatus: lockbox.StatusCompleted, WantGrantAt: 24 * time.Hour},
	}},
	{Name: "unknown request", Steps: []Step{
		{Comment: "approving an unknown id is not found", At: 0, Do: "approve", By: Approver, WantKind: lockbox.KindNotFound},
	}},
}

// Input returns the create input a scenario files.
func Input(s Scenario) lockbox.CreateInput {
	return lockbox.CreateInput{
		TenantID: "contoso", ResourceType: "Microsoft.Compute/virtualMachines",
		ResourceIDs: []string{"vm-1"}, AccessLevel: "Read", Justification: "disk latency, case INC-1001",
		SupportRequest: "INC-1001", Requester: lockbox.Requester{ID: Requester, DisplayName: "Eng Seven"},
		Duration: s.Duration,
	}
}

// Run plays every scenario against the system newSystem returns (one fresh
// system per scenario), starting each at start.
func Run(t *testing.T, start time.Time, newSystem func(t *testing.T) System) {
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			sys := newSystem(t)
			req := sys.Create(t, Input(sc), start)
			id := req.RequestID
			if sc.Name == "unknown request" {
				id = "00000000-0000-4000-8000-000000000000"
			}
			for i, st := range sc.Steps {
				at := start.Add(st.At)
				var err error
				switch st.Do {
				case "approve":
					_, err = sys.Approve(id, st.By, "checked the case", st.Duration, at)
				case "deny":
					_, err = sys.Deny(id, st.By, "not needed", at)
				case "get":
					_, err = sys.Get(id, at)
				default:
					t.Fatalf("step %d: unknown action %q", i, st.Do)
				}
				checkErr(t, i, st, err)
				if st.WantKind == lockbox.KindNotFound {
					continue
				}
				got, err := sys.Get(id, at)
				if err != nil {
					t.Fatalf("step %d (%s): get: %v", i, st.Comment, err)
				}
				checkState(t, i, st, start, got)
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
