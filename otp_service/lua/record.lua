-- Record the outcome of a send on the verification that asked for it, and drop its undo
-- record: from now on the new code stands.
-- KEYS[1] phone hash
-- ARGV: id, token, message_id ('' if unknown), sender, delivery_status ('' if unknown),
--       now_ms, errors_json ('' for none)
-- Returns {outcome, detail, fields...}; outcome recorded | gone
local cur = redis.call('HMGET', KEYS[1], 'id', 'mi', 'mp', 'ut')
if cur[1] ~= ARGV[1] then
  return {'gone', ''}
end
if ARGV[3] ~= '' then
  if cur[2] then
    local previous = cur[3] and (cur[3] .. ',' .. cur[2]) or cur[2]
    redis.call('HSET', KEYS[1], 'mp', previous)
  end
  redis.call('HSET', KEYS[1], 'mi', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'mi')
end
redis.call('HSET', KEYS[1], 'sd', ARGV[4], 'du', ARGV[6])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'ds', ARGV[5])
else
  redis.call('HDEL', KEYS[1], 'ds')
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], 'de', ARGV[7])
else
  redis.call('HDEL', KEYS[1], 'de')
end
if cur[4] == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'u', 'ut')
end
return {'recorded', '', unpack(redis.call('HGETALL', KEYS[1]))}
