-- This script records what time did to one request (lockbox.Settle): a
-- recorded Pending request whose pending key is gone becomes Expired, a
-- recorded Approved one whose grant key is gone Completed. It decides from
-- the TTL keys alone, so it can never record an expiry for a request that an
-- approval won in the same instant.
--
-- KEYS[1]: the record. ARGV: prefix, id, nowMs.
-- Returns {"expire"} | {"complete"} | {"notdue"} | {"none"}.
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
