-- include: deadline
-- include: version
-- Replace a profile only if it is still what the caller read (compare and set).
-- KEYS[1] profiles hash   KEYS[2] version   ARGV: id, JSON read, new JSON, deadline_ms
-- (deadline.lua: run past it, it writes nothing and answers 'late')
-- 1 done, 0 no such profile, -1 changed since it was read (read again)
if too_late(tonumber(ARGV[4])) then
  return 'late'
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  return 0
end
if current ~= ARGV[2] then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
bump_version(KEYS[2])
return 1
