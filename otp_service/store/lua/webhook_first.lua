-- include: version
-- include: endpoint_failing
-- Store a delivery with its first attempt already made: the worker posts an event as
-- it hands it over, then writes what happened, one script a delivery, in one batch.
-- A worker that dies before this leaves the event unacknowledged in the outbox: another
-- hands it over again (at least once). A delivery stored already (that happened, and
-- this is the second hand-over) is left as it is.
-- KEYS[1] due zset   KEYS[2] the delivery's hash   KEYS[3] failing   KEYS[4] endpoints
-- KEYS[5] endpoints' version   KEYS[6] the endpoint's index (delivery id -> created ms)
-- ARGV: delivery id, now_ms, ok (1|0), status code ('' none), error ('' none),
--       next_ms (0: no retry left), endpoint id, disable_after_ms, profile, webhook id,
--       event type, body, keep_ms, index_max
-- Returns {state, endpoint_disabled (1|0)}; state succeeded | pending | failed | exists
local now = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'exists', 0}
end
local state, next_at = 'failed', ''
if ARGV[3] == '1' then
  state = 'succeeded'
elseif tonumber(ARGV[6]) > 0 then
  state, next_at = 'pending', ARGV[6]
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
end
redis.call('HSET', KEYS[2], 'ep', ARGV[7], 'pf', ARGV[9], 'msg', ARGV[10], 't', ARGV[11],
           'body', ARGV[12], 'ca', now, 'n', 1, 'st', state, 'na', next_at, 'la', now,
           'sc', ARGV[4], 'er', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[13])
redis.call('ZADD', KEYS[6], now, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -(tonumber(ARGV[14]) + 1))
redis.call('PEXPIRE', KEYS[6], ARGV[13])
local disabled = endpoint_attempted(KEYS[3], KEYS[4], KEYS[5], ARGV[7], ARGV[3] == '1', now,
                                    tonumber(ARGV[8]))
return {state, disabled}
