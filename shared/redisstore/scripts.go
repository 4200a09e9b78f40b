package redisstore

// The scripts of requests and settings, in lua/. Each is one atomic step
// over the keys of one tenant; times are Unix milliseconds from the caller's
// clock, and lifetimes are enforced by the TTLs of the pending and grant
// keys, i.e. by Redis itself. A script makes every check before its first
// write, so a refusal changes nothing. Refusals are {"err", code, args...};
// replies.go turns each code into the domain's error. Each file's opening
// comment says what its script does, takes and answers; each script's
// arguments are a struct here, whose fields it reads by name (lua.go).

var (
	// createScript files a request, and applies the automatic decision
	// its tenant's settings took (lua/create.lua).
	createScript = loadScript[createArgs]("create.lua")
	// actScript applies an action a caller takes (lua/act.lua).
	actScript = loadScript[actArgs]("act.lua")
	// putSettingsScript stores a tenant's settings (lua/put_settings.lua).
	putSettingsScript = loadScript[settingsArgs]("put_settings.lua")
	// passkeyScript adds or removes a person's passkey
	// (lua/passkey.lua).
	passkeyScript = loadScript[passkeyArgs]("passkey.lua")
	// settleScript records what time did to one request
	// (lua/settle.lua).
	settleScript = loadScript[settleArgs]("settle.lua", settleFields...)
	// listScript reads one page of requests (lua/list.lua).
	listScript = loadScript[listArgs]("list.lua")
	// pruneMarkScript starts pruning an idle tenant (lua/prune_mark.lua).
	pruneMarkScript = loadScript[pruneArgs]("prune_mark.lua")
	// checkScript answers a forward-authentication check
	// (lua/check.lua).
	checkScript = loadScript[checkArgs]("check.lua", checkFields...)
	// credentialScript records a credential issued for a grant
	// (lua/credential.lua).
	credentialScript = loadScript[credentialArgs]("credential.lua", credentialFields...)
)

// createArgs are the create script's arguments.
type createArgs struct {
	Prefix              string `lua:"prefix"`              // the tenant's key prefix
	ID                  string `lua:"id"`                  // the request's id
	Doc                 string `lua:"doc"`                 // the request as filed (JSON)
	CreatedMs           int64  `lua:"createdMs"`           // when it was filed
	ExpMs               int64  `lua:"expMs"`               // when its approval window ends
	PendingTTLMs        int64  `lua:"pendingTTLms"`        // the window's length
	Requester           string `lua:"requester"`           // the requester's id as given
	RequesterKey        string `lua:"requesterKey"`        // the requester's key (lockbox.UserKey)
	Canonical           string `lua:"canonical"`           // the requester's canonical id
	FiledBy             string `lua:"filedBy"`             // the key of who filed it
	Duration            int    `lua:"duration"`            // the hours asked for
	GrantMs             int64  `lua:"grantMs"`             // the grant an approval starts
	Support             string `lua:"support"`             // the support case
	IdemHash            string `lua:"idemHash"`            // the idempotency key's hash ("" without)
	IdemVal             string `lua:"idemVal"`             // "<body hash>:<id>" under that key
	IdemTTLMs           int64  `lua:"idemTTLms"`           // how long the key is remembered
	SigHash             string `lua:"sigHash"`             // the signature's hash ("" when not signed)
	SigTTLMs            int64  `lua:"sigTTLms"`            // how long a signature is remembered
	MaxPending          int    `lua:"maxPending"`          // the tenant's cap of live pending requests
	MaxRequesterPending int    `lua:"maxRequesterPending"` // the requester's cap of live pending requests
	MaxGrants           int    `lua:"maxGrants"`           // the requester's cap of live grants
	Version             int64  `lua:"version"`             // the settings version the caller decided under
	Required            int    `lua:"required"`            // the approvals it needs
	MaxGrantMs          int64  `lua:"maxGrantMs"`          // its grant cap (0: the global cap)
	AutoAction          string `lua:"autoAction"`          // the automatic decision ("" or an action)
	AutoActor           string `lua:"autoActor"`           // its actor id
	AutoReason          string `lua:"autoReason"`          // its reason
	MaxAccessMs         int64  `lua:"maxAccessMs"`         // the longest grant
	Remind              string `lua:"remind"`              // reminders before the window's end (ms, comma-separated)
	EscalateMs          int64  `lua:"escalateMs"`          // escalation after filing (ms, 0: none)
	BodyHash            string `lua:"bodyHash"`            // a ticketing delivery's signed body's key ("" for none)
	Resources           string `lua:"resources"`           // the resource ids, one a line (what a check looks for)
	Level               string `lua:"level"`               // the access level asked for ("" for none)
	Review              int    `lua:"review"`              // the provider's internal approvals it needs (0: none)
	Emergency           int64  `lua:"emergency"`           // emergency access: the customer's review window once live (ms; 0: not an emergency)
	Refused             string `lua:"refused"`             // "1": the settings of this version refuse the filing (lockbox.Settings.Admit)
}

