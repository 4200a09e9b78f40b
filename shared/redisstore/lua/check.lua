-- This script answers a forward-authentication check (lockbox-check): does
-- the engineer hold a live grant in the tenant naming the resource, at a
-- level that covers the one asked (any grant covers Read)? It reads the
-- engineer's live grants alone (KEYS[1], ids by grant end), and each one's
-- grant key: exact to the instant, as Redis freezes time while it runs.
--
-- Allowed, the use counts toward the grant in the same step: checks and
-- last use on the record, and per resource "<checks>,<first ms>,<last ms>"
-- (field useR:<resource>); the first use of each resource of a grant is an
-- audit event, UseLockboxGrant, naming the method and path.
--
-- Refused, it says why: a pending request of the engineer naming the
-- resource (PendingApproval), else their newest request naming it whose
-- grant ended (GrantEnded, among their last 20 requests), else NoGrant; and
-- records RefuseLockboxAccess at most once per engineer, resource and
-- minute (a marker key living a minute); in a tenant no request was ever
-- filed for, it records nothing.
--
-- Either way the tenant's check counter of the result (allow, or the
-- refusal's code) counts it in the same step. The tenant is among those
-- whose counters are summed (StatsTenantsKey) since its first filing.
--
-- KEYS[1]: the engineer's live grants. A: checkArgs (scripts.go).
-- Returns {"allow", id, access end ms} | {"refuse", code, id or ""}.
local now, resource, asked = A.nowMs, A.resource, string.lower(A.level)
local function names(list) return string.find('\n' .. (list or '') .. '\n', '\n' .. resource .. '\n', 1, true) ~= nil end
local function covers(level) return asked == READ_LEVEL or string.lower(level or '') == asked end
local use = A.method .. ' ' .. A.uri
local function counted(reply, result)
  redis.call('HINCRBY', key('stats'), 'ck:' .. result, 1)
  return reply
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE')) do
  local rk = key('req', id)
  local f = redis.call('HMGET', rk, unpack(F))
  if f[F.status] == S.Approved and names(f[F.resources]) and covers(f[F.level]) and redis.call('EXISTS', key('grant', id)) == 1 then
    local field = 'useR:' .. resource
    local prev = redis.call('HGET', rk, field)
    local checks, first = 1, now
    if prev then
      local n, f1 = string.match(prev, '^(%d+),(%d+),')
      checks, first = tonumber(n) + 1, f1
    end
    redis.call('HSET', rk, field, ms(checks) .. ',' .. first .. ',' .. now, 'useLast', now)
    redis.call('HINCRBY', rk, 'useChecks', 1)
    redis.call('HSETNX', rk, 'useFirst', now)
    if not prev then event(OP_USE_GRANT, id, now, ACTOR_ENGINEER, A.requester, '', '', use, f[F.support]) end
    return counted({'allow', id, f[F.accessExpMs]}, 'allow')
  end
end
-- A tenant no request was ever filed for (its request counter absent)
-- holds nothing to refuse access to: nothing is recorded, so a caller
-- naming made-up tenants writes nothing.
if redis.call('EXISTS', key('seq')) == 0 then return {'refuse', CODE_NO_GRANT, ''} end
local code, rid, support = CODE_NO_GRANT, '', ''
for _, id in ipairs(redis.call('ZRANGE', key('liveReqPend', A.requesterKey), '(' .. now, '+inf', 'BYSCORE', 'LIMIT', 0, 50)) do
  local f = redis.call('HMGET', key('req', id), unpack(F))
  if f[F.status] == S.Pending and names(f[F.resources]) and redis.call('EXISTS', key('pending', id)) == 1 then
    code, rid, support = CODE_PENDING, id, f[F.support]
    break
  end
end
if rid == '' then
  for _, id in ipairs(redis.call('ZREVRANGE', key('byRequester', A.canonical), 0, 19)) do
    local f = redis.call('HMGET', key('req', id), unpack(F))
    if names(f[F.resources]) then
      local st = current(f[F.status], id)
      if st == S.Completed or st == S.Revoked then code, rid, support = CODE_ENDED, id, f[F.support] end
      break
    end
  end
end
local marker = key('refused', A.requesterKey .. ':' .. redis.sha1hex(resource) .. ':' .. ms(math.floor(tonumber(now) / 60000)))
if redis.call('SET', marker, '1', 'NX', 'PX', 60000) then
  event(OP_REFUSE_ACCESS, rid, now, ACTOR_ENGINEER, A.requester, '', '', code .. ' ' .. resource .. ' ' .. use, support)
end
return counted({'refuse', code, rid}, code)
