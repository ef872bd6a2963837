-- include: owner
-- include: view
-- include: outbox
-- Fire one due timer of a slot, once: the worker found it due; whichever worker runs this
-- first takes it out of the zset, so no other fires it again. An expiry timer sends
-- verification.expired when the verification is still pending past its expiry (a resend
-- moved the timer; an approval or cancel ended the verification: nothing to send).
-- KEYS[1] the slot's timers   KEYS[2] phone hash   KEYS[3] the number's delivery history
-- KEYS[4] outbox stream
-- ARGV: member, now_ms
-- Returns fired | ended (nothing to do) | later (not due: moved) | gone (fired already)
local now = tonumber(ARGV[2])
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due then
  return 'gone'
end
if tonumber(due) > now then
  return 'later'
end
redis.call('ZREM', KEYS[1], ARGV[1])
local id = string.match(ARGV[1], '([^:]+)$')
local cur = redis.call('HMGET', KEYS[2], 'id', 'st', 'ea')
if cur[1] ~= id or cur[2] ~= 'p' or tonumber(cur[3]) > now then
  return 'ended'
end
emit_verification(KEYS[4], 'verification.expired', KEYS[2], KEYS[3], tonumber(cur[3]))
return 'fired'
