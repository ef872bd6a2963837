-- include: deadline
-- include: owner
-- include: phone_caps
-- Create a verification for a phone number, or resend a new code for its pending one.
-- One atomic step: opt-out, lock-out, cooldown and send limits are checked before any
-- write. The fields it overwrites are saved in an undo record until record.lua confirms
-- the send, so a send that provably failed can be rolled back by undo.lua. Run after the
-- service stopped waiting for its answer, it writes nothing: that create sent no message.
--
-- Sends to the number are also counted per hour and per day (the SMS-pumping guard's
-- per-number caps), in fixed windows kept in the profile's hash. The service's caps
-- count every profile's sends to the number, read from each profile's hash (KEYS[6..],
-- all in the number's slot: no key of their own, no write); a profile's own caps count
-- its hash alone.
--
-- KEYS[1] phone hash (latest verification + per-phone counters)   KEYS[2] opt-out marker
-- KEYS[3] undo record (its own short-lived key: kept in the hash, its size would switch
--         the hash to Redis's large encoding for good)
-- KEYS[4] the shard's timer buckets (zset)   KEYS[5] the bucket its expiry falls in (list
--         of numbers' tags: the worker's timer_fire.lua sends verification.expired)
-- KEYS[6] the bucket its no-receipt timer falls in (list of tags: receipt_timer.lua;
--         only when its profile falls back on a missing receipt)
-- A timer holds the number's tag alone (16 bytes a pending verification): the scripts
-- that fire them find the verification it is due for from the number's hash and its
-- times, so no id is needed to tell one verification of the number from the next.
-- KEYS[7..] the number's hashes in every other profile (the default's included)
-- ARGV: now_ms, phone, new_id, code_hmac, ttl_ms, max_sends, cooldown_ms, channel,
--       keep_ms (how long a finished verification stays readable), token,
--       guard mode ('enforce' | 'shadow' | 'off'), hour window id, hourly cap,
--       hour window end ms, day window id, daily cap, day window end ms,
--       deadline_ms (see deadline.lua; 0: none),
--       the profile's own guard mode ('off' when it has none), hourly cap, daily cap,
--       the timer bucket's name in KEYS[4], its end ms,
--       the no-receipt bucket's name in KEYS[4] ('' when none), its end ms,
--       the request's own locale, app name and code length ('' when not given)
-- Returns {outcome, detail, id} with outcome one of:
--   created | resent | opted_out | locked | cooldown | max_sends | phone_hourly |
--   phone_daily | profile_phone_hourly | profile_phone_daily | late (past the deadline:
--   nothing written); detail is a time (ms) to retry at, or for created/resent the name
--   of a cap that shadow mode let through ('' when none)
if too_late(tonumber(ARGV[18])) then
  return {'late', ''}
end
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'opted_out', ''}
end

local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea', 'sn', 'ls', 'nu', 'hw', 'hc', 'dw', 'dc')
if cur[6] and tonumber(cur[6]) > now then
  return {'locked', cur[6]}
end

-- per-number velocity caps
local hour_count, day_count, all_hour, all_day =
  phone_counts({cur[7], cur[8], cur[9], cur[10]}, ARGV[12], ARGV[15], 7)
local shadowed = ''
local function over(mode, name, hour, day, hour_cap, day_cap)
  if mode == 'off' then
    return nil
  end
  local cap, window = cap_reached(name, hour, day, hour_cap, day_cap)
  if cap and mode == 'enforce' then
    return {cap, window == 'hour' and ARGV[14] or ARGV[17]}
  end
  if cap and shadowed == '' then
    shadowed = cap
  end
  return nil
end
local refused = over(ARGV[11], 'phone_', all_hour, all_day, ARGV[13], ARGV[16])
if not refused then
  refused = over(ARGV[19], 'profile_phone_', hour_count, day_count, ARGV[20], ARGV[21])
end
if refused then
  return refused
end

local COUNTERS = {'hw', 'hc', 'dw', 'dc'}
local VFIELDS = {'ph', 'id', 'st', 'ch', 'ca', 'ea', 'h', 'at', 'sn', 'ls',
                 'sd', 'mi', 'mp', 'ds', 'du', 'de', 'lc', 'ap', 'ck', 'xe', 'fb', 'k1', 'k2',
                 'k3', 'as', 'cb', 'lo', 'an', 'cl', unpack(COUNTERS)}
-- a fallback's earlier codes (k1..k3, fallback.lua) die with a resend, as the code does
local RESEND_FIELDS = {'h', 'sn', 'ls', 'ea', 'ch', 'k1', 'k2', 'k3', 'lo', 'an', 'cl',
                       unpack(COUNTERS)}

local function save_undo(names)
  local old = redis.call('HMGET', KEYS[1], unpack(names))
  local fields = {}
  for i, name in ipairs(names) do
    fields[name] = old[i] or false
  end
  redis.call('SET', KEYS[3], cjson.encode({t = ARGV[10], f = fields}), 'PX', 300000)
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
  redis.call('HDEL', KEYS[1], 'k1', 'k2', 'k3', 'lo', 'an', 'cl')
  redis.call('HSET', KEYS[1], 'h', ARGV[4], 'sn', sends + 1, 'ls', now,
             'ea', now + ttl, 'ch', ARGV[8])
  outcome = 'resent'
else
  save_undo(VFIELDS)
  redis.call('HDEL', KEYS[1], 'sd', 'mi', 'mp', 'ds', 'du', 'de', 'lc', 'ap', 'ck', 'xe', 'fb',
             'k1', 'k2', 'k3', 'as', 'cb', 'lo', 'an', 'cl')
  redis.call('HSET', KEYS[1], 'ph', ARGV[2], 'id', ARGV[3], 'st', 'p', 'ch', ARGV[8],
             'ca', now, 'ea', now + ttl, 'h', ARGV[4], 'at', 0, 'sn', 1, 'ls', now)
  outcome = 'created'
end
-- the latest send's own locale, app name and code length, which its fallback uses too
-- (verification/fallback.py; removed above): written only when given, so a send without
-- them adds nothing to the hash
for i, name in ipairs({'lo', 'an', 'cl'}) do
  if ARGV[25 + i] ~= '' then
    redis.call('HSET', KEYS[1], name, ARGV[25 + i])
  end
end

local tag = key_owner(KEYS[1])
redis.call('RPUSH', KEYS[5], tag)
redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[23]) - now + 86400000)
redis.call('ZADD', KEYS[4], ARGV[23], ARGV[22])
if ARGV[24] ~= '' then
  redis.call('RPUSH', KEYS[6], tag)
  redis.call('PEXPIRE', KEYS[6], tonumber(ARGV[25]) - now + 86400000)
  redis.call('ZADD', KEYS[4], ARGV[25], ARGV[24])
end
redis.call('HSET', KEYS[1], 'hw', ARGV[12], 'hc', hour_count + 1,
           'dw', ARGV[15], 'dc', day_count + 1)

-- readable for keep_ms after it expires, and the day's count kept until the day ends
local keep_until = math.max(ttl + tonumber(ARGV[9]), tonumber(ARGV[17]) - now)
if redis.call('PTTL', KEYS[1]) < keep_until then
  redis.call('PEXPIRE', KEYS[1], keep_until)
end
return {outcome, shadowed, redis.call('HGET', KEYS[1], 'id')}
