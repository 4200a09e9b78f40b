-- This script stores a tenant's settings if they are still of the
-- version the caller read (compare-and-swap), with the next version, and
-- records the UpdateLockboxSettings event.
--
-- KEYS[1]: the settings. ARGV: prefix, expected version, doc (with the new
-- version in it), new version, nowMs, actorKind, actorId, reason.
-- Returns {"ok"} | {"stale", version}.
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= ARGV[2] then return {'stale', version} end
redis.call('HSET', KEYS[1], 'doc', ARGV[3], 'version', ARGV[4])
event(OP_SETTINGS, '', ARGV[5], ARGV[6], ARGV[7], '', '', ARGV[8], '')
return {'ok'}
