-- The late receipts held for their history record (history_late_hold.lua), each with
-- whether its wait is over by Redis's clock.
-- KEYS[1] held receipts (hash: record id -> '<until ms> <JSON>')
-- Returns {record id, value, over (1|0), ...}
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local held = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #held, 2 do
  local space = string.find(held[i + 1], ' ', 1, true)
  local until_ms = space and tonumber(string.sub(held[i + 1], 1, space - 1)) or 0
  out[#out + 1] = held[i]
  out[#out + 1] = held[i + 1]
  out[#out + 1] = (until_ms <= now_ms) and 1 or 0
end
return out
