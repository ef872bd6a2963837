-- Shared by the scripts that send a code (prepended when loaded): the SMS-pumping
-- guard's per-number caps, counted in fixed hour and day windows kept in each profile's
-- hash of the number ('hw', 'hc', 'dw', 'dc'). A profile's own caps count its hash; the
-- service's count the number's hashes in every profile (KEYS[first_other..], all in the
-- number's slot).

-- (this profile's hour, day, every profile's hour, day) sends to the number; `own` is
-- this profile's {hw, hc, dw, dc}
local function phone_counts(own, hour_window, day_window, first_other)
  local function counts(values)
    local hour = values[1] == hour_window and tonumber(values[2]) or 0
    local day = values[3] == day_window and tonumber(values[4]) or 0
    return hour, day
  end
  local hour, day = counts(own)
  local all_hour, all_day = hour, day
  for i = first_other, #KEYS do
    local other_hour, other_day = counts(redis.call('HMGET', KEYS[i], 'hw', 'hc', 'dw', 'dc'))
    all_hour, all_day = all_hour + other_hour, all_day + other_day
  end
  return hour, day, all_hour, all_day
end

-- the cap one more send would pass ('<name>hourly' or '<name>daily') and its window
-- ('hour' | 'day'), or nil
local function cap_reached(name, hour, day, hour_cap, day_cap)
  if hour >= tonumber(hour_cap) then
    return name .. 'hourly', 'hour'
  elseif day >= tonumber(day_cap) then
    return name .. 'daily', 'day'
  end
  return nil
end
