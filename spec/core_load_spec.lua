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

  it("says so inside nginx too, pointing at a LUA_CPATH leaked into nginx's environment", function()
    -- nginx's Lua is LuaJIT: the Lua 5.4 build is the wrong one there. `;;` in
    -- lua_package_cpath brings in LUA_CPATH, as after `eval $(luarocks path)`.
    local proc = require "fakecloud.proc"
    local root = require("support.appnginx").root
    local p = io.popen("mktemp -d /tmp/abinginx.XXXXXX")
    local prefix = p:read("*l")
    p:close()
    proc.write(prefix .. "/nginx.conf", ([[
load_module /usr/share/nginx/modules/ndk_http_module.so;
load_module /usr/share/nginx/modules/ngx_http_lua_module.so;
daemon on;
pid %s/nginx.pid;
events { worker_connections 16; }
http {
    client_body_temp_path %s;
    lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;;";
    lua_package_cpath ";;";
    init_by_lua_block { require "cloud" }
    server { listen 127.0.0.1:%d; }
}
]]):format(prefix, prefix, root, root, proc.free_port()))
    local run = io.popen(("env -u LD_PRELOAD LUA_CPATH=%s nginx -p %s -c %s/nginx.conf -e %s/error.log 2>&1"):format(
      proc.quote(root .. "/build/5.4/?.so;;"), proc.quote(prefix), proc.quote(prefix), proc.quote(prefix)))
    local out = run:read("*a")
    run:close()
    local pid = (proc.read(prefix .. "/nginx.pid") or ""):match("%d+")
    if pid then proc.stop_nginx(pid) end
    proc.exec("rm -rf " .. proc.quote(prefix))
    assert.is_nil(pid, "nginx started with the Lua 5.4 build")
    assert.matches("build/5.4/cloud/core.so was built for another Lua than this one (LuaJIT", out, 1, true)
    assert.matches("a LUA_CPATH in nginx's environment", out, 1, true)
  end)

  it("says where it looked when there is no build at all", function()
    local out = subprocess.run('require "cloud.core"', { LUA_CPATH = "/nonexistent/?.so" })
    assert.matches("module 'cloud.core' not found", out, 1, true)
    assert.matches("/nonexistent/cloud/core.so", out, 1, true)
  end)
end)
