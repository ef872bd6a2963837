-- Roll back the fields create.lua overwrote, when the send provably did not happen.
-- Only the create that saved the undo record (same token) may roll it back.
-- KEYS[1] phone hash   ARGV: token
if redis.call('HGET', KEYS[1], 'ut') ~= ARGV[1] then
  return 0
end
local undo = cjson.decode(redis.call('HGET', KEYS[1], 'u'))
for name, value in pairs(undo) do
  if value == false then
    redis.call('HDEL', KEYS[1], name)
  else
    redis.call('HSET', KEYS[1], name, value)
  end
end
redis.call('HDEL', KEYS[1], 'u', 'ut')
return 1
