-- This script files a request under the tenant's settings: record, pending
-- TTL key, indexes, deadline and the CreateLockboxRequest event, all at
-- once, and the automatic decision the settings took (apply), if any.
--
-- The caller decided from the settings of the version it passes; when the
-- tenant's settings are of another version now, nothing is written and the
-- script answers {"settings", version, doc}, for the caller to decide again.
-- With an idempotency key it then looks for a request filed under that key:
-- the same body gets {"replay", id} (a retried delivery, even byte-identical
-- and carrying a signature seen before, gets the original), another body the
-- idemReused refusal. A ticketing system's delivery is also looked for by
-- the hash of its signed body (bodyHash): the same body under any delivery
-- id gets {"replay", id} too. A record of this very id already there means the
-- script ran before for this call (a client resending it after a dropped
-- connection, as go-redis's cluster pipelines do): {"exists"}, and the call
-- answers with that request. Then a tenant locked down refuses it (the
-- lockdown's key, lockdown.lua: {"err", "locked", until ms or ""}), so that
-- nothing is filed after the lockdown's step; a retry or replay of a filing
-- made before it still answers that filing. Then a signed delivery seen before is refused
-- (replayed), and the usage caps are enforced: live pending requests of the
-- tenant and of the requester, live grants of the requester ({"err", "cap",
-- which, earliest end ms}).
--
-- A request the provider's policy sends to internal review (A.review, the
-- internal approvals it needs, above 0) is filed InternalReview: its pending
-- key lives for the review window, it is marked internal (hidden from the
-- customer), nobody is notified and the automatic decision waits in the
-- record for its release (prelude's release()).
--
-- Emergency access (A.emergency, the customer's review window, above 0) is
-- filed so too: its provider-approvers' approvals start its grant at once
-- (prelude's apply, emergencyApprove). A filing the tenant's settings of
-- this version refuse outright (A.refused, breakGlass "deny") is refused
-- after the lockdown's check: {"err", "refused"}.
--
-- KEYS[1]: the record. A: createArgs (scripts.go).
-- Returns {"created"} | {"replay", id} | {"exists"} | {"settings", version,
-- doc} | a refusal.
local id, doc, createdMs, expMs = A.id, A.doc, A.createdMs, A.expMs
local requester, requesterKey, canonical, filedBy = A.requester, A.requesterKey, A.canonical, A.filedBy
local support, idemHash, idemVal = A.support, A.idemHash, A.idemVal
local version = redis.call('HGET', key('settings'), 'version') or '0'
if version ~= A.version then return {'settings', version, redis.call('HGET', key('settings'), 'doc') or ''} end
local sigKey = false
if A.sigHash ~= '' then sigKey = key('sig', A.sigHash) end
local function seen()
  if sigKey then redis.call('SET', sigKey, '1', 'PX', A.sigTTLms) end
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
if A.bodyHash ~= '' then
  local prev = redis.call('GET', key('idem', A.bodyHash))
  if prev then
    seen()
    return {'replay', string.sub(prev, string.find(prev, ':', 1, true) + 1)}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local lockedUntil = redis.call('HGET', key('lockdown'), 'until')
if lockedUntil and (lockedUntil == '' or tonumber(lockedUntil) > tonumber(createdMs)) then return fail('locked', lockedUntil) end
if A.refused == '1' then return fail('refused') end
if sigKey and redis.call('EXISTS', sigKey) == 1 then return fail('replayed') end
local caps = {{key('livePending'), A.maxPending, 'pending'}, {key('liveReqPend', requesterKey), A.maxRequesterPending, 'requesterPending'},
  {key('liveGrants', requesterKey), A.maxGrants, 'grants'}}
for _, cap in ipairs(caps) do
  local refused = overCap(cap[1], cap[2], cap[3], createdMs)
  if refused then return refused end
end
local seq = redis.call('INCR', key('seq'))
local review = A.review ~= '0'
local status = S.Pending
if review then status = S.InternalReview end
redis.call('HSET', KEYS[1], 'doc', doc, 'status', status, 'seq', seq, 'requester', requester, 'requesterKey', requesterKey,
  'filedBy', filedBy, 'duration', A.duration, 'grantMs', A.grantMs, 'support', support, 'expMs', expMs,
  'required', A.required, 'maxGrantMs', A.maxGrantMs, 'remind', A.remind, 'resources', A.resources, 'level', A.level)
if review then
  -- The provider's internal review holds it: hidden from the customer, no
  -- reminders yet, and the tenant's automatic decision kept for the release.
  redis.call('HSET', KEYS[1], 'internal', '1', 'reviewReq', A.review, 'escalateMs', A.escalateMs, 'autoAction', A.autoAction,
    'autoActor', A.autoActor, 'autoReason', A.autoReason)
  if A.emergency ~= '0' then redis.call('HSET', KEYS[1], 'emergency', A.emergency) end
end
local timers = {}
for offset in string.gmatch(review and '' or A.remind, '[^,]+') do
  timers[#timers + 1] = ms(tonumber(expMs) - tonumber(offset))
  timers[#timers + 1] = 'remind:' .. id .. ':' .. offset
end
if A.escalateMs ~= '0' and not review then
  timers[#timers + 1] = ms(tonumber(createdMs) + tonumber(A.escalateMs))
  timers[#timers + 1] = 'escalate:' .. id
end
if #timers > 0 then redis.call('ZADD', key('timers'), unpack(timers)) end
redis.call('SET', key('pending', id), '1', 'PX', A.pendingTTLms)
redis.call('ZADD', key('all'), seq, id)
redis.call('ZADD', key('status', status), seq, id)
redis.call('ZADD', key('byRequester', canonical), seq, id)
redis.call('ZADD', key('bySupport', support), seq, id)
redis.call('ZADD', key('livePending'), expMs, id)
redis.call('ZADD', key('liveReqPend', requesterKey), expMs, id)
event(OP_CREATE, id, createdMs, ACTOR_ENGINEER, requester, '', status, '', support)
-- The tenant's first counter: the answer says so ("new"), for StatsTenantsKey.
local firstCount = redis.call('HINCRBY', key('stats'), 'tr:file', 1) == 1 and redis.call('HLEN', key('stats')) == 1
if review then
  -- The customer is told nothing yet; of emergency access, the provider's
  -- own approvers are (the provider-wide webhook alone).
  if A.emergency ~= '0' then note(NOTE_EMERGENCY_REQUESTED, id, createdMs, ACTOR_ENGINEER, requester, '') end
elseif A.autoAction ~= '' then
  local refused = apply(id, A.autoAction, {actorKind = ACTOR_SYSTEM, actorId = A.autoActor, principal = '', reason = A.autoReason,
    now = createdMs, duration = '', maxAccess = A.maxAccessMs, maxGrants = A.maxGrants, only = '', hide = '', pendingTTL = '0'})
  if refused then return refused end
else
  note(NOTE_CREATED, id, createdMs, ACTOR_ENGINEER, requester, '')
end
if idemHash ~= '' then redis.call('SET', key('idem', idemHash), idemVal, 'PX', A.idemTTLms) end
if A.bodyHash ~= '' then redis.call('SET', key('idem', A.bodyHash), A.bodyHash .. ':' .. id, 'PX', A.idemTTLms) end
seen()
if firstCount then return {'created', 'new'} end
return {'created'}
