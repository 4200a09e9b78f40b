-- This script records a plan if the caller still holds the lock.
-- KEYS[1]: the lock. A: planArgs (auditlog.go).
if redis.call('GET', KEYS[1]) ~= A.token then return 'fenced' end
redis.call('HSET', key('auditPlan'), 'from', A.from, 'to', A.to, 'count', A.count)
return 'ok'
