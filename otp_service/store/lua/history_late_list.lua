-- include: clock
-- The late receipts held for their history record (history_late_hold.lua), each with
-- whether its wait is over by Redis's clock: at most ARGV[1] of them, so that a look
-- stays bounded however many wait (those it leaves are seen once these are let go).
-- KEYS[1] held receipts (hash: record id -> '<until ms> <JSON>')
-- ARGV: how many at most
-- Returns {record id, value, over (1|0), ...}
local now_ms = redis_now_ms()
local held = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, math.min(#held, 2 * tonumber(ARGV[1])), 2 do
  local until_ms = until_and_rest(held[i + 1])
  out[#out + 1] = held[i]
  out[#out + 1] = held[i + 1]
  out[#out + 1] = (until_ms or 0) <= now_ms and 1 or 0
end
return out
