-- include: owner
-- include: view
-- include: outbox
-- Cancel a pending verification: its code stops working at once (ASVS 2.8.6).
-- KEYS[1] phone hash   KEYS[2] the number's delivery history   KEYS[3] outbox stream
-- ARGV: id, now_ms   Event: verification.canceled
-- Returns {outcome, detail, history, view fields};
-- outcome canceled | unchanged | already_approved | not_found
local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea')
if cur[1] ~= ARGV[1] then
  return {'not_found', ''}
end
if cur[2] == 'a' then
  return {'already_approved', ''}
end
local outcome = 'unchanged'
if cur[2] == 'p' and tonumber(ARGV[2]) < tonumber(cur[3]) then
  redis.call('HSET', KEYS[1], 'st', 'c')
  outcome = 'canceled'
  emit_verification(KEYS[3], 'verification.canceled', KEYS[1], KEYS[2], tonumber(ARGV[2]))
end
return {outcome, '', redis.call('LRANGE', KEYS[2], 0, -1), view(KEYS[1])}
