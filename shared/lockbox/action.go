package lockbox

import (
	"slices"
	"time"
)

// Action is something done to a request.
type Action string

// The actions. Approve, deny, revoke and cancel are done by people or
// systems; autoApprove and autoDeny by a tenant's settings when a request is
// filed; expire and complete by time (the sweep records them).
const (
	ActionApprove     Action = "approve"
	ActionDeny        Action = "deny"
	ActionRevoke      Action = "revoke"
	ActionCancel      Action = "cancel"
	ActionAutoApprove Action = "autoApprove"
	ActionAutoDeny    Action = "autoDeny"
	ActionExpire      Action = "expire"
	ActionComplete    Action = "complete"
	// ActionInternalApprove and ActionInternalDeny are the provider's
	// internal review (role lockbox.provider-approver): once the policy's
	// internalApprovals approved, the request goes to the customer
	// (Pending). ActionExpireReview is a review nobody finished in time.
	ActionInternalApprove Action = "internalApprove"
	ActionInternalDeny    Action = "internalDeny"
	ActionExpireReview    Action = "expireReview"
	// ActionCancelReview is a cancel of a request still in internal review
	// (the engineer withdraws it, or its ticket closes): asked as
	// ActionCancel, it tells the customer nothing.
	ActionCancelReview Action = "cancelReview"
	// ActionEmergencyApprove is a provider-approver's approval of
	// emergency access (break-glass), asked as ActionInternalApprove: once
	// the policy's emergency approvals approved, the grant starts at once
	// (Approved) and the customer must review it afterwards.
	ActionEmergencyApprove Action = "emergencyApprove"
)

// Transition is the one statement of what an action does: the effective
// status a request must have, the status it gets and the audit operation
// that records it. The pure rules (Apply, Settle) read this table, and the
// store hands the same table to its scripts (redisstore's Lua prelude), so
// neither restates it.
type Transition struct {
	From Status
	To   Status
	Op   string
	// OwnForbidden: nobody may take this action on a request they filed or
	// that was filed for them (segregation of duties).
	OwnForbidden bool
	// When says who takes the action: WhenAsked (a caller), WhenFiled (the
	// tenant's settings, as the request is filed) or WhenDue (time).
	When When
}

// When says who or what takes an action.
type When string

// The kinds of action.
const (
	WhenAsked When = "asked"
	WhenFiled When = "filed"
	WhenDue   When = "due"
)

// Transitions maps each action to its transition.
var Transitions = map[Action]Transition{
	ActionApprove:     {From: StatusPending, To: StatusApproved, Op: OpApprove, OwnForbidden: true, When: WhenAsked},
	ActionDeny:        {From: StatusPending, To: StatusDenied, Op: OpDeny, OwnForbidden: true, When: WhenAsked},
	ActionRevoke:      {From: StatusApproved, To: StatusRevoked, Op: OpRevoke, OwnForbidden: true, When: WhenAsked},
	ActionCancel:      {From: StatusPending, To: StatusCanceled, Op: OpCancel, When: WhenAsked},
	ActionAutoApprove: {From: StatusPending, To: StatusApproved, Op: OpAutoApprove, When: WhenFiled},
	ActionAutoDeny:    {From: StatusPending, To: StatusDenied, Op: OpAutoDeny, When: WhenFiled},
	ActionExpire:      {From: StatusPending, To: StatusExpired, Op: OpExpire, When: WhenDue},
	ActionComplete:    {From: StatusApproved, To: StatusCompleted, Op: OpComplete, When: WhenDue},

	ActionInternalApprove: {From: StatusInternalReview, To: StatusPending, Op: OpInternalApprove, OwnForbidden: true, When: WhenAsked},
	ActionInternalDeny:    {From: StatusInternalReview, To: StatusDenied, Op: OpInternalDeny, OwnForbidden: true, When: WhenAsked},
	ActionExpireReview:    {From: StatusInternalReview, To: StatusExpired, Op: OpExpire, When: WhenDue},
	ActionCancelReview:    {From: StatusInternalReview, To: StatusCanceled, Op: OpCancel, When: WhenAsked},

	ActionEmergencyApprove: {From: StatusInternalReview, To: StatusApproved, Op: OpEmergencyApprove, OwnForbidden: true, When: WhenAsked},
}

