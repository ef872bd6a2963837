-- An admin change's audit entry, written as it ends, and its note as a change under way
-- removed in the same step (admin/audit.py: a note left behind tells the worker of a
-- change whose end was never recorded). Both keys are in the audit log's slot.
--
-- KEYS[1] the log (stream)   KEYS[2] the changes under way (hash: token -> note)
-- ARGV: token, only_if_open (1: write nothing unless the note is still there: the
--       worker filing it, racing the change's own end), max entries (approximate),
--       then the entry's fields and values
-- Returns the entry's id, or false when only_if_open found no note
if ARGV[2] == '1' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  return false
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
redis.call('HDEL', KEYS[2], ARGV[1])
return id
