-- include: version
-- include: endpoint_failing
-- Record one delivery attempt: succeeded, due again at next_ms, or failed for good.
-- An endpoint whose every attempt has failed for disable_after_ms is disabled here, in
-- the same step (the caller audits it).
-- KEYS[1] due zset   KEYS[2] the delivery's hash   KEYS[3] failing (endpoint -> since ms)
-- KEYS[4] endpoints (id -> JSON)   KEYS[5] endpoints' version
-- ARGV: delivery id, now_ms, ok (1|0), status code ('' none), error ('' none),
--       next_ms (0: no retry left), endpoint id, disable_after_ms
-- An operator's retry asked while the attempt was under way ('rq': webhook_claim.lua
-- removed any asked before) makes a failed attempt due again now, not at the schedule's
-- next step.
-- Returns {state, endpoint_disabled (1|0)}; state succeeded | pending | failed | gone
local now = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return {'gone', 0}
end
redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('HSET', KEYS[2], 'la', now, 'sc', ARGV[4], 'er', ARGV[5])
local state
if ARGV[3] == '1' then
  state = 'succeeded'
  redis.call('HSET', KEYS[2], 'st', state, 'na', '')
  redis.call('ZREM', KEYS[1], ARGV[1])
elseif redis.call('HEXISTS', KEYS[2], 'rq') == 1 then
  state = 'pending'  -- asked again while this attempt was under way: again, now
  redis.call('HSET', KEYS[2], 'st', state, 'na', now)
  redis.call('HDEL', KEYS[2], 'rq')
  redis.call('ZADD', KEYS[1], now, ARGV[1])
elseif tonumber(ARGV[6]) > 0 then
  state = 'pending'
  redis.call('HSET', KEYS[2], 'st', state, 'na', ARGV[6])
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
else
  state = 'failed'
  redis.call('HSET', KEYS[2], 'st', state, 'na', '')
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local disabled = endpoint_attempted(KEYS[3], KEYS[4], KEYS[5], ARGV[7], ARGV[3] == '1', now,
                                    tonumber(ARGV[8]))
return {state, disabled}
