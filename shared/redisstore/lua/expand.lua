-- This script creates the deliveries of one notification and drops it from
-- the outbox, at once; a delivery that exists already (an earlier run that
-- died before dropping the entry) is kept as it is.
-- KEYS[1]: the outbox. ARGV: prefix, entry id, nowMs, requestId, the
-- request as it stood (JSON: every attempt of a delivery says the same),
-- then per delivery: id, channel, target, type, timeMs, actorKind, actorId,
-- reason.
-- Returns the number of deliveries created.
local created = 0
for i = 6, #ARGV, 8 do
  local dk = key('delivery', ARGV[i])
  if redis.call('EXISTS', dk) == 0 then
    redis.call('HSET', dk, 'note', ARGV[2], 'request', ARGV[4], 'snap', ARGV[5], 'channel', ARGV[i + 1], 'target', ARGV[i + 2], 'type', ARGV[i + 3],
      'time', ARGV[i + 4], 'actorKind', ARGV[i + 5], 'actorId', ARGV[i + 6], 'reason', ARGV[i + 7], 'state', 'pending',
      'attempts', 0, 'created', ARGV[3], 'updated', ARGV[3], 'next', ARGV[3])
    redis.call('ZADD', key('sendq'), ARGV[3], ARGV[i])
    redis.call('ZADD', key('deliveries', ARGV[4]), ARGV[3], ARGV[i])
    redis.call('PERSIST', key('deliveries', ARGV[4]))
    created = created + 1
  end
end
redis.call('XDEL', KEYS[1], ARGV[2])
return created
