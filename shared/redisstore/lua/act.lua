-- This script applies one action a caller takes (approve, deny, revoke,
-- cancel) to a request: apply() in the prelude.
--
-- KEYS[1]: the record. A: actArgs (scripts.go).
-- Returns {"ok", {the applyFields as read}, {the fields written, as
-- name/value pairs}} | a refusal. An action that ends a grant (revoke) also
-- answers the whole record, as a 4th element: its usage, which apply()
-- does not read, is part of the answer.
local refused, record = apply(A.id, A.action, {actorKind = A.actorKind, actorId = A.actorId, principal = A.principal,
  reason = A.reason, now = A.nowMs, duration = A.duration, maxAccess = A.maxAccessMs, maxGrants = A.maxGrants, only = A.only,
  hide = A.hide, pendingTTL = A.pendingTTLms})
if refused then return refused end
if transition(A.action).from == S.Approved then return {'ok', record[1], record[2], redis.call('HGETALL', KEYS[1])} end
return {'ok', record[1], record[2]}
