-- include: owner
-- Roll back the fields create.lua overwrote, when the send provably did not happen.
-- Only the create that saved the undo record (same token) may roll it back. The expiry
-- timer it added goes too (a resend's previous one is still in its own bucket).
-- KEYS[1] phone hash   KEYS[2] undo record   KEYS[3] the shard's timer buckets
-- KEYS[4] the bucket create.lua added the expiry to   ARGV: token, the bucket's name
local raw = redis.call('GET', KEYS[2])
if not raw then
  return 0
end
local undo = cjson.decode(raw)
if undo.t ~= ARGV[1] then
  return 0
end
if redis.call('HEXISTS', KEYS[1], 'id') == 1 then
  local tag = key_owner(KEYS[1])
  redis.call('LREM', KEYS[4], -1, tag)
  if redis.call('EXISTS', KEYS[4]) == 0 then
    redis.call('ZREM', KEYS[3], ARGV[2])
  end
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
