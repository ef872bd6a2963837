-- Enrol a TOTP factor: an unverified factor hash that expires, indexed in its subject's
-- hash. Index entries of unverified factors that expired are pruned first; a subject has
-- at most max_factors factors.
--
-- Invariant kept by every factor script: the subject hash has no TTL while the subject
-- has an active factor; otherwise it expires with its last unverified factor or lock-out.
--
-- KEYS[1] factor hash   KEYS[2] subject hash (x:<suffix> -> expires_at ms, 0 = active;
--                                             nf consecutive failures; nu locked until ms)
-- ARGV: now_ms, expires_at_ms, ttl_ms, max_factors, suffix, subject, issuer, label,
--       algorithm, digits, period, ciphertext
-- Returns {outcome, detail}: created | too_many
local now = tonumber(ARGV[1])
local index = redis.call('HGETALL', KEYS[2])
local count = 0
for i = 1, #index, 2 do
  if string.sub(index[i], 1, 2) == 'x:' then
    local expires = tonumber(index[i + 1])
    if expires ~= 0 and expires <= now then
      redis.call('HDEL', KEYS[2], index[i])
    else
      count = count + 1
    end
  end
end
if count >= tonumber(ARGV[4]) then
  return {'too_many', count}
end

local ttl = tonumber(ARGV[3])
local persistent = redis.call('PTTL', KEYS[2]) == -1
redis.call('HSET', KEYS[1], 'sb', ARGV[6], 'st', 'u', 'ca', now, 'ea', ARGV[2],
           'is', ARGV[7], 'lb', ARGV[8], 'al', ARGV[9], 'dg', ARGV[10], 'pd', ARGV[11],
           'ct', ARGV[12])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[2], 'x:' .. ARGV[5], ARGV[2])
if not persistent and redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {'created', count + 1}
