package redisstore

import "github.com/redis/go-redis/v9"

// Every script touches the keys of one tenant only; all of them carry the
// tenant's {hash tag}, so each script runs in one slot on Redis Cluster.
// Times are Unix milliseconds from the caller's clock; lifetimes are enforced
// by the TTLs of the pending and grant keys, i.e. by Redis itself.

// createScript files a request: record, pending TTL key, indexes, deadline
// and the CreateLockboxRequest event, all at once. Before anything it refuses
// a signed delivery seen before ({"replayed"}); with an idempotency key it
// looks for an earlier request filed under that key and, if there is one,
// returns {"replay", "<bodyhash>:<id>"} without filing; and it enforces the
// usage caps: live pending requests per tenant, live grants of the requester
// ({"cap", which, earliest end in ms}).
//
// KEYS: record, pending, index all, index Pending, index requester, seq,
// due, events, idempotency, signature, live pending, live grants of the requester.
// ARGV: id, doc, createdMs, expMs, pendingTTLms, requesterId, durationH,
// grantMs, supportRequest, idempotency value ("" without a key), idempotency
// TTL ms, signature ("" when not signed), signature TTL ms, max pending, max grants.
var createScript = redis.NewScript(luaEvent + `
if ARGV[12] ~= '' and redis.call('EXISTS', KEYS[10]) == 1 then return {'replayed'} end
local function seen()
  if ARGV[12] ~= '' then redis.call('SET', KEYS[10], '1', 'PX', ARGV[13]) end
end
if ARGV[10] ~= '' then
  local prev = redis.call('GET', KEYS[9])
  if prev then
    -- Same body (the hash before ':'): the original is served, so the delivery is seen.
    if string.sub(prev, 1, 64) == string.sub(ARGV[10], 1, 64) then seen() end
    return {'replay', prev}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
for i, cap in ipairs({{KEYS[11], ARGV[14], 'pending'}, {KEYS[12], ARGV[15], 'grants'}}) do
  redis.call('ZREMRANGEBYSCORE', cap[1], '-inf', ARGV[3])
  if redis.call('ZCARD', cap[1]) >= tonumber(cap[2]) then
    return {'cap', cap[3], redis.call('ZRANGE', cap[1], 0, 0, 'WITHSCORES')[2]}
  end
end
local seq = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'status', 'Pending', 'seq', seq, 'requester', ARGV[6],
  'duration', ARGV[7], 'grantMs', ARGV[8], 'support', ARGV[9], 'expMs', ARGV[4])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('ZADD', KEYS[5], seq, ARGV[1])
redis.call('ZADD', KEYS[7], ARGV[4], 'p:' .. ARGV[1])
redis.call('ZADD', KEYS[11], ARGV[4], ARGV[1])
event(KEYS[8], 'CreateLockboxRequest', ARGV[1], ARGV[3], 'engineer', ARGV[6], '', 'Pending', '', ARGV[9])
if ARGV[10] ~= '' then
  redis.call('SET', KEYS[9], ARGV[10], 'PX', ARGV[11])
end
seen()
return {'created'}
`)

// decideScript approves or denies a Pending request whose approval window is
// still open (its pending key lives). Approving starts the grant key with the
// grant's lifetime.
//
// Approving also enforces the requester's cap on live grants, kept in
// "<prefix>live:grants:<requester>" (named here, as the requester is only
// known from the record; it carries the tenant's hash tag).
//
// KEYS: record, pending, grant, index Pending, index of the new status, due,
// events, live pending.
// ARGV: id, new status ("Approved"|"Denied"), approver, reason, nowMs,
// duration hours ("" when not given), maxAccessMs, key prefix, max grants.
// Returns {"ok", <record as HGETALL>} or {"notfound"} | {"conflict", status}
// | {"self"} | {"duration", askedHours} | {"cap", "grants", earliest end ms}.
var decideScript = redis.NewScript(luaEvent + `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'notfound'} end
if st == 'Pending' and redis.call('EXISTS', KEYS[2]) == 0 then st = 'Expired' end
if st == 'Approved' and redis.call('EXISTS', KEYS[3]) == 0 then st = 'Completed' end
if st ~= 'Pending' then return {'conflict', st} end
local f = redis.call('HMGET', KEYS[1], 'requester', 'duration', 'grantMs', 'support', 'seq')
if f[1] == ARGV[3] then return {'self'} end
local fields = {'status', ARGV[2], 'decBy', ARGV[3], 'decReason', ARGV[4], 'decMs', ARGV[5]}
local op = 'DenyLockboxRequest'
if ARGV[2] == 'Approved' then
  op = 'ApproveLockboxRequest'
  local grant = tonumber(f[3])
  if ARGV[6] ~= '' then
    local d = tonumber(ARGV[6])
    if d > tonumber(f[2]) then return {'duration', f[2]} end
    grant = d * 3600000
  end
  grant = math.min(grant, tonumber(ARGV[7]))
  local grants = ARGV[8] .. 'live:grants:' .. f[1]
  redis.call('ZREMRANGEBYSCORE', grants, '-inf', ARGV[5])
  if redis.call('ZCARD', grants) >= tonumber(ARGV[9]) then
    return {'cap', 'grants', redis.call('ZRANGE', grants, 0, 0, 'WITHSCORES')[2]}
  end
  local untilMs = string.format('%.0f', tonumber(ARGV[5]) + grant)
  redis.call('ZADD', grants, untilMs, ARGV[1])
  fields[#fields + 1] = 'accessExpMs'
  fields[#fields + 1] = untilMs
  redis.call('SET', KEYS[3], '1', 'PX', string.format('%.0f', grant))
  redis.call('ZADD', KEYS[6], untilMs, 'g:' .. ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], f[5], ARGV[1])
redis.call('ZREM', KEYS[6], 'p:' .. ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
event(KEYS[7], op, ARGV[1], ARGV[5], 'approver', ARGV[3], 'Pending', ARGV[2], ARGV[4], f[4])
return {'ok', redis.call('HGETALL', KEYS[1])}
`)

