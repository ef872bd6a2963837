-- include: clock
-- Shared by the scripts that change profiles, their keys or webhook endpoints (prepended
-- when loaded): move the version that processes poll to reload what they cache (the key
-- rings, the workers' endpoints) to a value it never held before: Redis's clock in ms, or
-- one more than the version if that is later. A plain counter goes back when Redis comes
-- back without its last changes (a failover to a replica that was behind, a restored
-- copy), and the next changes would bring it to values already loaded: nothing would be
-- reloaded, and a key revoked then would still be served, an endpoint deleted still
-- posted to.
local function bump_version(key)
  local ms = redis_now_ms()
  local version = tonumber(redis.call('GET', key) or '0')
  redis.call('SET', key, string.format('%d', math.max(ms, version + 1)))
end
