-- Shared by the scripts whose state changes are events (prepended when loaded): the
-- event goes into the outbox stream of the key's hash slot in the same step as the
-- change, so it is written exactly when the change is, and never without it.
-- Each entry: t (event type), k (v: verification, f: factor), g (the number's or
-- subject's tag), p (profile), at (ms), s (JSON: the snapshot the event carries),
-- c (a verification's checks), m (the message an earlier send's receipt is about, only
-- in verification.earlier_receipt). A verification's delivery history is not copied here
-- (up to 20 entries: the biggest part of an event); the worker reads it where it needs
-- it, once for a batch (store/outbox.py: with_history). The worker (events/) reads
-- the streams.
-- The stream is capped (approximately) so that an install without a running worker
-- cannot fill Redis: past OUTBOX_MAX undelivered events, the oldest are dropped.
local OUTBOX_MAX = 1000000

local function emit(stream, kind, event_type, owner_key, now, snapshot, checks, message_id)
  local tag, profile = key_owner(owner_key)
  if message_id then  -- rare (an earlier send's receipt): the usual call builds no table
    redis.call('XADD', stream, 'MAXLEN', '~', OUTBOX_MAX, '*', 't', event_type, 'k', kind,
               'g', tag, 'p', profile, 'at', now, 's', cjson.encode(snapshot), 'c', checks,
               'm', message_id)
    return
  end
  redis.call('XADD', stream, 'MAXLEN', '~', OUTBOX_MAX, '*', 't', event_type, 'k', kind,
             'g', tag, 'p', profile, 'at', now, 's', cjson.encode(snapshot), 'c', checks)
end

-- a verification's event: its fields as view.lua reads them, and its checks so far
-- (check.lua's 'ck'); `hkey` (its delivery history) is the worker's to read
local function emit_verification(stream, event_type, vkey, hkey, now, message_id)
  emit(stream, 'v', event_type, vkey, now, view(vkey), redis.call('HGET', vkey, 'ck') or '',
       message_id)
end

-- a factor's event: its fields but the sealed secret
local function emit_factor(stream, event_type, fkey, now)
  local raw = redis.call('HGETALL', fkey)
  local fields = {['_id'] = string.match(fkey, ':f:([^:]+)')}  -- the id's random half
  for i = 1, #raw, 2 do
    if raw[i] ~= 'ct' then
      fields[raw[i]] = raw[i + 1]
    end
  end
  emit(stream, 'f', event_type, fkey, now, fields, '')
end
