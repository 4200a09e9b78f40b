-- This script records one attempt: sent (A.outcome "sent"), or failed with
-- A.error as the error and A.next the next attempt's time ("" when it is
-- dead-lettered). Only a delivery still "sending" is changed, so a late
-- result of a run whose lease ran out does not undo a newer one. A finished
-- delivery (sent, or failed for good) drops the request it carried and is
-- kept for A.retentionMs (DeliveryRetention), as is its request's index of
-- deliveries and its place among the dead letters.
-- KEYS[1]: the delivery. A: resultArgs (notify.go).
if redis.call('HGET', KEYS[1], 'state') ~= 'sending' then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local function finished(state, err)
  local keep = tonumber(A.retentionMs)
  redis.call('HSET', KEYS[1], 'state', state, 'updated', A.nowMs, 'next', '', 'error', err)
  redis.call('HDEL', KEYS[1], 'snap')
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('PEXPIRE', key('deliveries', redis.call('HGET', KEYS[1], 'request')), keep)
  redis.call('ZREM', key('sendq'), A.id)
end
if A.outcome == 'sent' then
  finished('sent', '')
elseif A.next == '' then
  finished('failed', A.error)
  redis.call('ZADD', key('dead'), A.nowMs, A.id)
  redis.call('ZREMRANGEBYSCORE', key('dead'), '-inf', '(' .. ms(tonumber(A.nowMs) - tonumber(A.retentionMs)))
else
  redis.call('HSET', KEYS[1], 'state', 'retrying', 'updated', A.nowMs, 'next', A.next, 'error', A.error)
  redis.call('ZADD', key('sendq'), A.next, A.id)
end
return 1
