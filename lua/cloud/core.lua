--- Loads the C core (`cloud/core.so`, found on package.cpath as require would find it)
-- and, when it was built for another Lua than the one running, says so instead of
-- "undefined symbol: lua_rotate". `require "cloud.core"` finds this file first, since
-- package.path is searched before package.cpath; without it on the path, require loads
-- the C core directly, the same module.
-- @module cloud.core
local running = (type(jit) == "table" and jit.version) or _VERSION
local version = _VERSION:match("%d+%.%d+")
local build = ("cmake -DLUA=%s, or luarocks --lua-version %s")
  :format(type(jit) == "table" and "luajit" or version, version)

-- Lua 5.1 has no package.searchpath (LuaJIT and 5.2+ do): the same search, by hand.
local searchpath = package.searchpath or function(name, paths)
  local tried = {}
  for template in paths:gmatch("[^;]+") do
    local file = template:gsub("%?", (name:gsub("%.", "/")))
    local f = io.open(file, "rb")
    if f then
      f:close()
      return file
    end
    tried[#tried + 1] = "\n\tno file '" .. file .. "'"
  end
  return nil, table.concat(tried)
end

local path, not_found = searchpath("cloud.core", package.cpath)
if not path then
  error("module 'cloud.core' not found: the C core (cloud/core.so) is on no path of package.cpath:\n\t"
    .. not_found:gsub("^%s+", ""), 0)
end

local open, why = package.loadlib(path, "luaopen_cloud_core")
if not open then
  -- A module never links liblua: the Lua API comes from the interpreter loading it, and one
  -- built against another Lua's headers asks for functions this one does not have.
  local symbol = tostring(why):match("undefined symbol: (luaL?_[%w_]+)")
  if symbol then
    local nginx = type(rawget(_G, "ngx")) == "table" and
      " Inside nginx, look at lua_package_cpath, and at a LUA_CPATH in nginx's environment (as `eval"
      .. " $(luarocks path)` sets for Lua 5.4) that its ';;' brings in; see docs/openresty.md." or ""
    error(("cloud: the C core %s was built for another Lua than this one (%s): it needs %s, which %s does not "
      .. "have. Build it for this Lua (%s) and put that build on package.cpath.%s")
      :format(path, running, symbol, running, build, nginx), 0)
  end
  error(("error loading module 'cloud.core' from file '%s':\n\t%s"):format(path, tostring(why)), 0)
end

return open("cloud.core", path)
