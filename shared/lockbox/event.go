package lockbox

import "time"

// Operation names of audit events (Azure Activity Log vocabulary).
const (
	OpCreate   = "CreateLockboxRequest"
	OpApprove  = "ApproveLockboxRequest"
	OpDeny     = "DenyLockboxRequest"
	OpExpire   = "ExpireLockboxRequest"
	OpComplete = "CompleteLockboxRequest"
	OpRevoke   = "RevokeLockboxRequest"
	OpCancel   = "CancelLockboxRequest"
	// OpAutoApprove and OpAutoDeny are the decisions a tenant's settings
	// take when a request is filed (Lockbox off, or a rule).
	OpAutoApprove = "AutoApproveLockboxRequest"
	OpAutoDeny    = "AutoDenyLockboxRequest"
	// OpUpdateSettings records a change of a tenant's settings (requestId
	// "").
	OpUpdateSettings = "UpdateLockboxSettings"
	// OpInternalApprove and OpInternalDeny are the provider's internal
	// review of a request before the customer is asked.
	OpInternalApprove = "InternalApproveLockboxRequest"
	OpInternalDeny    = "InternalDenyLockboxRequest"
	// OpSignDecision records a decision's passkey signature, right after
	// the decision's own event and in the same step; its reason is the
	// PasskeySignature's JSON.
	OpSignDecision = "SignLockboxDecision"
	// OpRegisterPasskey and OpRemovePasskey record a person's passkey
	// registered or removed (requestId ""; the reason names it).
	OpRegisterPasskey = "RegisterLockboxPasskey"
	OpRemovePasskey   = "RemoveLockboxPasskey"
	// OpEmergencyApprove is a provider-approver's approval of emergency
	// access (break-glass); the last one it needs starts the grant.
	// OpAcknowledgeEmergency and OpDisputeEmergency are the customer's
	// review of it afterwards.
	OpEmergencyApprove     = "EmergencyApproveLockboxRequest"
	OpAcknowledgeEmergency = "AcknowledgeEmergencyAccess"
	OpDisputeEmergency     = "DisputeEmergencyAccess"
)

// Operations lists every operation name.
var Operations = []string{OpCreate, OpApprove, OpDeny, OpExpire, OpComplete, OpRevoke, OpCancel, OpAutoApprove, OpAutoDeny, OpUpdateSettings,
	OpUseGrant, OpRefuseAccess, OpIssueCredential, OpLockdown, OpLiftLockdown, OpInternalApprove, OpInternalDeny,
	OpSignDecision, OpRegisterPasskey, OpRemovePasskey, OpEmergencyApprove, OpAcknowledgeEmergency, OpDisputeEmergency}

// ActorKind says who caused an event.
type ActorKind string

// The actor kinds.
const (
	ActorEngineer ActorKind = "engineer"
	ActorApprover ActorKind = "approver"
	ActorAdmin    ActorKind = "admin"
	ActorSystem   ActorKind = "system"
	// ActorProviderApprover is the provider's internal approver.
	ActorProviderApprover ActorKind = "providerApprover"
)

// SystemActor is the id recorded for events Lockbox causes itself.
const SystemActor = "lockbox"

// Actor is who caused an event.
type Actor struct {
	Kind ActorKind `json:"kind"`
	ID   string    `json:"id"`
}

// Event is one entry of a tenant's audit log. Seq is assigned when the event
// is appended, in the same atomic step as the state change it records (per
// tenant 1, 2, 3… with no gaps, so an event lost before export is a gap);
// PrevHash and Hash when the log is exported.
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
