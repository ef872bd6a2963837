-- include: view
-- A verification and its delivery history, in one round trip.
-- KEYS[1] phone hash   KEYS[2] the number's delivery history   ARGV: id
-- Returns {view fields, history} or nil when the number's latest verification is another
local fields = view(KEYS[1])
if fields[1] ~= ARGV[1] then  -- VIEW_FIELDS starts with the id
  return nil
end
return {fields, redis.call('LRANGE', KEYS[2], 0, -1)}
