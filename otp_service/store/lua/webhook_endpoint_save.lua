-- include: deadline
-- include: version
-- Write (or delete) one webhook endpoint and bump the version workers poll.
-- KEYS[1] endpoints (id -> JSON)   KEYS[2] version   KEYS[3] failing (endpoint -> since)
-- ARGV: id, JSON ('' deletes), mode ('create' | 'update' | 'delete'), and for an update
--       the JSON it was made from ('' for none): if another change came first, nothing
--       is written and the caller makes its change again over that one; and '1' when
--       the update restarts the endpoint's failing clock (turned back on, a new URL);
--       and deadline_ms (deadline.lua: run past it, it writes nothing: 'late')
-- Returns 1, or 0 when the endpoint exists (create), does not (update, delete), or is no
-- longer the JSON the update was made from
if too_late(tonumber(ARGV[6])) then
  return 'late'
end
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if (ARGV[3] == 'create') == exists then
  return 0
end
if ARGV[3] == 'update' and (ARGV[4] or '') ~= ''
    and redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[4] then
  return 0
end
if ARGV[3] == 'delete' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  if ARGV[5] == '1' then
    redis.call('HDEL', KEYS[3], ARGV[1])
  end
end
bump_version(KEYS[2])
return 1
