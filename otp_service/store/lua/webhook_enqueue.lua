-- include: deadline
-- Store the deliveries of one event to its endpoints, each due now. Idempotent: a
-- delivery that exists already (the same event handed over twice, after a worker died
-- between this and acknowledging the outbox entry) is left as it is.
-- Every key is in the {webhooks} slot; a delivery's hash and an endpoint's index are
-- named from ARGV[1] (the slot's key prefix) as store/webhooks.py names them.
-- KEYS[1] due zset (delivery id -> next attempt ms)
-- ARGV: prefix, now_ms, keep_ms, index_max, then for each delivery:
--       id, endpoint id, profile, webhook id, event type, body; last, deadline_ms
--       (deadline.lua: run past it, it writes nothing and answers 'late')
-- Returns the number of deliveries stored
if too_late(tonumber(ARGV[#ARGV])) then
  return 'late'
end
local prefix, now, keep, index_max = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local stored = 0
for i = 5, #ARGV - 1, 6 do
  local id, endpoint = ARGV[i], ARGV[i + 1]
  local dkey = prefix .. ':d:' .. id
  if redis.call('EXISTS', dkey) == 0 then
    redis.call('HSET', dkey, 'ep', endpoint, 'pf', ARGV[i + 2], 'msg', ARGV[i + 3],
               't', ARGV[i + 4], 'body', ARGV[i + 5], 'ca', now, 'n', 0, 'st', 'pending',
               'na', now)
    redis.call('PEXPIRE', dkey, keep)
    redis.call('ZADD', KEYS[1], now, id)
    local index = prefix .. ':ep:' .. endpoint
    redis.call('ZADD', index, now, id)
    redis.call('ZREMRANGEBYRANK', index, 0, -(index_max + 1))
    redis.call('PEXPIRE', index, keep)
    stored = stored + 1
  end
end
return stored
