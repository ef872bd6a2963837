-- include: clock
-- include: deadline
-- Note an admin change as under way, before it is tried (admin/audit.py). Its time to
-- end is on Redis's clock ('<until ms> <note>'), the one the worker files notes by
-- (audit_due.lua): hosts whose clocks disagree cannot file a change under way. Past
-- the call's deadline (Redis was paused with this queued, and the operator was answered
-- 503 with nothing tried) it writes nothing, or the worker would later file a change
-- never attempted as unconfirmed.
--
-- KEYS[1] the changes under way (hash: token -> note)
-- ARGV: token, note (JSON), how long the change may take (ms), deadline_ms
-- Returns 1, or 'late' (past the deadline: nothing written)
if too_late(tonumber(ARGV[4])) then
  return 'late'
end
local until_ms = redis_now_ms() + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', until_ms) .. ' ' .. ARGV[2])
return 1
