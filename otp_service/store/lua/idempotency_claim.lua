-- Claim an Idempotency-Key for one request body, or report what happened to it.
-- KEYS[1] idempotency record   ARGV: fingerprint, running_ttl_ms
-- Returns {'new'} | {'conflict'} | {'running'} | {'done', status, body}
local cur = redis.call('HMGET', KEYS[1], 'fp', 'st', 'status', 'body')
if not cur[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'st', 'run')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new'}
end
if cur[1] ~= ARGV[1] then
  return {'conflict'}
end
if cur[2] == 'run' then
  return {'running'}
end
return {'done', cur[3], cur[4]}
