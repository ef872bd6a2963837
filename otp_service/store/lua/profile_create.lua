-- include: deadline
-- include: version
-- A new profile, and the version bumped so that every worker reloads.
-- KEYS[1] profiles hash   KEYS[2] version   ARGV: id, JSON, deadline_ms (deadline.lua: run
--       past it, it writes nothing and answers 'late')
if too_late(tonumber(ARGV[3])) then
  return 'late'
end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
bump_version(KEYS[2])
return 1
