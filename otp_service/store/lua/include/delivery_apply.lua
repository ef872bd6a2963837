-- Shared by delivery_event.lua and record.lua (prepended when the scripts are loaded).
-- Record one delivery event on the verification in `vkey`: always in the number's history
-- list `hkey` (tagged with the verification's id; the last `history_max` kept, for as
-- long as the verification), and as its delivery status only when the event is about
-- its current message and moves the status forward (a final status is never left).
-- The history lives in a list of its own so the verification hash stays small.
-- A final status is an event in the outbox `stream` (outbox.lua, loaded before this):
-- verification.delivered, or verification.delivery_failed with Telnyx's errors; the
-- others (delivery_unconfirmed, expired) are the internal verification.final_receipt,
-- never sent out: the worker adds it to the history record of a verification that
-- ended before it came, and counts Telnyx's cost of the message.
-- `cur` is {mi, ds, id} of the verification when the caller has just read them (nil:
-- read here).
local DELIVERY_EVENTS = {delivered = 'verification.delivered',
                         delivery_failed = 'verification.delivery_failed',
                         sending_failed = 'verification.delivery_failed'}
local OTHER_FINAL = {delivery_unconfirmed = true, expired = true}
local DELIVERY_RANK = {queued = 1, sending = 2, sent = 3, delivered = 4, delivery_failed = 4,
                       sending_failed = 4, delivery_unconfirmed = 4, expired = 4}

local function apply_delivery(vkey, hkey, stream, event, history_max, cur)
  cur = cur or redis.call('HMGET', vkey, 'mi', 'ds', 'id')
  event.v = cur[3]
  if redis.call('RPUSH', hkey, cjson.encode(event)) > history_max then
    redis.call('LTRIM', hkey, -history_max, -1)
  end
  local ttl = redis.call('PTTL', vkey)
  if ttl > 0 then
    redis.call('PEXPIRE', hkey, ttl)
  end
  local new_rank = DELIVERY_RANK[event.status] or 0
  local old_rank = cur[2] and (DELIVERY_RANK[cur[2]] or 0) or 0
  if cur[1] ~= event.message_id or new_rank == 0 or new_rank <= old_rank then
    return 'kept'
  end
  redis.call('HSET', vkey, 'ds', event.status, 'du', event.occurred_at)
  if event.errors then
    redis.call('HSET', vkey, 'de', cjson.encode(event.errors))
  end
  if DELIVERY_EVENTS[event.status] then
    emit_verification(stream, DELIVERY_EVENTS[event.status], vkey, hkey, event.occurred_at)
  elseif OTHER_FINAL[event.status] then
    emit_verification(stream, 'verification.final_receipt', vkey, hkey, event.occurred_at)
  end
  return 'updated'
end
