-- This script stores a tenant's settings if they are still of the
-- version the caller read (compare-and-swap), with the next version, and
-- records the UpdateLockboxSettings event.
--
-- KEYS[1]: the settings. A: settingsArgs (scripts.go).
-- Returns {"ok"} | {"stale", version}.
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= A.expected then return {'stale', version} end
-- passkey is the requirePasskey setting as the act script reads it, and
-- breakGlass the breakGlass setting as apply() reads it ("deny" or "").
redis.call('HSET', KEYS[1], 'doc', A.doc, 'version', A.version, 'passkey', A.passkey, 'breakGlass', A.breakGlass)
event(OP_SETTINGS, '', A.nowMs, A.actorKind, A.actorId, '', '', A.reason, '')
return {'ok'}
