-- Shared by webhook_finish.lua and webhook_first.lua (prepended when loaded, after
-- version.lua): keep
-- since when an endpoint's every attempt has failed, and disable it once that has
-- lasted disable_after_ms. Returns 1 when it was disabled now. A failure of an endpoint
-- that is disabled or deleted is not counted: no attempt was made (endpoint_disabled,
-- endpoint_deleted), and a count started then would disable it again at its first
-- failure once it is back on.
-- failing: hash endpoint -> since (ms)   endpoints: hash id -> JSON   version: see version.lua
local function endpoint_attempted(failing, endpoints, version, endpoint_id, ok, now,
                                  disable_after_ms)
  if ok then
    redis.call('HDEL', failing, endpoint_id)
    return 0
  end
  local raw = redis.call('HGET', endpoints, endpoint_id)
  if not raw then
    return 0
  end
  local endpoint = cjson.decode(raw)
  if not endpoint.enabled then
    return 0
  end
  redis.call('HSETNX', failing, endpoint_id, now)
  local since = tonumber(redis.call('HGET', failing, endpoint_id))
  if now - since < disable_after_ms then
    return 0
  end
  endpoint.enabled = false
  endpoint.disabled_reason = 'failing'
  redis.call('HSET', endpoints, endpoint_id, cjson.encode(endpoint))
  redis.call('HDEL', failing, endpoint_id)
  bump_version(version)
  return 1
end
