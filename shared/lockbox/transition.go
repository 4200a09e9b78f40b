package lockbox

import "time"

// Operation names of audit events (Azure Activity Log vocabulary).
const (
	OpCreate   = "CreateLockboxRequest"
	OpApprove  = "ApproveLockboxRequest"
	OpDeny     = "DenyLockboxRequest"
	OpExpire   = "ExpireLockboxRequest"
	OpComplete = "CompleteLockboxRequest"
)

// ActorKind says who caused an event.
type ActorKind string

// The actor kinds.
const (
	ActorEngineer ActorKind = "engineer"
	ActorApprover ActorKind = "approver"
	ActorSystem   ActorKind = "system"
)

// SystemActor is the id recorded for events Lockbox causes itself.
const SystemActor = "lockbox"

// Actor is who caused an event.
type Actor struct {
	Kind ActorKind `json:"kind"`
	ID   string    `json:"id"`
}

// Event is one entry of a tenant's audit log. Seq, PrevHash and Hash are
// assigned when the log is exported; the rest is written in the same atomic
// step as the state change it records.
type Event struct {
	Seq            uint64    `json:"seq"`
	Time           time.Time `json:"time"`
	TenantID       string    `json:"tenantId"`
	RequestID      string    `json:"requestId"`
	OperationName  string    `json:"operationName"`
	Actor          Actor     `json:"actor"`
	FromStatus     Status    `json:"fromStatus"`
	ToStatus       Status    `json:"toStatus"`
	Reason         string    `json:"reason"`
	SupportRequest string    `json:"supportRequest"`
	PrevHash       string    `json:"prevHash"`
	Hash           string    `json:"hash"`
}

func event(r Request, op string, actor Actor, from Status, reason string, now time.Time) Event {
	return Event{
		Time: now, TenantID: r.TenantID, RequestID: r.RequestID, OperationName: op, Actor: actor,
		FromStatus: from, ToStatus: r.Status, Reason: reason, SupportRequest: r.SupportRequest,
	}
}

// Created is the event that records r being filed.
func Created(r Request) Event {
	return event(r, OpCreate, Actor{ActorEngineer, r.Requester.ID}, "", "", r.CreatedDateTime)
}

// GrantFor returns how long an approval gives: the asked grant, shortened to
// durationHours when given, capped by lim.MaxAccessTTL.
func GrantFor(r Request, durationHours *int, lim Limits) (time.Duration, error) {
	grant := r.Grant
	if durationHours != nil {
		if *durationHours > r.Duration {
			return 0, Invalidf("duration may only shorten the %d hours asked for", r.Duration)
		}
		grant = time.Duration(*durationHours) * time.Hour
	}
	return min(grant, lim.MaxAccessTTL), nil
}

// Approve returns r approved by approver at now, and its event. r is judged as
// it stands at now (see Effective): it must be Pending, and the approver must
// not be its requester. The grant lasts GrantFor(r, durationHours, lim).
func Approve(r Request, approver, reason string, durationHours *int, now time.Time, lim Limits) (Request, Event, error) {
	if err := decidable(r, approver, "approve", now); err != nil {
		return r, Event{}, err
	}
	grant, err := GrantFor(r, durationHours, lim)
	if err != nil {
		return r, Event{}, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	until := now.Add(grant)
	r.Status, r.AccessActive = StatusApproved, true
	r.Decision = &Decision{By: approver, Reason: reason, DateTime: now}
	r.AccessExpirationDateTime = &until
	return r, event(r, OpApprove, Actor{ActorApprover, approver}, StatusPending, reason, now), nil
}

// Deny returns r denied by approver at now, and its event. The same rules as
// Approve decide whether r may be decided.
func Deny(r Request, approver, reason string, now time.Time) (Request, Event, error) {
	if err := decidable(r, approver, "deny", now); err != nil {
		return r, Event{}, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	r.Status, r.AccessActive = StatusDenied, false
	r.Decision = &Decision{By: approver, Reason: reason, DateTime: now}
	return r, event(r, OpDeny, Actor{ActorApprover, approver}, StatusPending, reason, now), nil
}

func decidable(r Request, approver, action string, now time.Time) error {
	if cur := r.Effective(now).Status; cur != StatusPending {
		return ErrWrongState(action, cur)
	}
	if approver == r.Requester.ID {
		return Errorf(KindForbidden, "SelfApproval", "nobody may decide a request they filed for themself")
	}
	return nil
}

// Settle records what time alone did to r by now: a Pending request past its
// window becomes Expired, an Approved one past its grant Completed. ok is
// false when nothing is due.
func Settle(r Request, now time.Time) (settled Request, ev Event, ok bool) {
	eff := r.Effective(now)
	if eff.Status == r.Status {
		return r, Event{}, false
	}
	op := OpExpire
	if eff.Status == StatusCompleted {
		op = OpComplete
	}
	return eff, event(eff, op, Actor{ActorSystem, SystemActor}, r.Status, "", now.UTC().Truncate(time.Millisecond)), true
}
