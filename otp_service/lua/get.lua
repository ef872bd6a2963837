-- include: view
-- A verification and its delivery history, in one round trip.
-- KEYS[1] phone hash   KEYS[2] the number's delivery history   ARGV: id
-- Returns {view fields, history} or nil when the number's latest verification is another
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  return nil
end
return {view(KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
