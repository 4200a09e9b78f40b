package redisstore

import (
	"embed"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// Every script starts with the same prelude, rendered once from the domain's
// names and rules: transition(a), which returns the row of
// lockbox.Transitions for action a, effective() — lockbox.EffectiveStatus in
// Lua — event(), which appends an audit event with its seq, and apply(),
// lockbox.Apply. Names of statuses, operations, actor kinds and keys are
// never typed in a script; the lifecycle scenarios hold the scripts to the
// pure rules.
//
// Scripts write a status as S.<Status> and a key as key('<name>', suffix),
// a name of keyNames. Both are resolved when the scripts are rendered
// (S.Pending becomes 'Pending', key('all') key('idx:all')), so a call builds
// no table of names: Redis runs a script's whole body on every EVALSHA, and
// building those tables cost about 14 µs of a create's 187. An unknown name
// panics when the package loads.
//
// Every script takes the tenant's key prefix ("lb:{<tenant>}:") as ARGV[1]
// and builds the tenant's key names from it with key(). Its first key
// (KEYS[1]) is one of the tenant's, so that the client routes it to the
// tenant's slot on Redis Cluster; every key it touches carries the same hash
// tag, so a script runs in one slot.
var prelude = renderPrelude()

//go:embed lua/*.lua
var luaFiles embed.FS

// script returns the script of lua/<file>, after the prelude.
func script(file string) *redis.Script {
	return redis.NewScript(resolveNames(prelude + luaSource(file)))
}

// luaSource returns lua/<file> without its comment lines: they document
// the source and need not travel to Redis.
func luaSource(file string) string {
	b, err := luaFiles.ReadFile("lua/" + file)
	if err != nil {
		panic("redisstore: " + err.Error())
	}
	return commentLine.ReplaceAllString(string(b), "")
}

var (
	luaName     = regexp.MustCompile(`^[A-Za-z0-9:._-]*$`)
	commentLine = regexp.MustCompile(`(?m)^[ \t]*--.*\n`)
	statusRef   = regexp.MustCompile(`\bS\.([A-Z][A-Za-z]*)`)
	keyNameRef  = regexp.MustCompile(`\bkey\('([A-Za-z]+)'`)
)

// resolveNames replaces S.<Status> by the status and key('<name>' by the
// key's name in keyNames.
func resolveNames(src string) string {
	src = statusRef.ReplaceAllStringFunc(src, func(m string) string {
		st := lockbox.Status(statusRef.FindStringSubmatch(m)[1])
		if !slices.Contains(lockbox.Statuses, st) {
			panic(fmt.Sprintf("redisstore: a script names the unknown status %q", st))
		}
		return lit(string(st))
	})
	return keyNameRef.ReplaceAllStringFunc(src, func(m string) string {
		name := keyNameRef.FindStringSubmatch(m)[1]
		k, ok := keyNames[name]
		if !ok {
			panic(fmt.Sprintf("redisstore: a script names the unknown key %q", name))
		}
		return "key(" + lit(k)
	})
}

// lit renders s as a Lua string literal. The names rendered are fixed
// identifiers; anything else is a programming error.
func lit(s string) string {
	if !luaName.MatchString(s) {
		panic(fmt.Sprintf("redisstore: %q cannot be a Lua name", s))
	}
	return "'" + s + "'"
}

func renderPrelude() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("local P = ARGV[1]")
	// Besides the table's columns, each transition says what apply() writes:
	// quorum (an approval towards RequiredApprovals), decides (the
	// decision fields), closes (the closure fields).
	w("local function transition(a)")
	for _, a := range slices.Sorted(maps.Keys(lockbox.Transitions)) {
		tr := lockbox.Transitions[a]
		decides := tr.From == lockbox.StatusPending && (tr.To == lockbox.StatusApproved || tr.To == lockbox.StatusDenied)
		closes := tr.To == lockbox.StatusRevoked || tr.To == lockbox.StatusCanceled
		w("  if a == %s then return {from = %s, to = %s, op = %s, own = %t, quorum = %t, decides = %t, closes = %t, note = %s} end",
			lit(string(a)), lit(string(tr.From)), lit(string(tr.To)), lit(tr.Op), tr.OwnForbidden, a == lockbox.ActionApprove, decides,
			closes, lit(string(a.Note())))
	}
	w("end")
	w("local NOTE_CREATED, NOTE_APPROVAL, NOTE_REMINDER, NOTE_ESCALATED, NOTE_ENDING = %s, %s, %s, %s, %s",
		lit(string(lockbox.NoteCreated)), lit(string(lockbox.NoteApproval)), lit(string(lockbox.NoteReminder)),
		lit(string(lockbox.NoteEscalated)), lit(string(lockbox.NoteEnding)))
	w("local ENDING_NOTICE_MS = %d", lockbox.EndingNotice.Milliseconds())
	w("local OP_CREATE, OP_SETTINGS, ACTOR_ENGINEER, ACTOR_SYSTEM, SYSTEM_ACTOR = %s, %s, %s, %s, %s",
		lit(lockbox.OpCreate), lit(lockbox.OpUpdateSettings), lit(string(lockbox.ActorEngineer)), lit(string(lockbox.ActorSystem)),
		lit(lockbox.SystemActor))
	w("local EVENT_FIELD, OUTBOX_FIELD, USER_KEY_PREFIX = %s, %s, %s", lit(EventField), lit(outboxField), lit(lockbox.UserKeyPrefix))
	names := make([]string, len(applyFields))
	for i, f := range applyFields {
		names[i] = lit(f)
	}
	w("local function readRecord(rk) return redis.call('HMGET', rk, %s) end", strings.Join(names, ", "))
	b.WriteString(luaSource("prelude.lua"))
	return b.String()
}

// applyFields are the record fields apply() reads with readRecord, in
// order. apply uses the first thirteen by position (f[1] is the status,
// f[13] the reminder offsets), so they keep their places; the rest are read
// for the answer to an action, which is these fields as read with the
// fields written over them: every field decode needs, without reading the
// record again.
var applyFields = []string{"status", "requesterKey", "filedBy", "duration", "grantMs", "support", "seq", "requester",
	"required", "maxGrantMs", "approverKeys", "approvals", "remind",
	"doc", "decBy", "decReason", "decMs", "endBy", "endReason", "endMs", "accessExpMs"}
