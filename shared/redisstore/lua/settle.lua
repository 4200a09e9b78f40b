-- This script records what time did to one request, as lockbox.Settle
-- specifies: a recorded Pending (or InternalReview) request whose pending key is gone becomes
-- Expired, a recorded Approved one whose grant key is gone Completed. It
-- decides from the TTL keys alone, so it can never record an expiry for a
-- request that an approval won in the same instant. A completed grant's
-- access receipt is recorded in the same step.
--
-- KEYS[1]: the record, whose settleFields (scripts.go) it reads as F. A:
-- settleArgs (scripts.go).
-- Returns {"expire"} | {"expireReview"} | {"complete"} | {"notdue"} | {"none"}.
local id = A.id
local f = redis.call('HMGET', KEYS[1], unpack(F))
local action, live = 'expire', key('pending', id)
if f[F.status] == S.InternalReview then action = 'expireReview' end
local tr = transition(action)
if f[F.status] ~= tr.from then
  action, live = 'complete', key('grant', id)
  tr = transition(action)
  if f[F.status] ~= tr.from then
    redis.call('ZREM', key('due'), 'g:' .. id)
    redis.call('ZREM', key('livePending'), id)
    return {'none'}
  end
end
if redis.call('EXISTS', live) == 1 then return {'notdue'} end
redis.call('HSET', KEYS[1], 'status', tr.to)
redis.call('ZREM', key('status', tr.from), id)
redis.call('ZADD', key('status', tr.to), f[F.seq], id)
if action ~= 'complete' then
  redis.call('ZREM', key('livePending'), id)
  redis.call('ZREM', key('liveReqPend', f[F.requesterKey]), id)
  dropTimers(id, f[F.remind])
else
  redis.call('ZREM', key('due'), 'g:' .. id)
  redis.call('ZREM', key('liveGrants', f[F.requesterKey]), id)
  redis.call('ZREM', key('timers'), 'ending:' .. id)
end
event(tr.op, id, A.nowMs, ACTOR_SYSTEM, SYSTEM_ACTOR, tr.from, tr.to, '', f[F.support])
note(tr.note, id, A.nowMs, ACTOR_SYSTEM, SYSTEM_ACTOR, '')
if tr.receipt then note(NOTE_RECEIPT, id, A.nowMs, ACTOR_SYSTEM, SYSTEM_ACTOR, '') end
count('tr:' .. action)
return {action}