// Act is one action on a request by someone, at a time.
type Act struct {
	Action Action
	// Actor is who acts, as the audit log records them.
	Actor Actor
	// Principal is the key of who acts (Principal.Key): compared with who
	// filed the request and its requester, and with earlier approvers.
	// Empty for the system's own acts (a resolved ticket's close), which
	// are no one's own request.
	Principal string
	Reason    string
	// Duration, when approving, shortens the grant to this many hours.
	Duration *int
	// OnlyRequester, when set, restricts the act to requests filed for this
	// requester (UserKey); any other request is not found.
	OnlyRequester string
	// HideInternal, for the customer's roles, treats a request the
	// provider's internal review holds as not found.
	HideInternal bool
	At           time.Time
	// Passkey, when set, is the decider's verified passkey signature: kept
	// with the request, recorded as a SignLockboxDecision event after the
	// decision's, its statement accepted once.
	Passkey *PasskeyEvidence
}

// grantAllowed is the grant one approval allows: the hours it gives, which
// may only shorten what was asked, or what was asked.
func (r Request) grantAllowed(durationHours *int) (time.Duration, int, error) {
	if durationHours == nil {
		return r.Grant, r.Duration, nil
	}
	if *durationHours > r.Duration {
		return 0, 0, ErrDurationTooLong(r.Duration)
	}
	return time.Duration(*durationHours) * time.Hour, *durationHours, nil
}

// capGrant caps a grant by the request's tenant cap and the global one.
func (r Request) capGrant(grant time.Duration, lim Limits) time.Duration {
	if r.MaxGrant > 0 {
		grant = min(grant, r.MaxGrant)
	}
	return min(grant, lim.MaxAccessTTL)
}

// GrantFor returns how long an approval gives on its own: the asked grant,
// shortened to durationHours when given, capped by the tenant's and the
// global cap.
func GrantFor(r Request, durationHours *int, lim Limits) (time.Duration, error) {
	grant, _, err := r.grantAllowed(durationHours)
	return r.capGrant(grant, lim), err
}

// Apply returns r after act, and the event that records it. r is judged as it
// stands at act.At (see Effective): its effective status must be the
// action's Transition.From; where the transition says so, the actor must be
// neither the requester nor whoever filed r.
//
// Approving adds an approval; once RequiredApprovals distinct approvers
// have approved (the same approver twice is ErrAlreadyApproved), the grant
// starts, lasting the shortest duration any of them allowed, capped by the
// tenant's and the global cap; until then the request stays Pending and the
// event records the step. A deny denies, whatever approvals came before.
// An automatic approval (a tenant's settings) grants at once. Revoking ends
// a live grant now. Expire and complete are Settle's.
func Apply(r Request, act Act, lim Limits) (Request, Event, error) {
	tr, ok := Transitions[act.Action]
	if !ok || tr.When == WhenDue {
		return r, Event{}, Invalidf("unknown action %q", act.Action)
	}
	if (act.OnlyRequester != "" && act.OnlyRequester != UserKey(r.Requester.ID)) || (act.HideInternal && !r.CustomerVisible()) {
		return r, Event{}, ErrNotFound(r.RequestID)
	}
	cur := r.Effective(act.At).Status
	if act.Action == ActionCancel && cur == StatusInternalReview {
		tr = Transitions[ActionCancelReview] // withdrawn before the customer was asked
	}
	if act.Action == ActionInternalApprove || act.Action == ActionEmergencyApprove {
		// A provider-approver's approval is an emergency approval exactly
		// when r is emergency access (break-glass), whichever was asked.
		act.Action = ActionInternalApprove
		if r.Emergency != nil {
			act.Action = ActionEmergencyApprove
		}
		tr = Transitions[act.Action]
	}
	if cur != tr.From {
		return r, Event{}, ErrWrongState(act.Action, cur)
	}
	if tr.OwnForbidden && r.Involves(act.Principal) {
		return r, Event{}, ErrOwnRequest(act.Action)
	}
	now := act.At.UTC().Truncate(time.Millisecond)
	decision := &Decision{By: act.Actor.ID, Reason: act.Reason, DateTime: now}
	switch act.Action {
	case ActionInternalApprove, ActionEmergencyApprove:
		return r.internalApprove(act, tr, now, lim)
	case ActionInternalDeny:
		r.Decision = decision
	case ActionApprove:
		if slices.ContainsFunc(r.Approvals, func(a Approval) bool { return UserKey(a.By) == act.Principal }) {
			return r, Event{}, ErrAlreadyApproved()
		}
		_, hours, err := r.grantAllowed(act.Duration)
		if err != nil {
			return r, Event{}, err
		}
		r.Approvals = append(slices.Clone(r.Approvals), Approval{By: act.Actor.ID, Reason: act.Reason, DateTime: now, Duration: hours})
		if len(r.Approvals) < r.RequiredApprovals {
			return r, event(r, tr.Op, act.Actor, tr.From, act.Reason, now), nil // a step towards the quorum
		}
		grant := r.Grant
		for _, a := range r.Approvals {
			if a.Duration != r.Duration { // shortened: whole hours
				grant = min(grant, time.Duration(a.Duration)*time.Hour)
			}
		}
		r = r.startGrant(r.capGrant(grant, lim), now)
		r.Decision = decision
	case ActionAutoApprove:
		r = r.startGrant(r.capGrant(r.Grant, lim), now)
		r.Decision = decision
	case ActionDeny, ActionAutoDeny:
		r.Decision = decision
	case ActionRevoke:
		r.AccessExpirationDateTime = &now
		r.Closure = decision
	case ActionCancel, ActionCancelReview:
		r.Closure = decision
	}
	r.Status = tr.To
	r.AccessActive = r.Status == StatusApproved
	return r, event(r, tr.Op, act.Actor, tr.From, act.Reason, now), nil
}

