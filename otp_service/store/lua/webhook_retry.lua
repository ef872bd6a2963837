-- include: deadline
-- Make deliveries due now again (an operator's retry, or a replay of the failed ones):
-- one more attempt each, on the schedule's last step if it fails again. 'rq' (asked at)
-- keeps a retry asked while an attempt is under way: webhook_finish.lua makes it due
-- again if that attempt fails (the next claim removes it).
-- KEYS[1] due zset   KEYS[2] an endpoint's index (delivery id -> created ms)
-- ARGV: prefix, now_ms, mode ('one' | 'failed_since'), delivery id | since_ms,
--       deadline_ms (deadline.lua: run past it, it writes nothing and answers 'late')
-- Returns the number of deliveries made due
if too_late(tonumber(ARGV[5])) then
  return 'late'
end
local prefix, now = ARGV[1], tonumber(ARGV[2])
local ids
if ARGV[3] == 'one' then
  ids = {ARGV[4]}
else
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[4], '+inf')
end
local count = 0
for _, id in ipairs(ids) do
  local dkey = prefix .. ':d:' .. id
  local st = redis.call('HGET', dkey, 'st')
  if st and (ARGV[3] == 'one' or st == 'failed') then
    redis.call('HSET', dkey, 'st', 'pending', 'na', now, 'rt', 1, 'rq', now)
    redis.call('ZADD', KEYS[1], now, id)
    count = count + 1
  end
end
return count
