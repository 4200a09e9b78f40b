-- This script locks a tenant down, in one atomic step: every request of a
-- status lockbox.LockdownEnds lists (the repeated arguments R: a status and
-- the action that ends it: a live grant is revoked, a waiting request
-- canceled) is ended by apply(), as an act of the tenant's admin, with its
-- usual audit event (RevokeLockboxRequest, CancelLockboxRequest), its
-- notification and, for a grant, its access receipt; then the lockdown is
-- recorded (since, until, reason, by), LockdownTenant appended and the
-- tenant's own notification (A.note) recorded. From this step on, the
-- create script refuses every filing of the tenant (it reads the same key).
--
-- The work is one apply() per entry of those statuses' indexes: the live
-- ones (at most max_pending_per_tenant waiting, and
-- max_active_grants_per_requester grants per engineer) and those whose
-- window or grant ended and that the sweep has not recorded yet, which
-- apply() refuses before writing (their effective status is another) and
-- are skipped. A request a segregation-of-duties rule would keep from its
-- own revoker is ended too: the lockdown is no one's own request
-- (principal '').
--
-- KEYS[1]: the lockdown. A: lockdownArgs (lockdown.go), then R: lockdownEndArgs.
-- Returns {"ok", {action, {ids ended}}...}.
local o = {actorKind = A.actorKind, actorId = A.actorId, principal = '', reason = A.reason, now = A.nowMs, duration = '',
  maxAccess = '0', maxGrants = '0', only = ''}
local ended = {}
for i = #A + 1, #ARGV, #R do
  local a, done = ARGV[i + R.action], {}
  for _, id in ipairs(redis.call('ZRANGE', key('status', ARGV[i + R.status]), 0, -1)) do
    if not apply(id, a, o) then done[#done + 1] = id end
  end
  ended[#ended + 1] = {a, done}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'since', A.nowMs, 'until', A.untilMs, 'reason', A.reason, 'by', A.actorId)
if A.untilMs ~= '' then redis.call('PEXPIRE', KEYS[1], A.keepMs) end
event(A.op, '', A.nowMs, A.actorKind, A.actorId, '', '', A.auditReason, '')
note(A.note, '', A.nowMs, A.actorKind, A.actorId, A.auditReason)
return {'ok', ended}
