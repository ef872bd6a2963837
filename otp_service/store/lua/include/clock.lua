-- Shared by the scripts that time things on Redis's clock, not on the callers' (prepended
-- when loaded): hosts' clocks may disagree, Redis's is the one they all share.
local function redis_now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end

-- a value kept as '<until ms> <rest>' (a note with its time to end): until ms (nil if
-- it has none), rest
local function until_and_rest(value)
  local space = string.find(value, ' ', 1, true)
  if not space then
    return nil, value
  end
  return tonumber(string.sub(value, 1, space - 1)), string.sub(value, space + 1)
end
