-- cloud-stop under Lua 5.4, LuaJIT and Lua 5.1 alike, each with the C core built for it
-- (build/5.4, build/luajit, build/5.1), and bin/cloud-stop, the launcher that picks a Lua.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"

local FLEET = { ecs = { { count = 8, name = "web-%d", tags = { "env=staging" } } } }
local BUILDS = { ["lua5.4"] = "build/5.4", luajit = "build/luajit", ["lua5.1"] = "build/5.1" }

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

describe("cloud-stop", function()
  local fc, env

  setup(function()
    fc = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET } })
    env = { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk, HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id }
  end)

  teardown(function()
    if fc then fc:stop() end
  end)

  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET })
    assert(fc:reset())
  end)

  local function with(extra)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end

  local function at(...)
    local argv = { ... }
    for _, a in ipairs({ "--endpoint", fc.url, "--poll-interval", "0.05" }) do argv[#argv + 1] = a end
    return argv
  end

  for _, lua in ipairs({ "lua5.4", "luajit", "lua5.1" }) do
    describe("under " .. lua, function()
      local how = { interpreter = lua }

      it("has its C core built", function()
        assert(exists(BUILDS[lua] .. "/cloud/core.so"), BUILDS[lua] .. " is not built (tools/test.sh builds it)")
      end)

      it("stops servers by id and reports them as JSON", function()
        local r = cli.run(at("ecs", ids.server_id("ecs", 1), ids.server_id("ecs", 2), "--json"), env, how)
        assert.equal(0, r.code, r.stderr)
        local doc = cjson.decode(r.stdout)
        assert.is_true(doc.ok)
        assert.same({ ids.server_id("ecs", 1), ids.server_id("ecs", 2) }, doc.stopped)
        assert.equal(2, fc:stats().stop_requests.servers)
      end)

      it("lists a filter's choice without stopping (--dry-run)", function()
        local r = cli.run(at("ecs", "--name", "^web%-[1-3]$", "--dry-run", "--json"), env, how)
        assert.equal(0, r.code, r.stderr)
        assert.equal(3, #cjson.decode(r.stdout).selected)
        assert.equal(0, fc:stats().calls.action or 0)
      end)

      it("exits 2 on an argument the library refuses, sending nothing", function()
        local r = cli.run(at("ecs", ids.server_id("ecs", 1), "--concurrency", "0"), env, how)
        assert.equal(2, r.code, r.stderr)
        assert.truthy(r.stderr:find("concurrency", 1, true), r.stderr)
        assert.equal(0, fc:stats().calls.action or 0)
      end)
    end)
  end

  describe("bin/cloud-stop, the launcher", function()
    local program = { interpreter = false, script = cli.launcher }

    for _, lua in ipairs({ "lua5.4", "luajit", "lua5.1" }) do
      it("runs the command with CLOUD_LUA=" .. lua, function()
        local r = cli.run(at("ecs", ids.server_id("ecs", 3), "--json"), with{ CLOUD_LUA = lua }, program)
        assert.equal(0, r.code, r.stderr)
        assert.same({ ids.server_id("ecs", 3) }, cjson.decode(r.stdout).stopped)
      end)
    end

    it("passes over a Lua that cannot load the module, and runs the command once", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir " .. cli.quote(dir)))
      local log = dir .. "/log"
      -- lua5.4 here cannot load anything; luajit is the real one, and says when it runs.
      cli.write(dir .. "/lua5.4", "#!/bin/sh\necho lua5.4 >>" .. cli.quote(log) .. "\nexit 1\n")
      cli.write(dir .. "/luajit", "#!/bin/sh\necho luajit ${CLOUD_STOP_PROBE:+probe} >>" .. cli.quote(log) ..
        "\nexec " .. cli.quote((io.popen("command -v luajit"):read("*l"))) .. ' "$@"\n')
      os.execute("chmod +x " .. cli.quote(dir .. "/lua5.4") .. " " .. cli.quote(dir .. "/luajit"))
      local r = cli.run(at("ecs", ids.server_id("ecs", 4), "--json"), with{ PATH = dir .. ":" .. os.getenv("PATH") },
        program)
      local calls = cli.slurp(log)
      os.execute("rm -rf " .. cli.quote(dir))
      assert.equal(0, r.code, r.stderr)
      assert.equal("lua5.4\nluajit probe\nluajit\n", calls)
      assert.same({ ids.server_id("ecs", 4) }, cjson.decode(r.stdout).stopped)
      assert.equal(1, fc:stats().stop_requests.servers) -- the probe sent nothing
    end)

    it("exits 3 naming the interpreters when none is installed", function()
      local r = cli.run({ "--version" }, with{ CLOUD_LUA = "no-such-lua" }, program)
      assert.equal(3, r.code)
      assert.truthy(r.stderr:find("no-such-lua", 1, true), r.stderr)
    end)
  end)
end)
