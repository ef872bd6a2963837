-- Shared by delivery_event.lua and record.lua (prepended when the scripts are loaded).
-- Record one delivery event on the verification in KEYS[1]: always in its history (the
-- last `history_max` kept), and as its delivery status only when the event is about its
-- current message and moves the status forward (a final status is never left).
local DELIVERY_RANK = {queued = 1, sending = 2, sent = 3, delivered = 4, delivery_failed = 4,
                       sending_failed = 4, delivery_unconfirmed = 4, expired = 4}

local function apply_delivery(key, event, history_max)
  local cur = redis.call('HMGET', key, 'mi', 'ds', 'dh')
  local history = cur[3] and cjson.decode(cur[3]) or {}
  table.insert(history, event)
  while #history > history_max do table.remove(history, 1) end
  redis.call('HSET', key, 'dh', cjson.encode(history))
  local new_rank = DELIVERY_RANK[event.status] or 0
  local old_rank = cur[2] and (DELIVERY_RANK[cur[2]] or 0) or 0
  if cur[1] ~= event.message_id or new_rank == 0 or new_rank <= old_rank then
    return 'kept'
  end
  redis.call('HSET', key, 'ds', event.status, 'du', event.occurred_at)
  if event.errors then
    redis.call('HSET', key, 'de', cjson.encode(event.errors))
  end
  return 'updated'
end
