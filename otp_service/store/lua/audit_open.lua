-- include: deadline
-- Note an admin change as under way, before it is tried (admin/audit.py): past the
-- call's deadline (Redis was paused with this queued, and the operator was answered 503
-- with nothing tried) it writes nothing, or the worker would later file a change never
-- attempted as unconfirmed.
--
-- KEYS[1] the changes under way (hash: token -> note)
-- ARGV: token, note (JSON), deadline_ms
-- Returns 1, or 'late' (past the deadline: nothing written)
if too_late(tonumber(ARGV[3])) then
  return 'late'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
