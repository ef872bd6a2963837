-- include: owner
-- include: view
-- include: outbox
-- Fire one no-receipt timer: when the send it was set for is still the verification's
-- latest, still pending and without a 'delivered' receipt, the outbox gets the internal
-- event verification.no_receipt (never sent to an endpoint), which the worker's fallback
-- acts on. A second firing (two workers, a redone bucket) adds a second event; the
-- fallback it asks for is reserved once (fallback.lua checks the send number).
-- KEYS[1] phone hash   KEYS[2] the number's delivery history   KEYS[3] outbox stream
-- ARGV: the verification's id suffix, the send's number, now_ms
-- Returns fired | ended
local now = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea', 'sn', 'ds')
if cur[1] ~= ARGV[1] or cur[2] ~= 'p' or tonumber(cur[3]) <= now or cur[4] ~= ARGV[2]
    or cur[5] == 'delivered' then
  return 'ended'
end
emit_verification(KEYS[3], 'verification.no_receipt', KEYS[1], KEYS[2], now)
return 'fired'
