-- include: owner
-- include: view
-- include: outbox
-- Revoke a factor: its hash and its index entry go at once. The subject hash then keeps
-- the invariant of factor_create.lua: no TTL while an active factor remains, else it
-- expires with its last unverified factor or lock-out, or goes now.
--
-- KEYS[1] factor hash   KEYS[2] subject hash   KEYS[3] outbox stream
-- Event: factor.deleted (a factor that was found)
-- ARGV: now_ms, suffix
-- Returns deleted | not_found (an unverified factor past its expiry is not found)
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'st', 'ea')
local found = f[1] == 'a' or (f[1] == 'u' and tonumber(f[2]) > now)
if found then
  emit_factor(KEYS[3], 'factor.deleted', KEYS[1], now)
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 'x:' .. ARGV[2])

local index = redis.call('HGETALL', KEYS[2])
local keep_until = 0
local active = false
for i = 1, #index, 2 do
  local name, value = index[i], tonumber(index[i + 1])
  if string.sub(name, 1, 2) == 'x:' then
    if value == 0 then
      active = true
    elseif value > now then
      keep_until = math.max(keep_until, value)
    else
      redis.call('HDEL', KEYS[2], name)
    end
  elseif name == 'nu' and value > now then
    keep_until = math.max(keep_until, value)
  end
end
if not active then
  if keep_until > now then
    redis.call('PEXPIRE', KEYS[2], keep_until - now)
  else
    redis.call('DEL', KEYS[2])
  end
end
if found then
  return 'deleted'
end
return 'not_found'
