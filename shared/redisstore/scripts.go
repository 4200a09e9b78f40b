package redisstore

// The scripts. Each is one atomic step over the keys of one tenant; times are
// Unix milliseconds from the caller's clock, and lifetimes are enforced by
// the TTLs of the pending and grant keys, i.e. by Redis itself. A script
// makes every check before its first write, so a refusal changes nothing.
// Refusals are {"err", code, args...}; replies.go turns each code into the
// domain's error.

// createScript files a request under the tenant's settings: record, pending
// TTL key, indexes, deadline and the CreateLockboxRequest event, all at
// once, and the automatic decision the settings took (apply), if any.
//
// The caller decided from the settings of the version it passes; when the
// tenant's settings are of another version now, nothing is written and the
// script answers {"settings", version, doc}, for the caller to decide again.
// With an idempotency key it then looks for a request filed under that key:
// the same body gets {"replay", id} (a retried delivery, even byte-identical
// and carrying a signature seen before, gets the original), another body the
// idemReused refusal. A record of this very id already there means the
// script ran before for this call (a client resending it after a dropped
// connection, as go-redis's cluster pipelines do): {"exists"}, and the call
// answers with that request. Then a signed delivery seen before is refused
// (replayed), and the usage caps are enforced: live pending requests of the
// tenant and of the requester, live grants of the requester ({"err", "cap",
// which, earliest end ms}).
//
// KEYS[1]: the record. ARGV: prefix, id, doc, createdMs, expMs, pendingTTLms,
// requester, requesterKey, canonical requester id, filedBy, duration hours,
// grantMs, supportRequest, idempotency key hash ("" without), idempotency
// value "<bodyhash>:<id>", idempotency TTL ms, signature hash ("" when not
// signed), signature TTL ms, max pending per tenant, max pending per
// requester, max grants per requester, settings version, required
// approvals, max grant ms (0: the global cap), automatic action ("" or a key
// of T), its actor id, its reason, max access ms, reminder offsets before the
// window's end (ms, comma-separated), escalation after filing (ms, "0":
// none).
// Returns {"created"} | {"replay", id} | {"exists"} | {"settings", version,
// doc} | a refusal.
var createScript = script(`
local id, doc, createdMs, expMs = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local requester, requesterKey, canonical, filedBy = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local support, idemHash, idemVal = ARGV[13], ARGV[14], ARGV[15]
local version = redis.call('HGET', key('settings'), 'version') or '0'
if version ~= ARGV[22] then return {'settings', version, redis.call('HGET', key('settings'), 'doc') or ''} end
local sigKey = false
if ARGV[17] ~= '' then sigKey = key('sig', ARGV[17]) end
local function seen()
  if sigKey then redis.call('SET', sigKey, '1', 'PX', ARGV[18]) end
end
if idemHash ~= '' then
  local prev = redis.call('GET', key('idem', idemHash))
  if prev then
    local cut = string.find(prev, ':', 1, true)
    if string.sub(prev, 1, cut) ~= string.sub(idemVal, 1, cut) then return fail('idemReused') end
    seen()
    return {'replay', string.sub(prev, cut + 1)}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
if sigKey and redis.call('EXISTS', sigKey) == 1 then return fail('replayed') end
local caps = {{key('livePending'), ARGV[19], 'pending'}, {key('liveReqPend', requesterKey), ARGV[20], 'requesterPending'},
  {key('liveGrants', requesterKey), ARGV[21], 'grants'}}
for _, cap in ipairs(caps) do
  local refused = overCap(cap[1], cap[2], cap[3], createdMs)
  if refused then return refused end
end
local seq = redis.call('INCR', key('seq'))
redis.call('HSET', KEYS[1], 'doc', doc, 'status', S.Pending, 'seq', seq, 'requester', requester, 'requesterKey', requesterKey,
  'filedBy', filedBy, 'duration', ARGV[11], 'grantMs', ARGV[12], 'support', support, 'expMs', expMs,
  'required', ARGV[23], 'maxGrantMs', ARGV[24], 'remind', ARGV[29])
local timers = {}
for offset in string.gmatch(ARGV[29], '[^,]+') do
  timers[#timers + 1] = ms(tonumber(expMs) - tonumber(offset))
  timers[#timers + 1] = 'remind:' .. id .. ':' .. offset
end
if ARGV[30] ~= '0' then
  timers[#timers + 1] = ms(tonumber(createdMs) + tonumber(ARGV[30]))
  timers[#timers + 1] = 'escalate:' .. id
end
if #timers > 0 then redis.call('ZADD', key('timers'), unpack(timers)) end
redis.call('SET', key('pending', id), '1', 'PX', ARGV[6])
redis.call('ZADD', key('all'), seq, id)
redis.call('ZADD', key('status', S.Pending), seq, id)
redis.call('ZADD', key('byRequester', canonical), seq, id)
redis.call('ZADD', key('bySupport', support), seq, id)
redis.call('ZADD', key('livePending'), expMs, id)
redis.call('ZADD', key('liveReqPend', requesterKey), expMs, id)
event(OP_CREATE, id, createdMs, ACTOR_ENGINEER, requester, '', S.Pending, '', support)
if ARGV[25] ~= '' then
  local refused = apply(id, ARGV[25], {actorKind = ACTOR_SYSTEM, actorId = ARGV[26], principal = '', reason = ARGV[27],
    now = createdMs, duration = '', maxAccess = ARGV[28], maxGrants = ARGV[21], only = ''})
  if refused then return refused end
else
  note(NOTE_CREATED, id, createdMs, ACTOR_ENGINEER, requester, '')
end
if idemHash ~= '' then redis.call('SET', key('idem', idemHash), idemVal, 'PX', ARGV[16]) end
seen()
return {'created'}
`)

