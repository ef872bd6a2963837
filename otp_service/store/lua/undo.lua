-- Roll back the fields create.lua overwrote, when the send provably did not happen.
-- Only the create that saved the undo record (same token) may roll it back.
-- KEYS[1] phone hash   KEYS[2] undo record   ARGV: token
local raw = redis.call('GET', KEYS[2])
if not raw then
  return 0
end
local undo = cjson.decode(raw)
if undo.t ~= ARGV[1] then
  return 0
end
for name, value in pairs(undo.f) do
  if value == false then
    redis.call('HDEL', KEYS[1], name)
  else
    redis.call('HSET', KEYS[1], name, value)
  end
end
redis.call('DEL', KEYS[2])
return 1
