-- Claim deliveries that are due: each gets a lease (its due time moved to now + lease),
-- so a worker that dies mid-delivery leaves it due again once the lease ends, and no
-- other worker takes it meanwhile. An operator's retry noted on it ('rq') is served by
-- this attempt: the note goes (webhook_finish.lua makes a failed attempt due again at
-- once only for a retry asked after its claim: no clock of two hosts is compared).
-- KEYS[1] due zset   ARGV: prefix, now_ms, lease_ms, count
-- Returns a flat list: id, endpoint id, webhook id, event type, body, attempts, ...
local prefix, now = ARGV[1], tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local key = prefix .. ':d:' .. id
  local d = redis.call('HMGET', key, 'ep', 'msg', 't', 'body', 'n', 'st', 'rq')
  if not d[1] or d[6] ~= 'pending' then
    redis.call('ZREM', KEYS[1], id)  -- expired, or finished by a worker whose lease ran out
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
    if d[7] then
      redis.call('HDEL', key, 'rq')
    end
    for _, value in ipairs({id, d[1], d[2], d[3], d[4], d[5]}) do
      out[#out + 1] = value
    end
  end
end
return out
