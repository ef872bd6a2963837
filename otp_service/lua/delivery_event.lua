-- include: delivery_apply
-- Apply one Telnyx delivery event (message.sent / message.finalized) to the verification
-- that sent the message, once per event id (see apply_delivery for the rules).
--
-- An event can overtake the answer to the send itself: while a send is in flight (its
-- undo record is there) an event for a message the verification does not know yet is
-- parked in `pe`, and record.lua applies it once the message id is known. After a send
-- that timed out (no message id recorded) the first event names the message.
--
-- KEYS[1] phone hash   KEYS[2] event id dedupe key   KEYS[3] the number's undo record
-- ARGV: message_id, status, occurred_at_ms, errors_json, event_type, dedupe_ttl_ms,
--       history_max
-- Returns 'updated' | 'kept' | 'parked' | 'duplicate' | 'unknown'
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[6]) then
  return 'duplicate'
end
local cur = redis.call('HMGET', KEYS[1], 'id', 'mi', 'mp', 'pe', 'st')
if not cur[1] then
  return 'unknown'
end
local known = cur[2] == ARGV[1]
if not known and cur[3] then
  for id in string.gmatch(cur[3], '[^,]+') do
    if id == ARGV[1] then known = true end
  end
end

local event = {event_type = ARGV[5], status = ARGV[2], occurred_at = tonumber(ARGV[3]),
               message_id = ARGV[1]}
if ARGV[4] ~= '' then event.errors = cjson.decode(ARGV[4]) end

if not known then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    local parked = cur[4] and cjson.decode(cur[4]) or {}
    if #parked < 10 then
      table.insert(parked, event)
      redis.call('HSET', KEYS[1], 'pe', cjson.encode(parked))
    end
    return 'parked'
  end
  if cur[2] or cur[5] ~= 'p' then
    return 'unknown'
  end
  redis.call('HSET', KEYS[1], 'mi', ARGV[1])  -- the send timed out: this is its message
end
return apply_delivery(KEYS[1], event, tonumber(ARGV[7]))
