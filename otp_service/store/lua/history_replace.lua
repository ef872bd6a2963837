-- Replace an ended verification's record (a delivery receipt came after it ended): the
-- day's amended records name the new one under the entry's id. The stream entry stays,
-- with its id: the browse keeps its order, and a cursor given before still goes on from
-- where it stopped (a new entry at the stream's end was skipped by it).
-- KEYS[1] the day's stream   KEYS[2] the day's amended records (entry id -> record)
-- ARGV: the entry's id, the record as read (JSON), the new record (JSON), expire at (unix s)
-- Returns 1, or false when the record is no longer the one read (another worker replaced
-- it meanwhile: read it again) or the entry is gone
local current = redis.call('HGET', KEYS[2], ARGV[1])
if not current then
  local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
  if #found == 0 then
    return false
  end
  local fields = found[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'r' then
      current = fields[i + 1]
    end
  end
end
if current ~= ARGV[2] then
  return false
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('EXPIREAT', KEYS[2], ARGV[4])
return 1