// settleScript records what time did to one request: Pending with its
// pending key gone becomes Expired, Approved with its grant key gone becomes
// Completed. It decides from the TTL keys alone, so it can never record an
// expiry for a request that an approval won in the same instant.
//
// KEYS: record, pending, grant, index Pending, index Approved, index Expired,
// index Completed, due, events, live pending.
// ARGV: id, nowMs.
// Returns {"Expired"} | {"Completed"} | {"notdue"} | {"none"}.
var settleScript = redis.NewScript(luaEvent + `
local id = ARGV[1]
local f = redis.call('HMGET', KEYS[1], 'status', 'seq', 'support')
local from, to, op, member, live
if f[1] == 'Pending' then
  from, to, op, member, live = KEYS[4], KEYS[6], 'ExpireLockboxRequest', 'p:' .. id, KEYS[2]
elseif f[1] == 'Approved' then
  from, to, op, member, live = KEYS[5], KEYS[7], 'CompleteLockboxRequest', 'g:' .. id, KEYS[3]
else
  redis.call('ZREM', KEYS[8], 'p:' .. id, 'g:' .. id)
  return {'none'}
end
if redis.call('EXISTS', live) == 1 then return {'notdue'} end
local newStatus = 'Expired'
if f[1] == 'Approved' then newStatus = 'Completed' end
redis.call('HSET', KEYS[1], 'status', newStatus)
redis.call('ZREM', from, id)
redis.call('ZADD', to, f[2], id)
redis.call('ZREM', KEYS[8], member)
redis.call('ZREM', KEYS[10], id)
event(KEYS[9], op, id, ARGV[2], 'system', 'lockbox', f[1], newStatus, '', f[3])
return {newStatus}
`)

// listScript reads one page, newest first, from one or two sorted-set
// indexes of a tenant (scored by the tenant's request sequence number),
// keeping the requests whose effective status is the one wanted. Each index
// is read from the cursor down until limit+1 matches are found or cap
// entries were examined, so a page costs O(log N + page + cap) however many
// requests the tenant has. When an index stops at the cap, the page ends at
// the lowest sequence number it examined and the cursor continues from there.
//
// The records, pending and grant keys of each id are read by name: they
// share the tenant's hash tag with the indexes, so this stays in one slot.
//
// KEYS: the indexes. ARGV: key prefix of the tenant, wanted status ("" any),
// cursor ("+inf" or "(<seq>"), limit, cap.
// Returns {next cursor seq or "", {id, pendingLive, grantLive, {record}}...}.
var listScript = redis.NewScript(`
local prefix, want, limit, cap = ARGV[1], ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])
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
      local h = redis.call('HGETALL', prefix .. 'req:' .. id)
      if #h > 0 then
        local p = redis.call('EXISTS', prefix .. 'pending:' .. id)
        local g = redis.call('EXISTS', prefix .. 'grant:' .. id)
        local st
        for j = 1, #h, 2 do if h[j] == 'status' then st = h[j + 1] end end
        if st == 'Pending' and p == 0 then st = 'Expired' elseif st == 'Approved' and g == 0 then st = 'Completed' end
        if want == '' or st == want then
          found = found + 1
          items[#items + 1] = {tonumber(chunk[i + 1]), id, p, g, h}
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
local out, n, last, more, seen = {''}, 0, nil, false, {}
for _, it in ipairs(items) do
  if frontier ~= nil and it[1] < frontier then more = true break end
  if not seen[it[2]] then
    if n == limit then more = true break end
    seen[it[2]] = true
    n = n + 1
    last = it[1]
    out[#out + 1] = {it[2], it[3], it[4], it[5]}
  end
end
if n == limit and (more or frontier ~= nil) then
  out[1] = string.format('%.0f', last)
elseif frontier ~= nil then
  out[1] = string.format('%.0f', frontier)
end
return out
`)
