-- include: owner
-- include: view
-- include: outbox
-- Verify (the first right code activates an unverified factor) or check (an active
-- factor) a TOTP code, in one atomic step. Redis never holds a secret in clear, so the
-- caller has compared the code with the factor's codes for the steps now-1, now, now+1
-- and passes the highest step that matched, or '' when none did. Here: the factor's
-- state, the subject's lock-out, the factor's failures in this time step, and replay —
-- a code of a step at or before the last accepted one is refused (and counted) — then
-- the outcome is recorded.
--
-- KEYS[1] factor hash   KEYS[2] subject hash (see factor_create.lua)   KEYS[3] outbox stream
-- Event: factor.verified (the first right code of an unverified factor)
-- ARGV: mode ('verify' | 'check'), now_ms, step, matched_step or '', max_attempts
--       (failures per factor per time step), failure_limit (consecutive failures per
--       subject), lockout_ms, factor suffix
-- Returns {outcome, detail}; outcome one of
--   valid | wrong | reused | not_found | already_verified | not_verified | locked |
--   max_attempts
-- detail: attempts left in this time step (valid, wrong, reused); lock end ms (locked)
local now = tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[1], 'st', 'ea', 'ls', 'wn', 'wf')
if not f[1] or (f[1] == 'u' and tonumber(f[2]) <= now) then
  return {'not_found', 0}
end
if ARGV[1] == 'verify' and f[1] ~= 'u' then
  return {'already_verified', 0}
end
if ARGV[1] == 'check' and f[1] ~= 'a' then
  return {'not_verified', 0}
end
local locked_until = redis.call('HGET', KEYS[2], 'nu')
if locked_until and tonumber(locked_until) > now then
  return {'locked', tonumber(locked_until)}
end

local step = tonumber(ARGV[3])
local max_attempts = tonumber(ARGV[5])
local failures = 0
if f[4] and tonumber(f[4]) == step then
  failures = tonumber(f[5])
end
if failures >= max_attempts then
  return {'max_attempts', 0}
end

local matched = tonumber(ARGV[4])
local last = tonumber(f[3] or '-1')
if matched and matched > last then
  redis.call('HSET', KEYS[1], 'ls', matched, 'lu', now)
  redis.call('HDEL', KEYS[2], 'nf')
  if ARGV[1] == 'verify' then
    redis.call('HSET', KEYS[1], 'st', 'a', 'va', now)
    redis.call('HDEL', KEYS[1], 'ea')
    redis.call('PERSIST', KEYS[1])
    redis.call('HSET', KEYS[2], 'x:' .. ARGV[8], 0)
    redis.call('PERSIST', KEYS[2])
    emit_factor(KEYS[3], 'factor.verified', KEYS[1], now)
  end
  return {'valid', max_attempts - failures}
end

local outcome = 'wrong'
if matched then
  outcome = 'reused'
  redis.call('HINCRBY', KEYS[1], 'rc', 1)
end
failures = failures + 1
redis.call('HSET', KEYS[1], 'wn', step, 'wf', failures)
local consecutive = redis.call('HINCRBY', KEYS[2], 'nf', 1)
if consecutive >= tonumber(ARGV[6]) then
  local lockout = tonumber(ARGV[7])
  redis.call('HSET', KEYS[2], 'nu', now + lockout, 'nf', 0)
  local pttl = redis.call('PTTL', KEYS[2])
  if pttl >= 0 and pttl < lockout then
    redis.call('PEXPIRE', KEYS[2], lockout)
  end
end
return {outcome, max_attempts - failures}
