-- Shared by the scripts that name what a key belongs to (prepended when loaded): the tag
-- in braces and the profile after the kind's letter, as store/scripts.py names keys.
local function key_owner(key)
  return string.match(key, '{(.-)}'), string.match(key, ':(pf_%w+)$') or 'default'
end
