-- This script adds or removes a person's passkey, and records it in the
-- audit log (RegisterLockboxPasskey, RemoveLockboxPasskey).
--
-- KEYS[1]: the person's passkeys (key('passkeys', user)): "<id>" → the
-- passkey's JSON while it is live, "x:<id>" once removed, "n:<id>" its
-- counter. A: passkeyArgs (scripts.go).
-- Returns {"ok"} | {"err", "pkMany"} | {"err", "pkExists"} | {"err", "notfound"}.
local pk = KEYS[1]
if A.mode == 'add' then
  if redis.call('HEXISTS', pk, A.cred) == 1 or redis.call('HEXISTS', pk, 'x:' .. A.cred) == 1 then return fail('pkExists') end
  local live = 0
  for _, f in ipairs(redis.call('HKEYS', pk)) do
    if not string.find(f, ':', 1, true) then live = live + 1 end
  end
  if live >= tonumber(A.max) then return fail('pkMany') end
  redis.call('HSET', pk, A.cred, A.doc, 'n:' .. A.cred, A.count)
  redis.call('SADD', key('pkUsers'), A.user)
  event(OP_PASSKEY_ADD, '', A.nowMs, A.actorKind, A.actorId, '', '', A.reason, '')
else
  if redis.call('HEXISTS', pk, A.cred) == 0 then return fail('notfound') end
  redis.call('HDEL', pk, A.cred)
  redis.call('HSET', pk, 'x:' .. A.cred, A.doc)
  event(OP_PASSKEY_REMOVE, '', A.nowMs, A.actorKind, A.actorId, '', '', A.reason, '')
end
return {'ok'}
