package lockbox

import "time"

// Action is something done to a request.
type Action string

// The actions. Approve, deny, revoke and cancel are done by people or
// systems; expire and complete by time (the sweep records them).
const (
	ActionApprove  Action = "approve"
	ActionDeny     Action = "deny"
	ActionRevoke   Action = "revoke"
	ActionCancel   Action = "cancel"
	ActionExpire   Action = "expire"
	ActionComplete Action = "complete"
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
}

// Transitions maps each action to its transition.
var Transitions = map[Action]Transition{
	ActionApprove:  {From: StatusPending, To: StatusApproved, Op: OpApprove, OwnForbidden: true},
	ActionDeny:     {From: StatusPending, To: StatusDenied, Op: OpDeny, OwnForbidden: true},
	ActionRevoke:   {From: StatusApproved, To: StatusRevoked, Op: OpRevoke, OwnForbidden: true},
	ActionCancel:   {From: StatusPending, To: StatusCanceled, Op: OpCancel},
	ActionExpire:   {From: StatusPending, To: StatusExpired, Op: OpExpire},
	ActionComplete: {From: StatusApproved, To: StatusCompleted, Op: OpComplete},
}

// Act is one action on a request by someone, at a time.
type Act struct {
	Action Action
	// Actor is who acts, as the audit log records them.
	Actor Actor
	// Principal is the key of who acts (Principal.Key): compared with who
	// filed the request.
	Principal string
	Reason    string
	// Duration, when approving, shortens the grant to this many hours.
	Duration *int
	// OnlyRequester, when set, restricts the act to requests filed for this
	// requester (UserKey); any other request is not found.
	OnlyRequester string
	At            time.Time
}

// GrantFor returns how long an approval gives: the asked grant, shortened to
// durationHours when given, capped by lim.MaxAccessTTL.
func GrantFor(r Request, durationHours *int, lim Limits) (time.Duration, error) {
	grant := r.Grant
	if durationHours != nil {
		if *durationHours > r.Duration {
			return 0, ErrDurationTooLong(r.Duration)
		}
		grant = time.Duration(*durationHours) * time.Hour
	}
	return min(grant, lim.MaxAccessTTL), nil
}

// Apply returns r after act, and the event that records it. r is judged as it
// stands at act.At (see Effective): its effective status must be the
// action's Transition.From; where the transition says so, the actor must be
// neither the requester nor whoever filed r. Approving starts the grant:
// GrantFor(r, act.Duration, lim) from act.At. Revoking ends a live grant
// now. Expire and complete are Settle's.
func Apply(r Request, act Act, lim Limits) (Request, Event, error) {
	tr, ok := Transitions[act.Action]
	if !ok || act.Action == ActionExpire || act.Action == ActionComplete {
		return r, Event{}, Invalidf("unknown action %q", act.Action)
	}
	if act.OnlyRequester != "" && act.OnlyRequester != UserKey(r.Requester.ID) {
		return r, Event{}, ErrNotFound(r.RequestID)
	}
	if cur := r.Effective(act.At).Status; cur != tr.From {
		return r, Event{}, ErrWrongState(act.Action, cur)
	}
	if tr.OwnForbidden && r.Involves(act.Principal) {
		return r, Event{}, ErrOwnRequest(act.Action)
	}
	now := act.At.UTC().Truncate(time.Millisecond)
	switch act.Action {
	case ActionApprove:
		grant, err := GrantFor(r, act.Duration, lim)
		if err != nil {
			return r, Event{}, err
		}
		until := now.Add(grant)
		r.AccessExpirationDateTime = &until
		r.Decision = &Decision{By: act.Actor.ID, Reason: act.Reason, DateTime: now}
	case ActionDeny:
		r.Decision = &Decision{By: act.Actor.ID, Reason: act.Reason, DateTime: now}
	case ActionRevoke:
		r.AccessExpirationDateTime = &now
	}
	r.Status = tr.To
	r.AccessActive = r.Status == StatusApproved
	return r, event(r, tr.Op, act.Actor, tr.From, act.Reason, now), nil
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
	if eff.Status == StatusCompleted {
		tr = Transitions[ActionComplete]
	}
	return eff, event(eff, tr.Op, Actor{ActorSystem, SystemActor}, r.Status, "", now.UTC().Truncate(time.Millisecond)), true
}
