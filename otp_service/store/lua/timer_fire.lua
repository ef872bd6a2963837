-- include: owner
-- include: view
-- include: outbox
-- Fire one verification's expiry: verification.expired when it is still pending past its
-- expiry, once ('xe' marks it: two workers on one bucket, or one that redoes a bucket
-- after another died, send it once). A resend moved the expiry later (its new bucket
-- fires it then); an approval or a cancel ended it: nothing to send. The timer names the
-- number, not the verification: whichever of its verifications is pending past its
-- expiry now is the one to expire (a newer one's own timer then finds it done).
-- KEYS[1] phone hash   KEYS[2] the number's delivery history   KEYS[3] outbox stream
-- ARGV: now_ms
-- Returns fired | later | ended
local now = tonumber(ARGV[1])
local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea', 'xe')
if not cur[1] or cur[2] ~= 'p' or cur[4] then
  return 'ended'
end
if tonumber(cur[3]) > now then
  return 'later'
end
redis.call('HSET', KEYS[1], 'xe', 1)
emit_verification(KEYS[3], 'verification.expired', KEYS[1], KEYS[2], tonumber(cur[3]))
return 'fired'
