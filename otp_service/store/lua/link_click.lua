-- include: sent_message
-- Count a click on a link in a message this number's verification sent, once per event.
-- KEYS[1] phone hash   KEYS[2] event dedupe key
-- ARGV: message_id, dedupe_ttl_ms
-- Returns 'counted' | 'duplicate' | 'unknown'
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return 'duplicate'
end
local id, _, _, known = sent_message(KEYS[1], ARGV[1])
if not id or not known then
  return 'unknown'
end
redis.call('HINCRBY', KEYS[1], 'lc', 1)
return 'counted'
