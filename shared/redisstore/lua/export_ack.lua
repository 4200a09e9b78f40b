-- This script acknowledges a written batch if the caller still holds the
-- lock and the head is where the batch started: it advances the head, drops
-- the plan and trims the exported events from the stream.
-- KEYS[1]: the lock. ARGV: prefix, token, expected head seq, new seq, new
-- hash, new last id, trim threshold (MINID).
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 'fenced' end
local seq = redis.call('HGET', key('auditHead'), 'seq') or '0'
if seq ~= ARGV[3] then return 'moved' end
redis.call('HSET', key('auditHead'), 'seq', ARGV[4], 'hash', ARGV[5], 'lastId', ARGV[6])
redis.call('DEL', key('auditPlan'))
redis.call('XTRIM', key('events'), 'MINID', ARGV[7])
return 'ok'
