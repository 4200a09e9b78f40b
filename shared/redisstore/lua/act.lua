-- This script applies one action a caller takes (approve, deny, revoke,
-- cancel) to a request: apply() in the prelude, lockbox.Apply in Lua.
--
-- KEYS[1]: the record. ARGV: prefix, id, action, actorKind, actorId,
-- principal key, reason, nowMs, duration hours ("" when not given),
-- maxAccessMs, max grants per requester, only-requester key ("" for any).
-- Returns {"ok", {the applyFields as read}, {the fields written, as
-- name/value pairs}} | a refusal.
local refused, record = apply(ARGV[2], ARGV[3], {actorKind = ARGV[4], actorId = ARGV[5], principal = ARGV[6], reason = ARGV[7],
  now = ARGV[8], duration = ARGV[9], maxAccess = ARGV[10], maxGrants = ARGV[11], only = ARGV[12]})
if refused then return refused end
return {'ok', record[1], record[2]}
