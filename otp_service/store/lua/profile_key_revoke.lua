-- include: deadline
-- include: version
-- Revoke one key of one profile.
-- KEYS[1] version   KEYS[2] keys hash   KEYS[3] used hash   KEYS[4] the profile's key ids
-- ARGV: key id, deadline_ms (deadline.lua: run past it, it writes nothing and answers
--       'late')   1 revoked, 0 no such key in this profile
if too_late(tonumber(ARGV[2])) then
  return 'late'
end
if redis.call('SREM', KEYS[4], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
bump_version(KEYS[1])
return 1
