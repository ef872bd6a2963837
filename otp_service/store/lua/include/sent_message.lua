-- Shared by the scripts that take Telnyx events (prepended when loaded): did the
-- verification in `vkey` send message `message_id` (its latest, or one before)?
-- Returns the verification's fields `id`, `mi`, `st`, whether it sent the message, and
-- its delivery status `ds`; `id` is false when the number has no verification.
local function sent_message(vkey, message_id)
  local cur = redis.call('HMGET', vkey, 'id', 'mi', 'mp', 'st', 'ds')
  local sent = cur[2] == message_id
  if not sent and cur[3] then
    for id in string.gmatch(cur[3], '[^,]+') do
      if id == message_id then sent = true end
    end
  end
  return cur[1], cur[2], cur[4], sent, cur[5]
end
