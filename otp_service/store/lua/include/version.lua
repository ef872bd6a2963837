-- Shared by the scripts that change profiles or their keys (prepended when loaded): move
-- the version every process's key ring polls to a value it never held before: Redis's
-- clock in ms, or one more than the version if that is later. A plain counter goes back
-- when Redis comes back without its last changes (a failover to a replica that was
-- behind, a restored copy), and the next changes would bring it to values the rings have
-- loaded already: they would not reload, and a key revoked then would still be served.
local function bump_version(key)
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local version = tonumber(redis.call('GET', key) or '0')
  redis.call('SET', key, string.format('%d', math.max(ms, version + 1)))
end
