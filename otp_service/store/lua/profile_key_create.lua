-- include: deadline
-- include: version
-- A new API key of an existing profile (its digest, never the key).
-- KEYS[1] profiles hash   KEYS[2] version   KEYS[3] keys hash   KEYS[4] the profile's key ids
-- ARGV: profile id, key id, JSON, deadline_ms (deadline.lua: run past it, it writes
--       nothing and answers 'late')   1 done, 0 no such profile
if too_late(tonumber(ARGV[4])) then
  return 'late'
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[2])
bump_version(KEYS[2])
return 1
