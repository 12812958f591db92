-- Loading the C core built for another Lua (a LuaJIT nginx picking up a Lua 5.4 build
-- through LUA_CPATH, say) names the mismatch and the fix, not just an undefined symbol.
local subprocess = require "support.subprocess"

describe("loading the C core", function()
  local running = jit and jit.version or _VERSION
  -- The build for the other Lua: tools/test.sh and `make build` make both.
  local other = jit and "build/5.4" or "build/luajit"

  it("says the build is for another Lua, and how to build it for this one", function()
    local f = assert(io.open(other .. "/cloud/core.so"), "this spec needs " .. other .. " (make build)")
    f:close()
    local out = subprocess.run('require "cloud.core"', { LUA_CPATH = other .. "/?.so" })
    assert.matches("cloud: the C core " .. other .. "/cloud/core.so was built for another Lua than this one ("
      .. running .. "): it needs lua", out, 1, true)
    assert.matches(jit and "cmake -DLUA=luajit, or luarocks --lua-version 5.1"
      or "cmake -DLUA=5.4, or luarocks --lua-version 5.4", out, 1, true)
  end)

  it("loads the build for this Lua through the same path", function()
    local out = subprocess.run('local core = require "cloud.core" print(core.version, type(core.sign))')
    assert.matches("^%d+%.%d+%.%d+\tfunction\n$", out)
  end)

  it("says where it looked when there is no build at all", function()
    local out = subprocess.run('require "cloud.core"', { LUA_CPATH = "/nonexistent/?.so" })
    assert.matches("module 'cloud.core' not found", out, 1, true)
    assert.matches("/nonexistent/cloud/core.so", out, 1, true)
  end)
end)
