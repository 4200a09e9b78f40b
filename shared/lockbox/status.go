package lockbox

// Status is the state of a lockbox request.
type Status string

// The states of a request:
//
//	Pending → Approved → Completed | Revoked
//	Pending → Denied | Expired | Canceled
//	InternalReview → Pending | Denied | Expired
//
// InternalReview comes before Pending when the provider's policy asks for
// internal approval (ProviderPolicy): the customer does not see the request
// until the provider's approvers release it to Pending.
const (
	StatusInternalReview Status = "InternalReview"
	StatusPending        Status = "Pending"
	StatusApproved       Status = "Approved"
	StatusDenied         Status = "Denied"
	StatusExpired        Status = "Expired"
	StatusCompleted      Status = "Completed"
	StatusRevoked        Status = "Revoked"
	StatusCanceled       Status = "Canceled"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusInternalReview, StatusPending, StatusApproved, StatusDenied, StatusExpired, StatusCompleted, StatusRevoked, StatusCanceled}

// ParseStatus returns the status named s (exact spelling) or a KindInvalid error.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", ErrUnknownStatus()
}

// EffectiveStatus is the status a request has, given the status recorded for
// it and whether its approval window is still open and its grant still live
// (in the store: whether its pending and grant TTL keys exist). A recorded
// Pending (or InternalReview) request whose window closed is Expired and a recorded Approved one
// whose grant ended is Completed, whether or not a sweep recorded that yet.
// The store's scripts compute the same in Lua (redisstore's prelude); the
// lifecycle scenarios hold both to it.
func EffectiveStatus(recorded Status, windowOpen, grantLive bool) Status {
	switch {
	case (recorded == StatusPending || recorded == StatusInternalReview) && !windowOpen:
		return StatusExpired
	case recorded == StatusApproved && !grantLive:
		return StatusCompleted
	}
	return recorded
}
