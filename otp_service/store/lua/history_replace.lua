-- Replace an ended verification's record (a delivery receipt came after it ended): the
-- new record is appended to the day's stream, the old entry deleted, and the number's
-- index names the new entry instead.
-- KEYS[1] the day's stream   KEYS[2] the day's index hash for the number's first tag character
-- ARGV: the old entry's id, the record (JSON), field (the rest of the tag), expire at (unix s)
-- Returns the new entry's id, or false when the old entry is gone (replaced meanwhile)
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then
  return false
end
local id = redis.call('XADD', KEYS[1], '*', 'r', ARGV[2])
local ids = {}
for known in string.gmatch(redis.call('HGET', KEYS[2], ARGV[3]) or '', '[^,]+') do
  if known ~= ARGV[1] then
    ids[#ids + 1] = known
  end
end
ids[#ids + 1] = id
redis.call('HSET', KEYS[2], ARGV[3], table.concat(ids, ','))
redis.call('EXPIREAT', KEYS[2], ARGV[4])
return id
