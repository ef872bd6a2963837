-- include: deadline
-- The SMS-pumping guard's shared counters: per API key, per number prefix, per
-- destination country, per end user's IP and device, and in all; the service's and a
-- profile's own. Checked and counted in one step, in one hash slot of their own
-- (`{guard}`), batched with create.lua so a create stays one round trip.
-- Fixed windows: each counter expires at the end of its window.
--
-- KEYS: the counters
-- ARGV: deadline_ms (see deadline.lua; 0: none), then for each key: limit,
--       window_end_ms, mode ('enforce' | 'shadow': each counter has its own, as the
--       service and a profile each have theirs)
-- Returns {'ok'} | {'refused', index, window_end_ms} | {'shadow', index, window_end_ms}
--         | {'late'} (past the deadline: nothing counted)
-- Nothing is counted when an enforcing counter is at its limit; otherwise everything is
-- counted and the first shadow counter past its limit is reported.
if too_late(tonumber(ARGV[1])) then
  return {'late'}
end
local refused, shadowed
for i, key in ipairs(KEYS) do
  local at = 3 * i - 1
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[at]) then
    if ARGV[at + 2] == 'enforce' then
      refused = refused or i
    else
      shadowed = shadowed or i
    end
  end
end
if refused then
  return {'refused', refused, ARGV[3 * refused]}
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIREAT', key, ARGV[3 * i])
  end
end
if shadowed then
  return {'shadow', shadowed, ARGV[3 * shadowed]}
end
return {'ok'}
