-- One page of an endpoint's deliveries, newest first, after a cursor (the last delivery
-- of the page before): by rank, not by time, since a batch of deliveries shares one
-- millisecond. Ranks counted from the newest move as deliveries are added, hence one step.
-- KEYS[1] the endpoint's index (delivery id -> created ms)
-- ARGV: cursor (a delivery id), count
-- Returns up to count delivery ids; none when the cursor is no longer in the index
local rank = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not rank then
  return {}
end
return redis.call('ZREVRANGE', KEYS[1], rank + 1, rank + tonumber(ARGV[2]))
