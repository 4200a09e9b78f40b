-- This script lifts a tenant's lockdown: it deletes the lockdown, appends
-- LiftTenantLockdown and records the tenant's notification (A.note). A
-- lockdown that is not in force (none, or its until passed) is refused.
--
-- KEYS[1]: the lockdown. A: liftArgs (lockdown.go).
-- Returns {"ok"} | a refusal.
local untilMs = redis.call('HGET', KEYS[1], 'until')
if not untilMs or (untilMs ~= '' and tonumber(untilMs) <= tonumber(A.nowMs)) then return fail('notLocked') end
redis.call('DEL', KEYS[1])
event(A.op, '', A.nowMs, A.actorKind, A.actorId, '', '', A.reason, '')
note(A.note, '', A.nowMs, A.actorKind, A.actorId, A.reason)
return {'ok'}
