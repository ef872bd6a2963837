-- Count a click on a link in a message this number's verification sent, once per event.
-- KEYS[1] phone hash   KEYS[2] event dedupe key
-- ARGV: message_id, dedupe_ttl_ms
-- Returns 'counted' | 'duplicate' | 'unknown'
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return 'duplicate'
end
local cur = redis.call('HMGET', KEYS[1], 'id', 'mi', 'mp')
if not cur[1] then
  return 'unknown'
end
local known = cur[2] == ARGV[1]
if not known and cur[3] then
  for id in string.gmatch(cur[3], '[^,]+') do
    if id == ARGV[1] then known = true end
  end
end
if not known then
  return 'unknown'
end
redis.call('HINCRBY', KEYS[1], 'lc', 1)
return 'counted'
