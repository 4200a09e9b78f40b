-- This script releases the lock if it is still the caller's.
-- KEYS[1]: the lock. A: unlockArgs (auditlog.go).
if redis.call('GET', KEYS[1]) == A.token then return redis.call('DEL', KEYS[1]) end
return 0
