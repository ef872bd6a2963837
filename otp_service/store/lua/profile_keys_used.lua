-- Last-used times from one worker: kept only for keys that still exist, never moved back.
-- Does not bump the version (a use changes nothing a worker caches).
-- KEYS[1] keys hash   KEYS[2] used hash   ARGV: key id, ms, key id, ms, ...
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    local seen = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
    if tonumber(ARGV[i + 1]) > seen then
      redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    end
  end
end
return 1
