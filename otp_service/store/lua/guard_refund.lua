-- Give back what guard.lua counted for a create that did not send after all (refused by
-- its number's own rules, or by Telnyx).
-- KEYS: the same counters guard.lua was given
for _, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count > 1 then
    redis.call('DECR', key)
  elseif count == 1 then
    redis.call('DEL', key)
  end
end
return 1
