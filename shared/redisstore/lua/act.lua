-- This script applies one action a caller takes (approve, deny, revoke,
-- cancel) to a request: apply() in the prelude.
--
-- KEYS[1]: the record. A: actArgs (scripts.go).
-- Returns {"ok", {the applyFields as read}, {the fields written, as
-- name/value pairs}} | a refusal. An action that ends a grant (revoke: Go
-- says so, A.endsGrant, which spares a table from transition()) also
-- answers the whole record, as a 4th element: its usage, which apply()
-- does not read, is part of the answer.
--
-- Passkeys: the tenant's settings hold the requirePasskey setting as
-- "passkey" ("" off, "*" every request, or "\nlevel\n…" lowercased). A
-- person's decision (approve, deny, revoke; not the system's, such as a
-- ticket's close, nor the provider's internal review or a cancel) it
-- covers is refused without a passkey
-- signature (pkSig), and one with a signature is refused when its
-- statement was used before, its passkey was removed meanwhile, or its
-- counter did not move on; all before anything is written.
local decision = (A.action == 'approve' or A.action == 'deny' or A.action == 'revoke') and A.principal ~= ''
if decision and A.pkSig == '' then
  local need = redis.call('HGET', key('settings'), 'passkey')
  if need and need ~= '' then
    if need == '*' then return fail('passkey') end
    local doc = redis.call('HGET', KEYS[1], 'doc')
    if doc then
      local level = cjson.decode(doc).accessLevel
      if type(level) == 'string' and level ~= '' and string.find(need, '\n' .. string.lower(level) .. '\n', 1, true) then
        return fail('passkey')
      end
    end
  end
end
local pk, counter
if A.pkSig ~= '' then
  pk = key('passkeys', A.pkUser)
  if redis.call('HEXISTS', pk, A.pkCred) == 0 then return fail('pkRefused', 'the passkey is not registered') end
  if redis.call('EXISTS', key('pkOnce', A.pkDigest)) == 1 then return fail('pkRefused', 'this statement was used before') end
  counter = tonumber(redis.call('HGET', pk, 'n:' .. A.pkCred) or '0')
  local n = tonumber(A.pkCount)
  if (n ~= 0 or counter ~= 0) and n <= counter then
    return fail('pkRefused', 'the authenticator counter did not increase: the passkey may be cloned')
  end
end
local refused, record = apply(A.id, A.action, {actorKind = A.actorKind, actorId = A.actorId, principal = A.principal,
  reason = A.reason, now = A.nowMs, duration = A.duration, maxAccess = A.maxAccessMs, maxGrants = A.maxGrants, only = A.only,
  hide = A.hide, pendingTTL = A.pendingTTLms})
if refused then return refused end
if pk then
  local list = redis.call('HGET', KEYS[1], 'passkeys')
  if not list or list == '' then list = '[' .. A.pkSig .. ']' else list = string.sub(list, 1, -2) .. ',' .. A.pkSig .. ']' end
  redis.call('HSET', KEYS[1], 'passkeys', list)
  redis.call('HSET', pk, 'n:' .. A.pkCred, A.pkCount)
  redis.call('SET', key('pkOnce', A.pkDigest), '1', 'PX', A.pkOnceMs)
  local written = record[2]
  written[#written + 1], written[#written + 2] = 'passkeys', list
  local st, support = unpack(redis.call('HMGET', KEYS[1], 'status', 'support'))
  event(OP_SIGN_DECISION, A.id, A.nowMs, A.actorKind, A.actorId, st, st, A.pkSig, support)
end
if A.endsGrant == '1' then return {'ok', record[1], record[2], redis.call('HGETALL', KEYS[1])} end
return {'ok', record[1], record[2]}