func (a createArgs) args() []any {
	return []any{a.Prefix, a.ID, a.Doc, a.CreatedMs, a.ExpMs, a.PendingTTLMs, a.Requester, a.RequesterKey, a.Canonical,
		a.FiledBy, a.Duration, a.GrantMs, a.Support, a.IdemHash, a.IdemVal, a.IdemTTLMs, a.SigHash, a.SigTTLMs,
		a.MaxPending, a.MaxRequesterPending, a.MaxGrants, a.Version, a.Required, a.MaxGrantMs, a.AutoAction,
		a.AutoActor, a.AutoReason, a.MaxAccessMs, a.Remind, a.EscalateMs, a.BodyHash, a.Resources, a.Level, a.Review, a.Emergency, a.Refused}
}

// actArgs are the act script's arguments.
type actArgs struct {
	Prefix       string `lua:"prefix"`
	ID           string `lua:"id"`
	Action       string `lua:"action"`
	ActorKind    string `lua:"actorKind"`
	ActorID      string `lua:"actorId"`
	Principal    string `lua:"principal"` // the caller's key
	Reason       string `lua:"reason"`
	NowMs        int64  `lua:"nowMs"`
	Duration     string `lua:"duration"`     // the hours an approver allows ("" when not given)
	MaxAccessMs  int64  `lua:"maxAccessMs"`  // the longest grant
	MaxGrants    int    `lua:"maxGrants"`    // the requester's cap of live grants
	Only         string `lua:"only"`         // the only requester key it may act for ("" for any)
	Hide         string `lua:"hide"`         // "1": what the internal review holds is not found (the customer's roles)
	PendingTTLMs int64  `lua:"pendingTTLms"` // the approval window an internal review's release opens
	EndsGrant    string `lua:"endsGrant"`    // "1": the action ends a grant (lockbox.Action.EndsGrant)
	// The passkey signature, when the decision has one: its JSON ("" for
	// none), whose passkey (the user key and credential id), its counter,
	// the statement's digest and how long it is remembered.
	PkSig    string `lua:"pkSig"`
	PkUser   string `lua:"pkUser"`
	PkCred   string `lua:"pkCred"`
	PkCount  int64  `lua:"pkCount"`
	PkDigest string `lua:"pkDigest"`
	PkOnceMs int64  `lua:"pkOnceMs"`
}

func (a actArgs) args() []any {
	return []any{a.Prefix, a.ID, a.Action, a.ActorKind, a.ActorID, a.Principal, a.Reason, a.NowMs, a.Duration,
		a.MaxAccessMs, a.MaxGrants, a.Only, a.Hide, a.PendingTTLMs, a.EndsGrant, a.PkSig, a.PkUser, a.PkCred, a.PkCount, a.PkDigest, a.PkOnceMs}
}

// settingsArgs are the put-settings script's arguments.
type settingsArgs struct {
	Prefix    string `lua:"prefix"`
	Expected  int64  `lua:"expected"` // the version the caller read
	Doc       string `lua:"doc"`      // the settings, with the new version in them
	Version   int64  `lua:"version"`  // the new version
	NowMs     int64  `lua:"nowMs"`
	ActorKind string `lua:"actorKind"`
	ActorID   string `lua:"actorId"`
	Reason    string `lua:"reason"`
	Passkey   string `lua:"passkey"` // the passkey requirement as the act script reads it (PasskeyRequirement.Stored)
	// BreakGlass is "deny" when the tenant refuses emergency access, else
	// "": the emergency approval reads it (prelude's apply).
	BreakGlass string `lua:"breakGlass"`
}

