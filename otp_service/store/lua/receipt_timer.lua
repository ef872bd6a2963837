-- include: owner
-- include: view
-- include: outbox
-- Fire one no-receipt timer: when the number's verification is still pending, its
-- latest send has no 'delivered' receipt and was due in this bucket or before, the outbox
-- gets the internal event verification.no_receipt (never sent to an endpoint), which the
-- worker's fallback acts on. The timer names the number only: a send whose own timer
-- ends after this bucket (a newer verification, a resend, a fallback) is left to that
-- timer. A second firing (two workers, a redone bucket) adds a second event; the
-- fallback it asks for is reserved once (fallback.lua checks the send number).
-- KEYS[1] phone hash   KEYS[2] the number's delivery history   KEYS[3] outbox stream
-- ARGV: the bucket's end ms, the no-receipt window ms, now_ms
-- Returns fired | later | ended
local now = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea', 'ls', 'ds')
if not cur[1] or cur[2] ~= 'p' or tonumber(cur[3]) <= now or cur[5] == 'delivered' then
  return 'ended'
end
if tonumber(cur[4]) + tonumber(ARGV[2]) >= tonumber(ARGV[1]) then
  return 'later'
end
emit_verification(KEYS[3], 'verification.no_receipt', KEYS[1], KEYS[2], now)
return 'fired'
