-- include: deadline
-- Keep the opt-out index (for listing and export) in step with the markers: one sorted
-- set of every opted-out number by time, one per source, and a hash of number -> source.
-- Same time rules as optout_mark.lua, so replays cannot make the two disagree.
--
-- KEYS[1] all (zset)  KEYS[2] sources (hash)  KEYS[3..] one zset per source, in SOURCES order
-- ARGV: action ('add' | 'remove'), phone, source_index (1-based, for add), at_ms,
--       deadline_ms: the marker's own (sent with it: after it for an add, before it for a
--       removal, so that one Redis paused between the two leaves the number opted out
--       but not listed, which the operator's retry puts right; store/optouts.py)
-- Returns 1 changed, 0 nothing to change, 'late' (past the deadline: nothing written)
if too_late(tonumber(ARGV[5])) then
  return 'late'
end
local phone = ARGV[2]
local at = tonumber(ARGV[4])
local current = redis.call('ZSCORE', KEYS[1], phone)
if ARGV[1] == 'add' then
  if current then
    return 0
  end
  redis.call('ZADD', KEYS[1], at, phone)
  redis.call('ZADD', KEYS[2 + tonumber(ARGV[3])], at, phone)
  redis.call('HSET', KEYS[2], phone, ARGV[3])
  return 1
end
if not current or tonumber(current) > at then
  return 0
end
local source = redis.call('HGET', KEYS[2], phone)
redis.call('ZREM', KEYS[1], phone)
if source then
  redis.call('ZREM', KEYS[2 + tonumber(source)], phone)
end
redis.call('HDEL', KEYS[2], phone)
return 1
