-- include: clock
-- Hold a late receipt whose verification has no history record yet (another worker may
-- be writing it), or let one go: compare-and-set, as workers hold receipts of the same
-- verification at once. The wait is timed on Redis's clock, from the first receipt held.
-- KEYS[1] held receipts (hash: record id -> '<until ms> <JSON>')
-- ARGV: record id, the value as read ('' none), the new JSON ('' let it go), wait ms
-- Returns 1, or false when the value is no longer the one read (read it again)
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then
  return false
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
local wait = tonumber(ARGV[4])
local until_ms = current ~= '' and until_and_rest(current) or redis_now_ms() + wait
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', until_ms) .. ' ' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], wait * 10)  -- left by workers that all stopped: it goes
return 1
