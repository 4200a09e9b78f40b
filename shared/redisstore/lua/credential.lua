-- This script records a credential issued for a grant (lockbox-credential):
-- the request must be the engineer's own (requesterKey) and its grant live,
-- exact to the instant; then the grant's usage counts it (useCreds, first
-- and last use) and IssueLockboxCredential is recorded, naming the
-- certificate's serial and the key's fingerprint, before the certificate is
-- signed.
--
-- KEYS[1]: the record. A: credentialArgs (scripts.go).
-- Returns {"ok", {the record, as HGETALL answers it}} | a refusal
-- (notfound, or notLive with the effective status).
local id, now = A.id, A.nowMs
local f = redis.call('HMGET', KEYS[1], unpack(F))
if not f[F.status] or f[F.requesterKey] ~= A.requesterKey then return fail('notfound') end
local st = current(f[F.status], id)
if st ~= S.Approved then return fail('notLive', st) end
redis.call('HINCRBY', KEYS[1], 'useCreds', 1)
redis.call('HSETNX', KEYS[1], 'useFirst', now)
redis.call('HSET', KEYS[1], 'useLast', now)
event(OP_ISSUE_CREDENTIAL, id, now, ACTOR_ENGINEER, A.requester, '', '', A.what, f[F.support])
return {'ok', redis.call('HGETALL', KEYS[1])}
