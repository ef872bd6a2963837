-- include: owner
-- include: phone_caps
-- Reserve a fallback send of a pending verification whose send failed or got no receipt:
-- a new code, the previous ones kept live (each as 'k<n>': '<send>:<hmac>', at most
-- max_fallbacks of them, so the hash stays small), one send and one fallback more, and
-- the per-number caps counted as a create counts them. Once: only while the send that
-- triggered it is still the latest ('sn'), so a second worker on the same event, or a
-- retried one, reserves nothing. Like create.lua it keeps an undo record, so a send that
-- provably did not happen is rolled back by undo.lua; record.lua confirms the send.
--
-- Never once a code still live has been delivered: the latest send's ('ds'), or an
-- earlier one kept by a fallback before (its receipt came after the next send went out:
-- it is only in the number's delivery history, whose 'send' entries say which send
-- each message carried).
--
-- KEYS[1] phone hash   KEYS[2] opt-out marker   KEYS[3] undo record
-- KEYS[4] the shard's timer buckets   KEYS[5] the no-receipt bucket of the new send
-- KEYS[6] the number's delivery history
-- KEYS[7..] the number's hashes in every other profile (the service's per-number caps)
-- ARGV: id, the triggering send's number, now_ms, code_hmac, max_sends, max_fallbacks,
--       token, guard mode, hour window id, hourly cap, day window id, daily cap,
--       the profile's own guard mode, hourly cap, daily cap,
--       the no-receipt bucket's name ('' none), its end ms
-- Returns {outcome, detail}: reserved | ended | opted_out | delivered | stale |
-- max_fallbacks | max_sends | locked | phone_hourly | phone_daily | profile_phone_hourly |
-- profile_phone_daily; reserved also gives the latest send's own locale and app name
-- (create.lua's 'lo' and 'an'; '' when it had none), which the fallback's text uses
local now = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea', 'sn', 'fb', 'ds', 'nu', 'h', 'ls',
                       'hw', 'hc', 'dw', 'dc', 'lo', 'an')
if cur[1] ~= ARGV[1] or cur[2] ~= 'p' or tonumber(cur[3]) <= now then
  return {'ended', ''}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'opted_out', ''}
end
if cur[6] == 'delivered' then
  return {'delivered', ''}
end
if cur[4] ~= ARGV[2] then
  return {'stale', cur[4]}
end
local done = tonumber(cur[5] or '0')

-- the earlier sends whose codes are live (k<n>: '<send>:<hmac>'; a resend drops them)
local live = {}
for i = 1, done do
  local kept = redis.call('HGET', KEYS[1], 'k' .. i)
  local colon = kept and string.find(kept, ':', 1, true)
  if colon then
    live[string.sub(kept, 1, colon - 1)] = true
  end
end
if next(live) then
  local entries = redis.call('LRANGE', KEYS[6], 0, -1)
  local carried = {}  -- message id -> it carried a live code
  for _, raw in ipairs(entries) do
    local e = cjson.decode(raw)
    if e.v == ARGV[1] and e.event_type == 'send' and e.n and live[tostring(e.n)] then
      carried[e.message_id] = true
    end
  end
  for _, raw in ipairs(entries) do
    local e = cjson.decode(raw)
    if e.v == ARGV[1] and e.status == 'delivered' and carried[e.message_id] then
      return {'delivered', ''}
    end
  end
end

if done >= tonumber(ARGV[6]) then
  return {'max_fallbacks', ''}
end
local sends = tonumber(cur[4])
if sends >= tonumber(ARGV[5]) then
  return {'max_sends', ''}
end
if cur[7] and tonumber(cur[7]) > now then
  return {'locked', cur[7]}
end

local hour_count, day_count, all_hour, all_day =
  phone_counts({cur[10], cur[11], cur[12], cur[13]}, ARGV[9], ARGV[11], 7)
local function over(mode, name, hour, day, hour_cap, day_cap)
  if mode ~= 'enforce' then
    return nil
  end
  return (cap_reached(name, hour, day, hour_cap, day_cap))
end
local refused = over(ARGV[8], 'phone_', all_hour, all_day, ARGV[10], ARGV[12])
  or over(ARGV[13], 'profile_phone_', hour_count, day_count, ARGV[14], ARGV[15])
if refused then
  return {refused, ''}
end

local slot = 'k' .. (done + 1)
local fields = {h = cur[8], sn = cur[4], ls = cur[9], fb = cur[5] or false,
                hw = cur[10] or false, hc = cur[11] or false, dw = cur[12] or false,
                dc = cur[13] or false}
fields[slot] = false
redis.call('SET', KEYS[3], cjson.encode({t = ARGV[7], f = fields}), 'PX', 300000)
redis.call('HSET', KEYS[1], slot, cur[4] .. ':' .. cur[8], 'h', ARGV[4], 'sn', sends + 1,
           'ls', now, 'fb', done + 1, 'hw', ARGV[9], 'hc', hour_count + 1,
           'dw', ARGV[11], 'dc', day_count + 1)
if ARGV[16] ~= '' then
  local tag = key_owner(KEYS[1])
  redis.call('RPUSH', KEYS[5], tag)
  redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[17]) - now + 86400000)
  redis.call('ZADD', KEYS[4], ARGV[17], ARGV[16])
end
return {'reserved', tostring(sends + 1), cur[14] or '', cur[15] or ''}
