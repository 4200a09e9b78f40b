-- This script releases the lock if it is still the caller's.
-- KEYS[1]: the lock. ARGV: prefix, token.
if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
