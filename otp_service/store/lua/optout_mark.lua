-- include: deadline
-- Set or lift the opt-out marker of one phone number (the marker create.lua checks).
-- Never lets an older event undo a newer one: a lift only removes a marker set at or
-- before it, and a set never replaces an existing marker (the first opt-out stands).
--
-- KEYS[1] opt-out marker   KEYS[2] event id dedupe key (or the marker again: no dedupe)
-- ARGV: action ('add' | 'remove'), phone, source, at_ms, dedupe_ttl_ms, deadline_ms
--       (deadline.lua: an operator's change; 0 for every other source, never dropped)
-- Returns 'added' | 'exists' | 'removed' | 'absent' | 'newer' | 'duplicate'
--         | 'late' (past the deadline: nothing written)
if too_late(tonumber(ARGV[6])) then
  return 'late'
end
if KEYS[2] ~= KEYS[1] then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[5]) then
    return 'duplicate'
  end
end
if ARGV[1] == 'add' then
  if redis.call('HSETNX', KEYS[1], 'at', ARGV[4]) == 0 then
    return 'exists'
  end
  redis.call('HSET', KEYS[1], 'ph', ARGV[2], 'src', ARGV[3])
  return 'added'
end
local at = redis.call('HGET', KEYS[1], 'at')
if not at then
  return 'absent'
end
if tonumber(at) > tonumber(ARGV[4]) then
  return 'newer'
end
redis.call('DEL', KEYS[1])
return 'removed'