func (a settingsArgs) args() []any {
	return []any{a.Prefix, a.Expected, a.Doc, a.Version, a.NowMs, a.ActorKind, a.ActorID, a.Reason, a.Passkey, a.BreakGlass}
}

// passkeyArgs are the passkey script's arguments.
type passkeyArgs struct {
	Prefix    string `lua:"prefix"`
	Mode      string `lua:"mode"` // add or remove
	User      string `lua:"user"` // the person's key
	Cred      string `lua:"cred"` // the credential id (base64url)
	Doc       string `lua:"doc"`  // the passkey's JSON
	Count     int64  `lua:"count"`
	Max       int    `lua:"max"` // the most live passkeys a person holds
	NowMs     int64  `lua:"nowMs"`
	ActorKind string `lua:"actorKind"`
	ActorID   string `lua:"actorId"`
	Reason    string `lua:"reason"`
}

func (a passkeyArgs) args() []any {
	return []any{a.Prefix, a.Mode, a.User, a.Cred, a.Doc, a.Count, a.Max, a.NowMs, a.ActorKind, a.ActorID, a.Reason}
}

// settleArgs are the settle script's arguments.
type settleArgs struct {
	Prefix string `lua:"prefix"`
	ID     string `lua:"id"`
	NowMs  int64  `lua:"nowMs"`
}

func (a settleArgs) args() []any { return []any{a.Prefix, a.ID, a.NowMs} }

// settleFields are the record fields the settle script reads.
var settleFields = []string{"status", "seq", "support", "requesterKey", "remind"}

// listArgs are the list script's arguments.
type listArgs struct {
	Prefix   string `lua:"prefix"`
	Status   string `lua:"status"`   // the effective status wanted ("" for any)
	Cursor   string `lua:"cursor"`   // "+inf", or "(<seq>" to continue below seq
	Limit    int    `lua:"limit"`    // the most requests a page holds
	Cap      int    `lua:"cap"`      // the most entries an index is read for
	MaxBytes int    `lua:"maxBytes"` // the record bytes after which a page ends
	Hide     string `lua:"hide"`     // "1": leave out what the internal review holds (the customer's roles)
}

func (a listArgs) args() []any {
	return []any{a.Prefix, a.Status, a.Cursor, a.Limit, a.Cap, a.MaxBytes, a.Hide}
}

// pruneArgs are the prune-mark script's arguments.
type pruneArgs struct {
	Prefix string `lua:"prefix"`
}

func (a pruneArgs) args() []any { return []any{a.Prefix} }

// checkArgs are the check script's arguments.
type checkArgs struct {
	Prefix       string `lua:"prefix"`
	RequesterKey string `lua:"requesterKey"` // the engineer's key
	Canonical    string `lua:"canonical"`    // the engineer's canonical id (their requests' index)
	Requester    string `lua:"requester"`    // the engineer's id as the audit log records it
	Resource     string `lua:"resource"`     // the resource asked for
	Level        string `lua:"level"`        // the access level asked for
	Method       string `lua:"method"`       // the original request's method, recorded
	URI          string `lua:"uri"`          // and its URI
	NowMs        int64  `lua:"nowMs"`
}

func (a checkArgs) args() []any {
	return []any{a.Prefix, a.RequesterKey, a.Canonical, a.Requester, a.Resource, a.Level, a.Method, a.URI, a.NowMs}
}

// checkFields are the record fields the check script reads.
var checkFields = []string{"status", "resources", "level", "accessExpMs", "support"}

// credentialArgs are the credential script's arguments.
type credentialArgs struct {
	Prefix       string `lua:"prefix"`
	ID           string `lua:"id"`
	RequesterKey string `lua:"requesterKey"` // the engineer's key: only their own request
	Requester    string `lua:"requester"`    // the engineer's id as the audit log records it
	What         string `lua:"what"`         // the event's reason: the certificate's serial and key
	NowMs        int64  `lua:"nowMs"`
}

func (a credentialArgs) args() []any {
	return []any{a.Prefix, a.ID, a.RequesterKey, a.Requester, a.What, a.NowMs}
}

// credentialFields are the record fields the credential script reads.
var credentialFields = []string{"status", "requesterKey", "support"}
