-- The admin changes under way past their time to end, by Redis's clock (audit_open.lua):
-- the ones the worker files as unconfirmed (admin/audit.py).
--
-- KEYS[1] the changes under way (hash: token -> '<until ms> <note>')
-- Returns {token, note, token, note, ...}
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local open = redis.call('HGETALL', KEYS[1])
local due = {}
for i = 1, #open, 2 do
  local space = string.find(open[i + 1], ' ', 1, true)
  if space and tonumber(string.sub(open[i + 1], 1, space - 1)) <= now_ms then
    due[#due + 1] = open[i]
    due[#due + 1] = string.sub(open[i + 1], space + 1)
  end
end
return due
