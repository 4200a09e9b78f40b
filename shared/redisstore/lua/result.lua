-- This script records one attempt: sent (ARGV[3] "sent"), or failed with
-- ARGV[4] as the error and ARGV[5] the next attempt's time ("" when it is
-- dead-lettered). Only a delivery still "sending" is changed, so a late
-- result of a run whose lease ran out does not undo a newer one. A finished
-- delivery (sent, or failed for good) drops the request it carried and is
-- kept for ARGV[7] ms (DeliveryRetention), as is its request's index of
-- deliveries and its place among the dead letters.
-- KEYS[1]: the delivery. ARGV: prefix, nowMs, outcome, error, next, id,
-- retention ms.
if redis.call('HGET', KEYS[1], 'state') ~= 'sending' then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local function finished(state, err)
  local keep = tonumber(ARGV[7])
  redis.call('HSET', KEYS[1], 'state', state, 'updated', ARGV[2], 'next', '', 'error', err)
  redis.call('HDEL', KEYS[1], 'snap')
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('PEXPIRE', key('deliveries', redis.call('HGET', KEYS[1], 'request')), keep)
  redis.call('ZREM', key('sendq'), ARGV[6])
end
if ARGV[3] == 'sent' then
  finished('sent', '')
elseif ARGV[5] == '' then
  finished('failed', ARGV[4])
  redis.call('ZADD', key('dead'), ARGV[2], ARGV[6])
  redis.call('ZREMRANGEBYSCORE', key('dead'), '-inf', '(' .. ms(tonumber(ARGV[2]) - tonumber(ARGV[7])))
else
  redis.call('HSET', KEYS[1], 'state', 'retrying', 'updated', ARGV[2], 'next', ARGV[5], 'error', ARGV[4])
  redis.call('ZADD', key('sendq'), ARGV[5], ARGV[6])
end
return 1
