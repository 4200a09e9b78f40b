-- This script claims up to A.limit deliveries due by A.nowMs: each becomes
-- "sending" and due again when the lease (A.leaseMs) ends, so that a run
-- that dies mid-send leaves it for another, which sends it again (the same
-- ids: at least once across crashes); while the lease runs nobody else
-- claims it (at most once in normal operation).
-- KEYS[1]: the send queue. A: claimArgs (notify.go).
-- Returns {id, {fields}}... of the claimed deliveries.
local due = redis.call('ZRANGE', KEYS[1], '-inf', A.nowMs, 'BYSCORE', 'LIMIT', 0, tonumber(A.limit))
local out = {}
for _, id in ipairs(due) do
  local dk = key('delivery', id)
  if redis.call('EXISTS', dk) == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    local until_ = ms(tonumber(A.nowMs) + tonumber(A.leaseMs))
    redis.call('HSET', dk, 'state', 'sending', 'updated', A.nowMs, 'next', until_)
    redis.call('ZADD', KEYS[1], until_, id)
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGETALL', dk)
  end
end
return out
