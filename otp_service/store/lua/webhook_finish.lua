-- Record one delivery attempt: succeeded, due again at next_ms, or failed for good.
-- An endpoint whose every attempt has failed for disable_after_ms is disabled here, in
-- the same step (the caller audits it).
-- KEYS[1] due zset   KEYS[2] the delivery's hash   KEYS[3] failing (endpoint -> since ms)
-- KEYS[4] endpoints (id -> JSON)   KEYS[5] endpoints' version
-- ARGV: delivery id, now_ms, ok (1|0), status code ('' none), error ('' none),
--       next_ms (0: no retry left), endpoint id, disable_after_ms
-- Returns {state, endpoint_disabled (1|0)}; state succeeded | pending | failed | gone
local now = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return {'gone', 0}
end
local attempts = redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('HSET', KEYS[2], 'la', now, 'sc', ARGV[4], 'er', ARGV[5])
local state
if ARGV[3] == '1' then
  state = 'succeeded'
  redis.call('HSET', KEYS[2], 'st', state, 'na', '')
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[7])
  return {state, 0}
end
if tonumber(ARGV[6]) > 0 then
  state = 'pending'
  redis.call('HSET', KEYS[2], 'st', state, 'na', ARGV[6])
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
else
  state = 'failed'
  redis.call('HSET', KEYS[2], 'st', state, 'na', '')
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('HSETNX', KEYS[3], ARGV[7], now)
local since = tonumber(redis.call('HGET', KEYS[3], ARGV[7]))
if now - since < tonumber(ARGV[8]) then
  return {state, 0}
end
local raw = redis.call('HGET', KEYS[4], ARGV[7])
if not raw then
  return {state, 0}
end
local endpoint = cjson.decode(raw)
if not endpoint.enabled then
  return {state, 0}
end
endpoint.enabled = false
endpoint.disabled_reason = 'failing'
redis.call('HSET', KEYS[4], ARGV[7], cjson.encode(endpoint))
redis.call('HDEL', KEYS[3], ARGV[7])
redis.call('INCR', KEYS[5])
return {state, 1}
