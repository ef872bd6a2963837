-- include: owner
-- include: view
-- include: outbox
-- Check a code: compare HMACs, count the attempt, approve once, fail at the limit.
-- Consecutive failures are also counted per phone number across its verifications; at
-- the limit the number is locked out (checks and creates refused) for a cool-off.
-- The approval's time is kept ('ap'): for replay_ms after it, the approving code is
-- answered 'approved' again (detail 'again'), so a client whose answer was lost can
-- retry; any other code is already_approved.
--
-- KEYS[1] phone hash   KEYS[2] the number's delivery history   KEYS[3] outbox stream
-- Events: verification.approved, verification.failed (the last attempt used up).
-- Each counted check is noted in 'ck' ('<seconds after creation><v|x>,' each, at most
-- max_attempts + 1 of them) for the verification's history.
-- A fallback (fallback.lua) keeps the codes sent before it live ('k1'..'k3': '<send>:<hmac>'),
-- so any of them approves; 'as' notes which send's code did (the attribution of the
-- approval to a route), and 'h' becomes that code (its replay). Attempts are counted per
-- verification, whichever code they aimed at.
-- ARGV: now_ms, id ('' = the pending verification of this number), code_hmac,
--       max_attempts, failure_limit, lockout_ms, replay_ms
-- Returns {outcome, detail} or, for approved | wrong | inactive, {outcome, detail, id,
-- status, failed attempts} (status: p, a, f, c, or x for expired) — only what the answer
-- needs. outcome: approved | wrong | not_found | already_approved | max_attempts |
-- inactive | locked
local now = tonumber(ARGV[1])
local cur = redis.call('HMGET', KEYS[1], 'id', 'st', 'ea', 'h', 'at', 'nf', 'nu', 'ap', 'ca',
                      'ck', 'sn', 'fb')
if not cur[1] or (ARGV[2] ~= '' and cur[1] ~= ARGV[2]) then
  return {'not_found', ''}
end
local status = cur[2]
if status == 'p' and now >= tonumber(cur[3]) then
  status = 'x'
end
if status == 'a' then
  if cur[4] == ARGV[3] and cur[8] and now < tonumber(cur[8]) + tonumber(ARGV[7]) then
    return {'approved', 'again', cur[1], 'a', tonumber(cur[5])}
  end
  return {'already_approved', ''}
end
if ARGV[2] == '' and status ~= 'p' then
  return {'not_found', ''}
end
local attempts = tonumber(cur[5])
local max_attempts = tonumber(ARGV[4])
if status == 'f' and attempts >= max_attempts then
  return {'max_attempts', ''}
end
if status ~= 'p' then
  return {'inactive', '', cur[1], status, attempts}
end
if cur[7] and tonumber(cur[7]) > now then
  return {'locked', cur[7]}
end

local function noted(mark)
  return (cur[10] or '') .. math.floor((now - tonumber(cur[9] or now)) / 1000) .. mark .. ','
end

local approving = cur[4] == ARGV[3] and cur[11] or nil
if not approving and cur[12] then
  for i = 1, tonumber(cur[12]) do
    local earlier = redis.call('HGET', KEYS[1], 'k' .. i)
    local colon = earlier and string.find(earlier, ':', 1, true)
    if colon and string.sub(earlier, colon + 1) == ARGV[3] then
      approving = string.sub(earlier, 1, colon - 1)
    end
  end
end
if approving then
  redis.call('HSET', KEYS[1], 'st', 'a', 'nf', 0, 'ap', now, 'ck', noted('v'), 'h', ARGV[3])
  if cur[12] then
    redis.call('HSET', KEYS[1], 'as', approving)
  end
  emit_verification(KEYS[3], 'verification.approved', KEYS[1], KEYS[2], now)
  return {'approved', '', cur[1], 'a', attempts}
end

attempts = attempts + 1
local failures = tonumber(cur[6] or '0') + 1
redis.call('HSET', KEYS[1], 'at', attempts, 'nf', failures, 'ck', noted('x'))
if attempts >= max_attempts then
  redis.call('HSET', KEYS[1], 'st', 'f')
  status = 'f'
  emit_verification(KEYS[3], 'verification.failed', KEYS[1], KEYS[2], now)
end
if failures >= tonumber(ARGV[5]) then
  local until_ms = now + tonumber(ARGV[6])
  redis.call('HSET', KEYS[1], 'nu', until_ms, 'nf', 0)
  if redis.call('PTTL', KEYS[1]) < until_ms - now then
    redis.call('PEXPIRE', KEYS[1], until_ms - now)
  end
end
return {'wrong', '', cur[1], status, attempts}
