-- Schedules inside nginx: cloud.nginx.every runs work once per slot of time across two
-- workers and a reload, never two runs at once (spec/support/everyapp.lua).
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local socket = require "socket"

-- The slots of `key` that ran, from the app's counts: { [slot] = runs }, first, last.
local function slots(state, key)
  local runs, first, last = {}, math.huge, -math.huge
  for k, v in pairs(state) do
    local name, slot = k:match("^every:([^:]+):(%d+)$")
    if name == key then
      slot = tonumber(slot)
      runs[slot] = v
      first, last = math.min(first, slot), math.max(last, slot)
    end
  end
  return runs, first, last
end

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/every.XXXXXX")
  local dir = p:read("*l")
  p:close()
  return dir
end

describe("cloud.nginx.every", function()
  local fc, app, dir

  setup(function()
    fc = env.start{ job_duration = 0.02 }
    dir = tmpdir()
    app = assert(appnginx.start{ emulator = fc, workers = 2,
      every = { dir = dir, interval = 1, works = { "count", "slow", "fail" }, slow = 2.5 } })
  end)

  teardown(function()
    if app then app:stop() end
    if fc then fc:stop() end
    if dir then os.execute("rm -rf '" .. dir .. "'") end
  end)

  it("runs once per slot across two workers, and a reload runs no slot twice", function()
    socket.sleep(3.2)
    app:reload()
    socket.sleep(3.2)
    local state = app:json("/everystate")
    local runs, first, last = slots(state, "count")
    assert.is_true(last - first >= 5, ("only slots %s..%s ran"):format(first, last))
    for slot = first, last do
      assert.are.equal(1, runs[slot], "slot " .. slot .. " ran " .. tostring(runs[slot]) .. " times")
    end

    -- The slow work (2.5 s in 1 s slots) never overlapped, not even across the reload:
    -- the slots it could not start in were waited out, not run beside it.
    local slow = slots(state, "slow")
    local n, previous = 0, nil
    for _ in pairs(slow) do n = n + 1 end
    assert.is_nil(state.slow_overlap)
    assert.is_true(n >= 2, "the slow work ran " .. n .. " times")
    local ordered = {}
    for slot, count in pairs(slow) do
      assert.are.equal(1, count)
      ordered[#ordered + 1] = slot
    end
    table.sort(ordered)
    for _, slot in ipairs(ordered) do
      if previous then assert.is_true(slot - previous >= 2, "slow runs in slots " .. previous .. " and " .. slot) end
      previous = slot
    end
  end)

  it("logs what a run raises or returns as an error, and runs the next slot", function()
    local runs, first, last = slots(app:json("/everystate"), "fail")
    assert.is_true(last - first >= 3)
    for slot = first, last do assert.are.equal(1, runs[slot]) end
    local log = app:log()
    assert.matches("cloud.nginx.every: the run of %d+%-%d+%-%d+T[%d:]+Z %(key fail%) raised: [^\n]*"
      .. "the work failed in slot %d*[02468]\n", log)
    assert.matches("cloud.nginx.every: the run of [^\n]* %(key fail%) failed: [^\n]*the work failed in slot %d*[13579]",
      log)
  end)

  it("raises naming the option, the dictionary or the phase", function()
    local function raised(case) return app:json("/everycheck?case=" .. case).raised end
    assert.matches("option 'dict' names lua_shared_dict app, which holds other keys too", raised("dict"), 1, true)
    assert.matches("option 'dict' names no lua_shared_dict: add 'lua_shared_dict nope 64k;'", raised("nodict"), 1,
      true)
    assert.matches("option 'key' must be 1 to 128 letters", raised("key"), 1, true)
    assert.matches("option 'interval' must be a whole number", raised("interval"), 1, true)
    assert.matches("option 'run' is required", raised("run"), 1, true)
    assert.matches("option 'every' is unknown", raised("unknown"), 1, true)
    assert.matches("cloud.nginx.every: must be called from init_worker_by_lua*", raised("phase"), 1, true)
    local ok, err = pcall(require("cloud.nginx").every, { dict = "d", key = "k", interval = 1, lock = "/tmp/l",
      run = function() end })
    assert.is_false(ok)
    assert.matches("cloud.nginx.every: needs nginx", tostring(err), 1, true)
  end)
end)
