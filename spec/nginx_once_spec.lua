-- cloud.nginx.once: work started from init_worker_by_lua (which every worker runs, again
-- after each reload) done by one worker only, through a lua_shared_dict.
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local socket = require "socket"

describe("cloud.nginx.once", function()
  local fc, app

  setup(function()
    fc = env.start{ job_duration = 0.02 }
    app = assert(appnginx.start{ emulator = fc, workers = 2,
      boot = { service = "ecs", from = 1, to = 8, ttl = 300 } })
  end)

  teardown(function()
    if app then app:stop() end
    if fc then fc:stop() end
  end)

  local function boot_done()
    for _ = 1, 300 do
      local state = app:boot()
      if state.result then return state end
      socket.sleep(0.02)
    end
    error("the boot stop did not finish: " .. app:log():sub(-2000))
  end

  it("lets one worker of two run the stop started from init_worker, and none again after a reload", function()
    local state = boot_done()
    assert.are.equal(2, state.init_worker_runs)
    assert.are.equal(1, state.boot_started)
    assert.are.same({ ok = true, stopped = 8, failed = 0 }, state.result)
    local stats = fc:stats()
    assert.are.equal(8, stats.stop_requests.total)
    assert.are.equal(0, stats.stop_requests.sent_more_than_once)
    assert.are.equal(8, stats.servers.ecs.SHUTOFF)

    state = app:reload()
    assert.are.equal(4, state.init_worker_runs)
    socket.sleep(0.3) -- the new workers' timers (due at once) have run by now
    assert.are.equal(1, app:boot().boot_started)
    assert.are.equal(8, fc:stats().stop_requests.total)
  end)

  it("says yes once within ttl, then again after it", function()
    local function once(ttl) return app:json("/once?dict=app&key=spec-ttl&ttl=" .. ttl) end
    assert.are.same({ won = true }, once(0.3))
    assert.are.same({ won = false }, once(0.3))
    socket.sleep(0.4)
    assert.are.same({ won = true }, once(0.3))
  end)

  it("raises naming a missing lua_shared_dict, and a bad key or ttl", function()
    local r = app:json("/once?dict=nope&key=k&ttl=10")
    assert.matches("cloud.nginx.once: option 'dict' names no lua_shared_dict: add 'lua_shared_dict nope 1m;'",
      r.raised, 1, true)
    assert.matches("option 'key' must be", app:json("/once?dict=app&ttl=10").raised, 1, true)
    assert.matches("option 'ttl' must be a positive number", app:json("/once?dict=app&key=k&ttl=0").raised, 1, true)
    assert.matches("option 'ttl' must be a positive number", app:json("/once?dict=app&key=k&ttl=x").raised, 1, true)
  end)

  it("raises outside nginx", function()
    local ok, err = pcall(require("cloud.nginx").once, "app", "k", 10)
    assert.is_false(ok)
    assert.are.equal("argument", require("cloud.errors").kind(err))
    assert.matches("cloud.nginx.once: needs nginx", tostring(err), 1, true)
  end)
end)
