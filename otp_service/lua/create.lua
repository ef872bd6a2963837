-- Create a verification for a phone number, or resend a new code for its pending one.
-- One atomic step: opt-out, lock-out, cooldown and send limits are checked before any
-- write. The fields it overwrites are saved in `u` (undo) until record.lua confirms the
-- send, so a send that provably failed can be rolled back by undo.lua.
--
-- KEYS[1] phone hash (latest verification + per-phone counters)   KEYS[2] opt-out marker
-- ARGV: now_ms, phone, new_id, code_hmac, ttl_ms, max_sends, cooldown_ms, channel,
--       keep_ms (how long a finished verification stays readable), token
-- Returns {outcome, detail, fields...} with outcome one of:
--   created | resent | opted_out | locked | cooldown | max_sends
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'opted_out', ''}
end

local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea', 'sn', 'ls', 'nu')
if cur[6] and tonumber(cur[6]) > now then
  return {'locked', cur[6]}
end

local VFIELDS = {'ph', 'id', 'st', 'ch', 'ca', 'ea', 'h', 'at', 'sn', 'ls',
                 'sd', 'mi', 'mp', 'ds', 'du', 'de', 'dh', 'lc'}
local RESEND_FIELDS = {'h', 'sn', 'ls', 'ea', 'ch'}

local function save_undo(names)
  local old = redis.call('HMGET', KEYS[1], unpack(names))
  local undo = {}
  for i, name in ipairs(names) do
    undo[name] = old[i] or false
  end
  redis.call('HSET', KEYS[1], 'u', cjson.encode(undo), 'ut', ARGV[10])
end

local ttl = tonumber(ARGV[5])
local outcome
if cur[1] and cur[2] == 'p' and tonumber(cur[3]) > now then
  local sends = tonumber(cur[4])
  if sends >= tonumber(ARGV[6]) then
    return {'max_sends', cur[3]}
  end
  local ready = tonumber(cur[5]) + tonumber(ARGV[7])
  if now < ready then
    return {'cooldown', tostring(ready)}
  end
  save_undo(RESEND_FIELDS)
  redis.call('HSET', KEYS[1], 'h', ARGV[4], 'sn', sends + 1, 'ls', now,
             'ea', now + ttl, 'ch', ARGV[8])
  outcome = 'resent'
else
  save_undo(VFIELDS)
  redis.call('HDEL', KEYS[1], 'sd', 'mi', 'mp', 'ds', 'du', 'de', 'dh', 'lc')
  redis.call('HSET', KEYS[1], 'ph', ARGV[2], 'id', ARGV[3], 'st', 'p', 'ch', ARGV[8],
             'ca', now, 'ea', now + ttl, 'h', ARGV[4], 'at', 0, 'sn', 1, 'ls', now)
  outcome = 'created'
end

local keep_until = ttl + tonumber(ARGV[9])
if redis.call('PTTL', KEYS[1]) < keep_until then
  redis.call('PEXPIRE', KEYS[1], keep_until)
end
return {outcome, '', unpack(redis.call('HGETALL', KEYS[1]))}
