-- This script starts pruning a tenant from TenantsKey: when nothing of
-- it is pending, live (nothing due for the sweep), unexported (no events, no
-- export plan) or undelivered (no notification waiting, due or being sent),
-- it returns the seq of the tenant's last audit event ("0": none yet);
-- otherwise false. Every create and settings change appends an event, so an
-- unchanged seq later means that nothing was filed in between.
--
-- KEYS[1]: the audit seq. A: pruneArgs (scripts.go).
if redis.call('ZCARD', key('due')) > 0 or redis.call('ZCARD', key('livePending')) > 0 or redis.call('XLEN', key('events')) > 0 or
  redis.call('EXISTS', key('auditPlan')) == 1 or redis.call('XLEN', key('outbox')) > 0 or redis.call('ZCARD', key('timers')) > 0 or
  redis.call('ZCARD', key('sendq')) > 0 then
  return false
end
return redis.call('GET', KEYS[1]) or '0'