// internalApprove adds the provider-approver's approval to r's internal
// review; the one that completes it releases r to the customer: Pending,
// with the approval window starting now. For emergency access it starts
// the grant instead (Approved), and the customer's review falls due after
// lim.EmergencyReviewTTL.
func (r Request) internalApprove(act Act, tr Transition, now time.Time, lim Limits) (Request, Event, error) {
	pc := r.ProviderChecks
	if pc == nil {
		return r, Event{}, ErrWrongState(act.Action, r.Status)
	}
	if slices.ContainsFunc(pc.InternalApprovals, func(a InternalApproval) bool { return UserKey(a.By) == act.Principal }) {
		return r, Event{}, ErrAlreadyReviewed()
	}
	c := *pc
	c.InternalApprovals = append(slices.Clone(pc.InternalApprovals), InternalApproval{By: act.Actor.ID, DateTime: now})
	r.ProviderChecks = &c
	if len(c.InternalApprovals) < c.InternalApprovalsRequired {
		return r, event(r, tr.Op, act.Actor, tr.From, act.Reason, now), nil
	}
	r.Status = tr.To
	if tr.To == StatusApproved {
		r = r.startGrant(r.capGrant(r.Grant, lim), now)
		r.AccessActive = true
		r.Decision = &Decision{By: act.Actor.ID, Reason: act.Reason, DateTime: now}
		e := *r.Emergency
		due := now.Add(lim.ReviewTTL())
		e.ReviewDueDateTime = &due
		r.Emergency = &e
		return r, event(r, tr.Op, act.Actor, tr.From, act.Reason, now), nil
	}
	r.ExpirationDateTime = now.Add(lim.PendingTTL)
	return r, event(r, tr.Op, act.Actor, tr.From, act.Reason, now), nil
}

// ReviewTTL is how long the customer has to review emergency access:
// lim.EmergencyReviewTTL, 72h when unset.
func (lim Limits) ReviewTTL() time.Duration {
	if lim.EmergencyReviewTTL > 0 {
		return lim.EmergencyReviewTTL
	}
	return DefaultLimits.EmergencyReviewTTL
}

func (r Request) startGrant(grant time.Duration, now time.Time) Request {
	until := now.Add(grant)
	r.AccessExpirationDateTime = &until
	return r
}

// Settle records what time alone did to r by now: a Pending request past its
// window becomes Expired, an Approved one past its grant Completed. ok is
// false when nothing is due.
func Settle(r Request, now time.Time) (settled Request, ev Event, ok bool) {
	eff := r.Effective(now)
	if eff.Status == r.Status {
		return r, Event{}, false
	}
	tr := Transitions[ActionExpire]
	if r.Status == StatusInternalReview {
		tr = Transitions[ActionExpireReview]
	}
	if eff.Status == StatusCompleted {
		tr = Transitions[ActionComplete]
	}
	return eff, event(eff, tr.Op, Actor{ActorSystem, SystemActor}, r.Status, "", now.UTC().Truncate(time.Millisecond)), true
}
