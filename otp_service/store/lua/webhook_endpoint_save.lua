-- Write (or delete) one webhook endpoint and bump the version workers poll.
-- KEYS[1] endpoints (id -> JSON)   KEYS[2] version   KEYS[3] failing (endpoint -> since)
-- ARGV: id, JSON ('' deletes), mode ('create' | 'update' | 'delete')
-- Returns 1, or 0 when the endpoint exists (create) or does not (update, delete)
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if (ARGV[3] == 'create') == exists then
  return 0
end
if ARGV[3] == 'delete' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('INCR', KEYS[2])
return 1
