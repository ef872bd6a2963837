-- include: deadline
-- The SMS-pumping guard's shared counters: per API key, per number prefix, per
-- destination country, and in all. Checked and counted in one step, in one hash slot of
-- their own (`{guard}`), batched with create.lua so a create stays one round trip.
-- Fixed windows: each counter expires at the end of its window.
--
-- KEYS: the counters
-- ARGV: mode ('enforce' | 'shadow'), now_ms, deadline_ms (see deadline.lua; 0: none),
--       then for each key: limit, window_end_ms
-- Returns {'ok'} | {'refused', index, window_end_ms} | {'shadow', index, window_end_ms}
--         | {'late'} (past the deadline: nothing counted)
-- In 'enforce' mode nothing is counted when a limit is reached; in 'shadow' mode
-- everything is counted and the first limit that would have refused is reported.
if too_late(tonumber(ARGV[3])) then
  return {'late'}
end
local over, over_end
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + 2 * i])
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= limit and not over then
    over, over_end = i, ARGV[3 + 2 * i]
  end
end
if over and ARGV[1] == 'enforce' then
  return {'refused', over, over_end}
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIREAT', key, ARGV[3 + 2 * i])
  end
end
if over then
  return {'shadow', over, over_end}
end
return {'ok'}
