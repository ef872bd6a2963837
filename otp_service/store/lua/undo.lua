-- Roll back the fields create.lua overwrote, when the send provably did not happen.
-- Only the create that saved the undo record (same token) may roll it back.
-- include: owner
-- The verification's expiry timer goes back with it: removed with a new verification,
-- due again at the old expiry after a resend.
-- KEYS[1] phone hash   KEYS[2] undo record   KEYS[3] the slot's timers   ARGV: token
local raw = redis.call('GET', KEYS[2])
if not raw then
  return 0
end
local undo = cjson.decode(raw)
if undo.t ~= ARGV[1] then
  return 0
end
local tag, profile = key_owner(KEYS[1])
local id = redis.call('HGET', KEYS[1], 'id')
local member = id and ('e:' .. tag .. ':' .. profile .. ':' .. id)
for name, value in pairs(undo.f) do
  if value == false then
    redis.call('HDEL', KEYS[1], name)
  else
    redis.call('HSET', KEYS[1], name, value)
  end
end
redis.call('DEL', KEYS[2])
local expires = redis.call('HGET', KEYS[1], 'ea')
if member then
  if expires and redis.call('HGET', KEYS[1], 'id') == id then
    redis.call('ZADD', KEYS[3], expires, member)
  else
    redis.call('ZREM', KEYS[3], member)
  end
end
return 1
