-- include: deadline
-- include: version
-- Delete a profile and revoke all its keys in the same step; note it for the worker,
-- which then removes its verifications and TOTP factors (profiles/purge.py).
-- KEYS[1] profiles hash   KEYS[2] version   KEYS[3] keys hash   KEYS[4] used hash
-- KEYS[5] the profile's set of key ids   KEYS[6] the deleted profiles still to purge
-- ARGV: id, deadline_ms (deadline.lua: run past it, it writes nothing and answers 'late')
-- 1 deleted, 0 no such profile
if too_late(tonumber(ARGV[2])) then
  return 'late'
end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local ids = redis.call('SMEMBERS', KEYS[5])
for _, id in ipairs(ids) do
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
redis.call('DEL', KEYS[5])
redis.call('SADD', KEYS[6], ARGV[1])
bump_version(KEYS[2])
return 1
