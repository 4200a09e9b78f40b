-- This script acknowledges a written batch if the caller still holds the
-- lock and the head is where the batch started: it advances the head, drops
-- the plan and trims the exported events from the stream. The head keeps
-- when (ms): the tenant's last successful export, which Stats reads.
-- KEYS[1]: the lock. A: ackArgs (auditlog.go).
if redis.call('GET', KEYS[1]) ~= A.token then return 'fenced' end
local seq = redis.call('HGET', key('auditHead'), 'seq') or '0'
if seq ~= A.headSeq then return 'moved' end
redis.call('HSET', key('auditHead'), 'seq', A.seq, 'hash', A.hash, 'lastId', A.lastId, 'ms', A.nowMs)
redis.call('DEL', key('auditPlan'))
redis.call('XTRIM', key('events'), 'MINID', A.minId)
return 'ok'
