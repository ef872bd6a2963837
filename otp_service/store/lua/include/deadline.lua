-- include: clock
-- Shared by the scripts of a create and of an operator's changes (prepended when
-- loaded): has the service stopped waiting for this answer? `deadline_ms` is when its
-- Redis call times out, on its clock (0: no deadline). A script that runs later (Redis
-- was paused with the command queued) must write nothing: the service has answered 503
-- (sent no message; recorded no change in the audit log).
local function too_late(deadline_ms)
  if deadline_ms == 0 then
    return false
  end
  return redis_now_ms() > deadline_ms
end
