-- This script records a plan if the caller still holds the lock.
-- KEYS[1]: the lock. ARGV: prefix, token, from, to, count.
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 'fenced' end
redis.call('HSET', key('auditPlan'), 'from', ARGV[3], 'to', ARGV[4], 'count', ARGV[5])
return 'ok'
