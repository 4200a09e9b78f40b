-- This script creates the deliveries of one notification and drops it from
-- the outbox, at once; a delivery that exists already (an earlier run that
-- died before dropping the entry) is kept as it is.
-- KEYS[1]: the outbox. A: expandArgs (notify.go), then R, the arguments of
-- each delivery (deliveryArgs).
-- Returns the number of deliveries created.
local created = 0
for i = #A + 1, #ARGV, #R do
  local dk = key('delivery', ARGV[i + R.id])
  if redis.call('EXISTS', dk) == 0 then
    redis.call('HSET', dk, 'note', A.entryId, 'request', A.requestId, 'snap', A.snap, 'channel', ARGV[i + R.channel],
      'target', ARGV[i + R.target], 'type', ARGV[i + R.type], 'time', ARGV[i + R.timeMs], 'actorKind', ARGV[i + R.actorKind],
      'actorId', ARGV[i + R.actorId], 'reason', ARGV[i + R.reason], 'state', 'pending',
      'attempts', 0, 'created', A.nowMs, 'updated', A.nowMs, 'next', A.nowMs)
    redis.call('ZADD', key('sendq'), A.nowMs, ARGV[i + R.id])
    redis.call('ZADD', key('deliveries', A.requestId), A.nowMs, ARGV[i + R.id])
    redis.call('PERSIST', key('deliveries', A.requestId))
    created = created + 1
  end
end
redis.call('XDEL', KEYS[1], A.entryId)
return created
