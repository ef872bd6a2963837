-- Index an ended verification under its number in its day's index: the number's field
-- holds the ids of its entries in the day's stream (a number can end twice in a day).
-- KEYS[1] the day's index hash for the number's first tag character
-- ARGV: field (the rest of the tag), the stream entry's id, expire at (unix seconds)
local known = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], known and (known .. ',' .. ARGV[2]) or ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
