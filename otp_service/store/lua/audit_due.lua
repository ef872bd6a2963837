-- include: clock
-- The admin changes under way past their time to end, by Redis's clock (audit_open.lua):
-- the ones the worker files as unconfirmed (admin/audit.py).
--
-- KEYS[1] the changes under way (hash: token -> '<until ms> <note>')
-- Returns {token, note, token, note, ...}
local now_ms = redis_now_ms()
local open = redis.call('HGETALL', KEYS[1])
local due = {}
for i = 1, #open, 2 do
  local until_ms, note = until_and_rest(open[i + 1])
  if until_ms and until_ms <= now_ms then
    due[#due + 1] = open[i]
    due[#due + 1] = note
  end
end
return due