// actScript applies one action a caller takes (approve, deny, revoke,
// cancel) to a request: apply() in the prelude, lockbox.Apply in Lua.
//
// KEYS[1]: the record. ARGV: prefix, id, action, actorKind, actorId,
// principal key, reason, nowMs, duration hours ("" when not given),
// maxAccessMs, max grants per requester, only-requester key ("" for any).
// Returns {"ok", {the applyFields as read}, {the fields written, as
// name/value pairs}} | a refusal.
var actScript = script(`
local refused, record = apply(ARGV[2], ARGV[3], {actorKind = ARGV[4], actorId = ARGV[5], principal = ARGV[6], reason = ARGV[7],
  now = ARGV[8], duration = ARGV[9], maxAccess = ARGV[10], maxGrants = ARGV[11], only = ARGV[12]})
if refused then return refused end
return {'ok', record[1], record[2]}
`)

// putSettingsScript stores a tenant's settings if they are still of the
// version the caller read (compare-and-swap), with the next version, and
// records the UpdateLockboxSettings event.
//
// KEYS[1]: the settings. ARGV: prefix, expected version, doc (with the new
// version in it), new version, nowMs, actorKind, actorId, reason.
// Returns {"ok"} | {"stale", version}.
var putSettingsScript = script(`
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= ARGV[2] then return {'stale', version} end
redis.call('HSET', KEYS[1], 'doc', ARGV[3], 'version', ARGV[4])
event(OP_SETTINGS, '', ARGV[5], ARGV[6], ARGV[7], '', '', ARGV[8], '')
return {'ok'}
`)

// settleScript records what time did to one request (lockbox.Settle): a
// recorded Pending request whose pending key is gone becomes Expired, a
// recorded Approved one whose grant key is gone Completed. It decides from
// the TTL keys alone, so it can never record an expiry for a request that an
// approval won in the same instant.
//
// KEYS[1]: the record. ARGV: prefix, id, nowMs.
// Returns {"expire"} | {"complete"} | {"notdue"} | {"none"}.
var settleScript = script(`
local id = ARGV[2]
local f = redis.call('HMGET', KEYS[1], 'status', 'seq', 'support', 'requesterKey', 'requester', 'remind')
f[4] = requesterKey(f[4], f[5])
local action, live, member = 'expire', key('pending', id), 'p:' .. id
local tr = transition(action)
if f[1] ~= tr.from then
  action, live, member = 'complete', key('grant', id), 'g:' .. id
  tr = transition(action)
  if f[1] ~= tr.from then
    redis.call('ZREM', key('due'), 'p:' .. id, 'g:' .. id)
    redis.call('ZREM', key('livePending'), id)
    return {'none'}
  end
end
if redis.call('EXISTS', live) == 1 then return {'notdue'} end
redis.call('HSET', KEYS[1], 'status', tr.to)
redis.call('ZREM', key('status', tr.from), id)
redis.call('ZADD', key('status', tr.to), f[2], id)
redis.call('ZREM', key('due'), member)
if action == 'expire' then
  redis.call('ZREM', key('livePending'), id)
  redis.call('ZREM', key('liveReqPend', f[4]), id)
  dropTimers(id, f[6])
else
  redis.call('ZREM', key('liveGrants', f[4]), id)
  redis.call('ZREM', key('timers'), 'ending:' .. id)
end
event(tr.op, id, ARGV[3], ACTOR_SYSTEM, SYSTEM_ACTOR, tr.from, tr.to, '', f[3])
note(tr.note, id, ARGV[3], ACTOR_SYSTEM, SYSTEM_ACTOR, '')
return {action}
`)

