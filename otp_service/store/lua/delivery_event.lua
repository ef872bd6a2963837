-- include: owner
-- include: view
-- include: outbox
-- include: delivery_apply
-- include: sent_message
-- Apply one Telnyx delivery event (message.sent / message.finalized) to the verification
-- that sent the message, once per event id (see apply_delivery for the rules).
--
-- An event can overtake the answer to the send itself: while a send is in flight (its
-- undo record is there) an event for a message the verification does not know yet is
-- parked in a list of its own, and record.lua applies it once the message id is known. After a send
-- that timed out (no message id recorded) the first event names the message.
--
-- KEYS[1] phone hash   KEYS[2] event id dedupe key   KEYS[3] the number's undo record
-- KEYS[4] the number's delivery history   KEYS[5] events parked while a send is in flight
-- KEYS[6] outbox stream (a final status is an event: see apply_delivery)
-- ARGV: message_id, status, occurred_at_ms, errors_json, event_type, dedupe_ttl_ms,
--       history_max, cost_json ('' none: Telnyx's cost of the message, kept in the event)
-- A final receipt of an earlier send (a fallback went out after it: its code still works)
-- is not the verification's delivery status, but it is its route's: the internal event
-- verification.earlier_receipt (never sent to an endpoint) has the insights count it.
-- Returns 'updated' | 'kept' | 'parked' | 'duplicate' | 'unknown'
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[6]) then
  return 'duplicate'
end
local id, latest, status, known, delivery = sent_message(KEYS[1], ARGV[1])
if not id then
  return 'unknown'
end

local event = {event_type = ARGV[5], status = ARGV[2], occurred_at = tonumber(ARGV[3]),
               message_id = ARGV[1]}
if ARGV[4] ~= '' then event.errors = cjson.decode(ARGV[4]) end
if ARGV[8] and ARGV[8] ~= '' then event.cost = cjson.decode(ARGV[8]) end

if not known then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    if redis.call('RPUSH', KEYS[5], cjson.encode(event)) > 10 then
      redis.call('LTRIM', KEYS[5], 0, 9)
    end
    redis.call('PEXPIRE', KEYS[5], 300000)
    return 'parked'
  end
  if latest or status ~= 'p' then
    return 'unknown'
  end
  redis.call('HSET', KEYS[1], 'mi', ARGV[1])  -- the send timed out: this is its message
  latest = ARGV[1]
end
local outcome = apply_delivery(KEYS[1], KEYS[4], KEYS[6], event, tonumber(ARGV[7]),
                               {latest, delivery, id})
if latest ~= ARGV[1] and DELIVERY_EVENTS[event.status] then
  emit_verification(KEYS[6], 'verification.earlier_receipt', KEYS[1], KEYS[4],
                    event.occurred_at, ARGV[1])
end
return outcome
