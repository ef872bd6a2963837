-- include: owner
-- include: view
-- include: outbox
-- include: delivery_apply
-- Record the outcome of a send on the verification that asked for it, and drop its undo
-- record: from now on the new code stands. Delivery events that arrived before this
-- answer (parked by delivery_event.lua) are applied now.
-- KEYS[1] phone hash   KEYS[2] undo record   KEYS[3] delivery history   KEYS[4] parked events
-- KEYS[5] outbox stream
-- Events: verification.created (its first send recorded: Telnyx took it, or it timed out,
-- or a test number's), then verification.sent (Telnyx's message id known) or
-- verification.delivery_failed (refused for good, e.g. the recipient opted out: the
-- verification ends there, and the internal verification.send_refused has the worker
-- write its history record).
-- A fallback send (fallback.lua reserved it) is also verification.fallback_sent.
-- ARGV: id, token, message_id ('' if unknown), sender, delivery_status ('' if unknown),
--       now_ms, errors_json ('' for none), status ('' to keep, 'f' when the send failed
--       for good, e.g. the recipient opted out), history_max, why this sender ('': the
--       configured order; kept as 'cb' only otherwise), a fallback's trigger ('': none)
-- Returns {outcome, detail, history, view fields}; outcome recorded | gone
local cur = redis.call('HMGET', KEYS[1], 'id', 'mi', 'mp', 'sd', 'sn', 'cb')
if cur[1] ~= ARGV[1] then
  return {'gone', ''}
end
-- a resend: the send before it goes into the number's history, so the verification's
-- history record has every send (the hash keeps only the latest: a verification sent
-- once costs nothing more; the API's delivery history leaves these entries out)
local undo = redis.call('GET', KEYS[2])
undo = undo and cjson.decode(undo)
if cur[5] ~= '1' and cur[4] and undo and undo.t == ARGV[2] and undo.f.ls then
  local before = {event_type = 'send', occurred_at = tonumber(undo.f.ls), sender = cur[4],
                  message_id = cur[2] or '', v = ARGV[1], n = tonumber(cur[5]) - 1,
                  cb = cur[6]}
  if redis.call('RPUSH', KEYS[3], cjson.encode(before)) > tonumber(ARGV[9]) then
    redis.call('LTRIM', KEYS[3], -tonumber(ARGV[9]), -1)
  end
  local vttl = redis.call('PTTL', KEYS[1])
  if vttl > 0 then
    redis.call('PEXPIRE', KEYS[3], vttl)
  end
end
-- the message this verification sent before is kept among the previous ones, so its
-- late delivery events still find the verification (and only add to its history)
if cur[2] then
  local previous = cur[3] and (cur[3] .. ',' .. cur[2]) or cur[2]
  redis.call('HSET', KEYS[1], 'mp', previous)
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'mi', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'mi')
end
redis.call('HSET', KEYS[1], 'sd', ARGV[4], 'du', ARGV[6])
if ARGV[10] and ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'cb', ARGV[10])
else
  redis.call('HDEL', KEYS[1], 'cb')
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'ds', ARGV[5])
else
  redis.call('HDEL', KEYS[1], 'ds')
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], 'de', ARGV[7])
else
  redis.call('HDEL', KEYS[1], 'de')
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'st', ARGV[8])
end
if undo and undo.t == ARGV[2] then
  redis.call('DEL', KEYS[2])
end
local now = tonumber(ARGV[6])
if redis.call('HGET', KEYS[1], 'sn') == '1' then
  emit_verification(KEYS[5], 'verification.created', KEYS[1], KEYS[3], now)
end
if ARGV[8] == 'f' then
  emit_verification(KEYS[5], 'verification.delivery_failed', KEYS[1], KEYS[3], now)
  -- it ended here (no verification.failed: its attempts were not used up); internal, for
  -- its history record
  emit_verification(KEYS[5], 'verification.send_refused', KEYS[1], KEYS[3], now)
elseif ARGV[3] ~= '' then
  emit_verification(KEYS[5], 'verification.sent', KEYS[1], KEYS[3], now)
end
if ARGV[11] and ARGV[11] ~= '' and ARGV[8] ~= 'f' then
  emit_verification(KEYS[5], 'verification.fallback_sent', KEYS[1], KEYS[3], now)
end
local parked = redis.call('LRANGE', KEYS[4], 0, -1)
if #parked > 0 then
  redis.call('DEL', KEYS[4])
  local message_id = ARGV[3]
  for _, raw in ipairs(parked) do
    local event = cjson.decode(raw)
    if message_id == '' and ARGV[8] == '' then
      message_id = event.message_id  -- the send timed out: the early event names it
      redis.call('HSET', KEYS[1], 'mi', message_id)
    end
    if event.message_id == message_id then
      apply_delivery(KEYS[1], KEYS[3], KEYS[5], event, tonumber(ARGV[9]))
    end
  end
end
local history = #parked > 0 and redis.call('LRANGE', KEYS[3], 0, -1) or {}
return {'recorded', '', history, view(KEYS[1])}