// listScript reads one page, newest first, from one or two sorted-set
// indexes of a tenant (scored by the tenant's request sequence number),
// keeping the requests whose effective status is the one wanted. Each index
// is read from the cursor down until limit+1 matches are found or cap
// entries were examined, so a page costs O(log N + page + cap) however many
// requests the tenant has. When an index stops at the cap, the page ends at
// the lowest sequence number it examined and the cursor continues from there.
// A page also ends, with a cursor, once its records hold maxBytes (it always
// holds at least one): a page's memory is bounded whatever the records hold.
//
// The records, pending and grant keys of each id are read by name: they
// share the tenant's hash tag with the indexes, so this stays in one slot.
//
// KEYS: the indexes. ARGV: prefix, wanted status ("" any), cursor ("+inf" or
// "(<seq>"), limit, cap, maxBytes.
// Returns {next cursor seq or "", {id, pendingLive, grantLive, {record}}...}.
var listScript = script(`
local want, limit, cap, maxBytes = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local items, frontier = {}, nil
for s = 1, #KEYS do
  local max, found, scanned, exhausted = ARGV[3], 0, 0, false
  while found <= limit and scanned < cap do
    local n = math.min(limit + 1, cap - scanned)
    local chunk = redis.call('ZRANGE', KEYS[s], max, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n, 'WITHSCORES')
    for i = 1, #chunk, 2 do
      local id = chunk[i]
      scanned = scanned + 1
      max = '(' .. chunk[i + 1]
      local h = redis.call('HGETALL', key('req', id))
      if #h > 0 then
        local p = redis.call('EXISTS', key('pending', id))
        local g = redis.call('EXISTS', key('grant', id))
        local st, size = nil, 0
        for j = 1, #h, 2 do
          if h[j] == 'status' then st = h[j + 1] end
          size = size + #h[j + 1]
        end
        if want == '' or effective(st, p, g) == want then
          found = found + 1
          items[#items + 1] = {tonumber(chunk[i + 1]), id, p, g, h, size}
          if found > limit then break end
        end
      end
    end
    if #chunk < 2 * n then exhausted = true end
    if exhausted then break end
  end
  if not exhausted and found <= limit then
    local last = tonumber(string.sub(max, 2))
    if frontier == nil or last > frontier then frontier = last end
  end
end
table.sort(items, function(a, b) return a[1] > b[1] end)
local out, n, last, more, seen, bytes = {''}, 0, nil, false, {}, 0
for _, it in ipairs(items) do
  if frontier ~= nil and it[1] < frontier then more = true break end
  if not seen[it[2]] then
    if n == limit or (n > 0 and bytes + it[6] > maxBytes) then more = true break end
    seen[it[2]] = true
    n = n + 1
    last = it[1]
    bytes = bytes + it[6]
    out[#out + 1] = {it[2], it[3], it[4], it[5]}
  end
end
if more then
  out[1] = string.format('%.0f', last)
elseif frontier ~= nil then
  out[1] = string.format('%.0f', frontier)
end
return out
`)

// pruneMarkScript starts pruning a tenant from TenantsKey: when nothing of
// it is pending, live (nothing due for the sweep), unexported (no events, no
// export plan) or undelivered (no notification waiting, due or being sent),
// it returns the seq of the tenant's last audit event ("0": none yet);
// otherwise false. Every create and settings change appends an event, so an
// unchanged seq later means that nothing was filed in between.
//
// KEYS[1]: the audit seq. ARGV: prefix.
var pruneMarkScript = script(`
if redis.call('ZCARD', key('due')) > 0 or redis.call('ZCARD', key('livePending')) > 0 or redis.call('XLEN', key('events')) > 0 or redis.call('EXISTS', key('auditPlan')) == 1 or
  redis.call('XLEN', key('outbox')) > 0 or redis.call('ZCARD', key('timers')) > 0 or redis.call('ZCARD', key('sendq')) > 0 then
  return false
end
return redis.call('GET', KEYS[1]) or '0'
`)
