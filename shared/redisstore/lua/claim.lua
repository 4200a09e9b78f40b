-- This script claims up to ARGV[4] deliveries due by ARGV[2]: each becomes
-- "sending" and due again when the lease (ARGV[3] ms) ends, so that a run
-- that dies mid-send leaves it for another, which sends it again (the same
-- ids: at least once across crashes); while the lease runs nobody else
-- claims it (at most once in normal operation).
-- KEYS[1]: the send queue. ARGV: prefix, nowMs, lease ms, limit.
-- Returns {id, {fields}}... of the claimed deliveries.
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[2], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(due) do
  local dk = key('delivery', id)
  if redis.call('EXISTS', dk) == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    local until_ = ms(tonumber(ARGV[2]) + tonumber(ARGV[3]))
    redis.call('HSET', dk, 'state', 'sending', 'updated', ARGV[2], 'next', until_)
    redis.call('ZADD', KEYS[1], until_, id)
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGETALL', dk)
  end
end
return out
