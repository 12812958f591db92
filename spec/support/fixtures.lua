-- The project's own test data in spec/fixtures/ (see its README): found beside this file,
-- so specs and benchmarks read it from any clone, whatever lies next to the checkout.
local M = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
M.dir = here .. "/../fixtures"

function M.path(name) return M.dir .. "/" .. name end

--- The bytes of fixture `name`; raises naming the path when it cannot be read.
function M.read(name)
  local path = M.path(name)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

return M
