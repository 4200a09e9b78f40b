-- This script records the customer's review of emergency access (break-
-- glass): the verdict, who gave it, why and when on the record; the
-- request leaves the unreviewed set and its review deadline's timer; the
-- verdict's audit event (A.op: AcknowledgeEmergencyAccess or
-- DisputeEmergencyAccess, the request's status unchanged); a dispute's
-- notification (the tenant's webhooks and the provider's). Refused: a
-- request not found or that the customer never saw (its internal review
-- still holds it, or ended it), one that is no emergency access, one the
-- reviewer filed or is named on (A.principal, their key), and one reviewed
-- before.
--
-- KEYS[1]: the record. A: reviewArgs (emergency.go).
-- Returns {"ok", the whole record, whether its grant's key lives (0/1)} |
-- a refusal.
local st, internal, emergency, verdict, support, rkey, filedBy = unpack(redis.call('HMGET', KEYS[1], 'status', 'internal', 'emergency',
  'reviewVerdict', 'support', 'requesterKey', 'filedBy'))
if not st or internal == '1' then return fail('notfound') end
if not emergency or emergency == '' then return fail('notEmergency') end
if A.principal == rkey or A.principal == filedBy then return fail('own', 'review') end
if verdict and verdict ~= '' then return fail('reviewed', verdict) end
redis.call('HSET', KEYS[1], 'reviewVerdict', A.verdict, 'reviewBy', A.actorId, 'reviewReason', A.reason, 'reviewMs', A.nowMs)
redis.call('ZREM', key('unreviewed'), A.id)
redis.call('ZREM', key('timers'), 'review:' .. A.id)
st = current(st, A.id)
event(A.op, A.id, A.nowMs, A.actorKind, A.actorId, st, st, A.reason, support)
if A.verdict == 'dispute' then note(NOTE_EMERGENCY_DISPUTED, A.id, A.nowMs, A.actorKind, A.actorId, A.reason) end
count('tr:' .. A.verdict)
return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('EXISTS', key('grant', A.id))}
