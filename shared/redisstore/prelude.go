package redisstore

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// Every script starts with the same prelude, rendered once from the domain's
// names and rules: the statuses (S), the transitions of lockbox.Transitions
// (T), the key names (K), effective() — lockbox.EffectiveStatus in Lua — and
// event(), which appends an audit event with its seq. Names of statuses,
// operations, actor kinds and keys are never typed in a script; the
// lifecycle scenarios hold the scripts to the pure rules.
//
// Every script takes the tenant's key prefix ("lb:{<tenant>}:") as ARGV[1]
// and builds the tenant's key names from it with key(). Its first key
// (KEYS[1]) is one of the tenant's, so that the client routes it to the
// tenant's slot on Redis Cluster; every key it touches carries the same hash
// tag, so a script runs in one slot.
var prelude = renderPrelude()

// script returns a script of body after the prelude.
func script(body string) *redis.Script { return redis.NewScript(prelude + body) }

var luaName = regexp.MustCompile(`^[A-Za-z0-9:._-]*$`)

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
	w("local S = {}")
	for _, st := range lockbox.Statuses {
		w("S.%s = %s", st, lit(string(st)))
	}
	w("local T = {}")
	for _, a := range slices.Sorted(maps.Keys(lockbox.Transitions)) {
		tr := lockbox.Transitions[a]
		w("T[%s] = {from = %s, to = %s, op = %s, own = %t}", lit(string(a)), lit(string(tr.From)), lit(string(tr.To)), lit(tr.Op), tr.OwnForbidden)
	}
	w("local K = {}")
	for _, name := range slices.Sorted(maps.Keys(keyNames)) {
		w("K[%s] = %s", lit(name), lit(keyNames[name]))
	}
	w("local OP_CREATE, ACTOR_ENGINEER, ACTOR_SYSTEM, SYSTEM_ACTOR = %s, %s, %s, %s",
		lit(lockbox.OpCreate), lit(string(lockbox.ActorEngineer)), lit(string(lockbox.ActorSystem)), lit(lockbox.SystemActor))
	w("local EVENT_FIELD, USER_KEY_PREFIX = %s, %s", lit(EventField), lit(lockbox.UserKeyPrefix))
	b.WriteString(luaFunctions)
	return b.String()
}

// luaFunctions are the prelude's functions.
//
// effective(status, pendingLive, grantLive) is lockbox.EffectiveStatus.
//
// event(op, id, timeMs, actorKind, actorId, from, to, reason, support)
// appends an audit event to the tenant's stream in EventField's layout and
// returns its seq: the tenant's event counter, incremented in the same step.
// The first event of a stream written before seqs were assigned at append
// continues after the exported head and the events still waiting.
const luaFunctions = `
local function key(name, suffix) return P .. K[name] .. (suffix or '') end
local function effective(st, pendingLive, grantLive)
  if st == S.Pending and pendingLive == 0 then return S.Expired end
  if st == S.Approved and grantLive == 0 then return S.Completed end
  return st
end
local function event(...)
  local seq = redis.call('INCR', key('auditSeq'))
  if seq == 1 then
    local base = tonumber(redis.call('HGET', key('auditHead'), 'seq') or '0') + redis.call('XLEN', key('events'))
    if base > 0 then
      seq = base + 1
      redis.call('SET', key('auditSeq'), seq)
    end
  end
  local s = string.format('%.0f', seq)
  local parts = {#s .. ':' .. s}
  for i = 1, 9 do
    local v = select(i, ...)
    if not v then v = '' end
    v = tostring(v)
    parts[i + 1] = #v .. ':' .. v
  end
  redis.call('XADD', key('events'), '*', EVENT_FIELD, table.concat(parts))
  return seq
end
local function fail(...) return {'err', ...} end
-- requesterKey returns a record's requester key; records filed before keys
-- were kept get the ASCII-lower-cased id (Lua has no Unicode folding).
local function requesterKey(stored, requester)
  if stored then return stored end
  return USER_KEY_PREFIX .. string.lower(requester or '')
end
`
