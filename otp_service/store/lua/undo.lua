-- Roll back the fields create.lua overwrote, when the send provably did not happen.
-- Only the create that saved the undo record (same token) may roll it back.
-- KEYS[1] phone hash   KEYS[2] undo record   KEYS[3] the number's send counters of every
-- profile but the default (create.lua's KEYS[5])   ARGV: token
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
-- shared counters: others may have counted since, so give back one, never restore
if undo.n and KEYS[3] then
  local cur = redis.call('HMGET', KEYS[3], 'hw', 'hc', 'dw', 'dc')
  if cur[1] == undo.n[1] and tonumber(cur[2]) > 0 then
    redis.call('HINCRBY', KEYS[3], 'hc', -1)
  end
  if cur[3] == undo.n[2] and tonumber(cur[4]) > 0 then
    redis.call('HINCRBY', KEYS[3], 'dc', -1)
  end
  local left = redis.call('HMGET', KEYS[3], 'hc', 'dc')
  if tonumber(left[1] or '0') <= 0 and tonumber(left[2] or '0') <= 0 then
    redis.call('DEL', KEYS[3])  -- nothing left to count: as if this create never ran
  end
end
redis.call('DEL', KEYS[2])
return 1
