package redisstore

import "lockbox.dev/shared/lockbox"

// TenantsKey is the set of tenants that may have work for the sweep or the
// audit export: a tenant joins it when it files a request and leaves it when
// nothing of it is pending, live or unexported (Store.Prune). It is the only
// key without a tenant's hash tag.
const TenantsKey = "lb:tenants"

// StatsTenantsKey is the set of tenants whose counters (their "stats" key)
// lockbox-metrics sums: a tenant joins it when it files its first request
// (in the create's round trip; a check counts only in such a tenant), and
// never leaves it, so that a counter summed over the tenants never goes down. Its hash
// tag puts it in TenantsKey's slot, so that one SUNION reads both on Redis
// Cluster too.
const StatsTenantsKey = "{lb:tenants}:stats"

// The names of a tenant's keys, after its prefix "lb:{<tenant>}:". They are
// named here only: scripts write key('<name>', suffix) and the name is
// resolved from this table when the scripts are rendered (prelude.go).
var keyNames = map[string]string{
	"req":         "req:",           // hash: a request's record (+ id)
	"pending":     "pending:",       // TTL key: lives exactly as long as the approval window (+ id)
	"grant":       "grant:",         // TTL key: lives exactly as long as the grant (+ id)
	"all":         "idx:all",        // sorted set: every request id by request sequence number
	"status":      "idx:status:",    // sorted set per recorded status (+ status)
	"byRequester": "idx:requester:", // sorted set per requester (+ canonical requester id)
	"bySupport":   "idx:support:",   // sorted set per support case (+ supportRequest): its requests, for a ticket's close
	"seq":         "seq",            // counter: the tenant's request sequence
	"due":         "due",            // sorted set: "g:<id>" by grant end (ms), for the sweep
	"events":      "events",         // stream: audit events not yet exported
	"auditSeq":    "audit:seq",      // counter: the seq of the tenant's last audit event
	"auditHead":   "audit:head",     // hash: how far the archive reaches (seq, hash, lastId)
	"auditPlan":   "audit:plan",     // hash: a planned, unacknowledged export batch
	"auditLock":   "audit:lock",     // string + TTL: the export lock (a random token)
	"idem":        "idem:",          // string + TTL: an Idempotency-Key's "<body hash>:<id>" (+ hash)
	"sig":         "sig:",           // string + TTL: a signed delivery already served (+ hash)
	"livePending": "live:pending",   // sorted set: pending ids by window end (the tenant's pending cap, and the sweep's expiries)
	"liveReqPend": "live:pending:",  // sorted set per requester key: pending ids by window end
	"liveGrants":  "live:grants:",   // sorted set per requester key: granted ids by grant end
	"settings":    "settings",       // hash: the settings document (doc) and its version
	"lockdown":    "lockdown",       // hash: the tenant's lockdown (since, until, reason, by), while in force
	"outbox":      "outbox",         // stream: notifications recorded with their change, not yet expanded into deliveries
	"timers":      "timers",         // sorted set: reminders, escalations, grant end notices and emergency review deadlines by when they fall due
	"unreviewed":  "unreviewed",     // sorted set: live emergency access awaiting the customer's review, by filing order
	"delivery":    "dlv:",           // hash: one delivery (+ id): channel, recipient, state, attempts
	"deliveries":  "dlv:req:",       // sorted set per request (+ id): its deliveries by creation
	"sendq":       "sendq",          // sorted set: deliveries to send by when (a claimed one: when its lease ends)
	"dead":        "dead",           // sorted set: dead-lettered deliveries by when they failed for good
	"mark":        "mark:",          // string + TTL: something done once and its outcome (+ name), e.g. a ticket's close
	"passkeys":    "passkeys:",      // hash per user key: the person's passkeys (credential id → JSON) and counters ("n:" + id)
	"pkUsers":     "pk:users",       // set: the user keys with passkeys in the tenant (the export)
	"pkOnce":      "pk:once:",       // string + TTL: a decision statement already signed (+ its hex SHA-256)
	"refused":     "refused:",       // string + TTL: a refused check recorded this minute (+ requester key:sha1(resource):minute)
	"stats":       "stats",          // hash: the tenant's counters, tr:<operation> and ck:<check result> (StatsTenantsKey lists the tenants that have one)
}

// keys builds the key names of one tenant.
type keys string

func keysFor(tenant string) keys { return keys("lb:{" + tenant + "}:") }

// of returns the tenant's key of the given name, with suffix appended.
func (k keys) of(name, suffix string) string {
	n, ok := keyNames[name]
	if !ok {
		panic("redisstore: unknown key name " + name)
	}
	return string(k) + n + suffix
}

func (k keys) req(id string) string                { return k.of("req", id) }
func (k keys) pending(id string) string            { return k.of("pending", id) }
func (k keys) grant(id string) string              { return k.of("grant", id) }
func (k keys) status(st lockbox.Status) string     { return k.of("status", string(st)) }
func (k keys) byRequester(canonical string) string { return k.of("byRequester", canonical) }

// EventsKey is the name of a tenant's audit event stream.
func EventsKey(tenant string) string { return keysFor(tenant).of("events", "") }
