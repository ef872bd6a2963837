-- Shared by the scripts that answer with a verification (prepended when loaded): the
-- fields its answer shows, in the order verification.py's VIEW_FIELDS reads them, and
-- only those — not the code's HMAC, not the per-number counters.
local VIEW_FIELDS = {'id', 'ph', 'ch', 'st', 'ca', 'ea', 'at', 'sn', 'ls', 'sd', 'mi', 'ds',
                     'du', 'de', 'lc', 'as', 'cb', 'fb'}

local function view(vkey)
  return redis.call('HMGET', vkey, unpack(VIEW_FIELDS))
end
