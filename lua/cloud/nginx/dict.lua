--- A `lua_shared_dict` kept for one helper's keys (`cloud.nginx.job`'s, `cloud.nginx.every`'s):
-- another writer could evict their marks, so a dictionary that holds other keys is refused.
-- @module cloud.nginx.dict
local errors = require "cloud.errors"

local M = {}

-- How many of the dictionary's keys are looked at to tell it is the helper's own.
local SAMPLE = 32

--- The shared dictionary `name`, checked. Raises an argument error of `where` on `dict`
-- when no `lua_shared_dict` has that name, or when it holds a key that does not start with
-- `prefix` (`whose`: what the dictionary is for, "the jobs", "the schedules").
function M.own(where, name, prefix, whose)
  local shared = ngx.shared[name]
  if not shared then
    errors.argument(where, "dict", ("names no lua_shared_dict: add 'lua_shared_dict %s 64k;' to the http block "
      .. "of nginx.conf"):format(name))
  end
  for _, k in ipairs(shared:get_keys(SAMPLE)) do
    if k:sub(1, #prefix) ~= prefix then
      errors.argument(where, "dict", ("names lua_shared_dict %s, which holds other keys too (%q): give %s a "
        .. "lua_shared_dict of their own, so no other write can evict their marks"):format(name, k:sub(1, 40), whose))
    end
  end
  return shared
end

return M
