package redisstore

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"lockbox.dev/shared/lockbox"
)

// Every script starts with the same prelude: lines rendered once from the
// domain's names and rules, then the functions of lua/prelude.lua. The
// rendered lines hold transition(a), which returns the row of
// lockbox.Transitions for action a (with what apply() writes for it), and
// the names of notes, operations and actors, so that no status, operation,
// actor kind or key name is typed in Lua. lua/prelude.lua holds effective()
// (lockbox.EffectiveStatus), event(), which appends an audit event with its
// seq, and apply(), the implementation of every action; lockbox.Apply and
// lockbox.Settle are its specification, which the lifecycle scenarios hold
// the scripts to (no production code runs them).
//
// Every script takes the tenant's key prefix ("lb:{<tenant>}:") as its
// argument prefix, and builds the tenant's key names from it with key(). Its
// first key (KEYS[1]) is one of the tenant's, so that the client routes it
// to the tenant's slot on Redis Cluster; every key it touches carries the
// same hash tag, so a script runs in one slot.
var prelude = renderPrelude()

func renderPrelude() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	// Besides the table's columns, each transition says what apply() writes:
	// quorum (an approval towards RequiredApprovals), review (an internal
	// approval towards the provider's internalApprovals), decides (the
	// decision fields), closes (the closure fields), and what it tells:
	// note, and receipt (the grant ends: its access receipt too).
	w("local function transition(a)")
	for _, a := range slices.Sorted(maps.Keys(lockbox.Transitions)) {
		tr := lockbox.Transitions[a]
		decides := (tr.From == lockbox.StatusPending || tr.From == lockbox.StatusInternalReview) &&
			(tr.To == lockbox.StatusApproved || tr.To == lockbox.StatusDenied)
		closes := tr.To == lockbox.StatusRevoked || tr.To == lockbox.StatusCanceled
		w("  if a == %s then return {from = %s, to = %s, op = %s, own = %t, quorum = %t, review = %t, decides = %t, closes = %t, note = %s, receipt = %t} end",
			lit(string(a)), lit(string(tr.From)), lit(string(tr.To)), lit(tr.Op), tr.OwnForbidden, a == lockbox.ActionApprove,
			a == lockbox.ActionInternalApprove || a == lockbox.ActionEmergencyApprove, decides, closes, lit(string(a.Note())), a.EndsGrant())
	}
	w("end")
	w("local NOTE_CREATED, NOTE_APPROVAL, NOTE_REMINDER, NOTE_ESCALATED, NOTE_ENDING, NOTE_RECEIPT = %s, %s, %s, %s, %s, %s",
		lit(string(lockbox.NoteCreated)), lit(string(lockbox.NoteApproval)), lit(string(lockbox.NoteReminder)),
		lit(string(lockbox.NoteEscalated)), lit(string(lockbox.NoteEnding)), lit(string(lockbox.NoteReceipt)))
	w("local NOTE_EMERGENCY_DISPUTED, NOTE_EMERGENCY_UNREVIEWED, NOTE_EMERGENCY_REQUESTED = %s, %s, %s",
		lit(string(lockbox.NoteEmergencyDisputed)), lit(string(lockbox.NoteEmergencyUnreviewed)), lit(string(lockbox.NoteEmergencyRequested)))
	w("local ENDING_NOTICE_MS = %d", lockbox.EndingNotice.Milliseconds())
	w("local OP_CREATE, OP_SETTINGS, ACTOR_ENGINEER, ACTOR_SYSTEM, SYSTEM_ACTOR = %s, %s, %s, %s, %s",
		lit(lockbox.OpCreate), lit(lockbox.OpUpdateSettings), lit(string(lockbox.ActorEngineer)), lit(string(lockbox.ActorSystem)),
		lit(lockbox.SystemActor))
	w("local OP_SIGN_DECISION, OP_PASSKEY_ADD, OP_PASSKEY_REMOVE = %s, %s, %s", lit(lockbox.OpSignDecision),
		lit(lockbox.OpRegisterPasskey), lit(lockbox.OpRemovePasskey))
	w("local EVENT_FIELD, OUTBOX_FIELD = %s, %s", lit(EventField), lit(outboxField))
	w("local OP_USE_GRANT, OP_REFUSE_ACCESS, OP_ISSUE_CREDENTIAL = %s, %s, %s", lit(lockbox.OpUseGrant), lit(lockbox.OpRefuseAccess),
		lit(lockbox.OpIssueCredential))
	w("local CODE_NO_GRANT, CODE_PENDING, CODE_ENDED, READ_LEVEL = %s, %s, %s, %s", lit(lockbox.CodeNoGrant),
		lit(lockbox.CodePendingApproval), lit(lockbox.CodeGrantEnded), lit(strings.ToLower(lockbox.DefaultCheckLevel)))
	b.WriteString(resolveFields(uncommented(luaSource("prelude.lua")), applyFields, laterFields))
	return b.String()
}

// applyFields are the record fields apply() reads with readRecord, in
// order (lua/prelude.lua names them as F.<field>), then, for a request
// that left Pending or was filed for the provider's internal review,
// laterFields. Besides those apply decides from, they are every field
// decode needs: the answer to an action is these fields as read with the
// fields written over them, without reading the record again.
var applyFields = []string{"status", "requesterKey", "filedBy", "duration", "grantMs", "support", "seq",
	"required", "maxGrantMs", "approverKeys", "approvals", "remind", "doc", "reviewReq", "expMs", "passkeys"}

// laterFields are the fields that a request has only once it was decided
// or closed (the decision, the closure, the grant's end: never while it is
// Pending or InternalReview), and those only a request filed for the
// provider's internal review has (the create script sets them with
// reviewReq; emergency access is filed so too, with its emergency field).
// readRecord reads them, in a second HMGET, only for a request
// that is neither Pending nor InternalReview or that has reviewReq: every
// HMGET field costs Redis about a thousand instructions, set or not, and an
// approval or a denial reads 16 fields instead of 30.
var laterFields = []string{"decBy", "decReason", "decMs", "endBy", "endReason", "endMs", "accessExpMs",
	"internal", "intApprovals", "intKeys", "escalateMs", "autoAction", "autoActor", "autoReason", "emergency"}
