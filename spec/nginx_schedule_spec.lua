-- Schedules inside nginx: cloud.nginx.schedule runs a schedule file once per slot of time
-- across two workers and a reload, through cloud.nginx.every, which runs work once per
-- slot and never two runs at once (spec/support/everyapp.lua). One nginx serves every case:
-- the first one's slots (a night stop, a reload, a morning start) are what the next ones
-- count.
local cjson = require "cjson"
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local socket = require "socket"

-- The emulator's ECS fleet: what the schedule "office" must stop at night and start again.
local FLEET = { ecs = {
  { count = 4, name = "office-%d", tags = { "schedule=office" } },                         -- 1..4
  { count = 1, name = "by-hand-%d", tags = { "schedule=office" }, status = "SHUTOFF" },    -- 5
  { count = 1, name = "kept-%d", tags = { "schedule=office", "stop-protect=true" } },      -- 6
  { count = 2, name = "plain-%d", tags = { "team=ops" } },                                 -- 7..8
  { count = 1, name = "late-%d", tags = { "schedule=office", "schedule-override=running" } }, -- 9
  { count = 2, name = "doc-%d", tags = { "schedule=doc" } },                               -- 10..11
}, bms = { { count = 1 } } }

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

-- The schedule file, atomically replaced: a period of two hours around now (UTC) when
-- `running`, else one that starts in two hours.
-- No slot of `key` ran twice, and at most `missing` of its slots did not run: a slot passes
-- unrun only when the run before it held the lock all through it (a slow run, or a
-- loaded machine), which is the design, not a fault.
local function once_per_slot(state, key, missing)
  local runs, first, last = slots(state, key)
  local ran = 0
  for slot = first, last do
    assert.is_true(runs[slot] == nil or runs[slot] == 1, ("%s: slot %d ran %s times"):format(key, slot,
      tostring(runs[slot])))
    if runs[slot] then ran = ran + 1 end
  end
  assert.is_true(last - first + 1 - ran <= missing, ("%s: %d of slots %d..%d did not run"):format(key,
    last - first + 1 - ran, first, last))
  return last - first + 1
end

local function write_schedule(path, running, name)
  local now = os.time()
  local m = tonumber(os.date("!%H", now)) * 60 + tonumber(os.date("!%M", now))
  local from = running and m - 60 or m + 120
  local function hhmm(x)
    x = x % 1440
    return ("%02d:%02d"):format(math.floor(x / 60), x % 60)
  end
  local f = assert(io.open(path .. ".new", "w"))
  f:write(cjson.encode{ schedules = { [name or "office"] = { timezone = "UTC",
    periods = { { days = "daily", start = hhmm(from), stop = hhmm(from + 120) } } } } })
  f:close()
  assert(os.rename(path .. ".new", path))
end

-- The init_worker code of docs/openresty.md's "Schedules inside nginx", with this spec's
-- schedule file, state directory, dictionary and a 1 s interval.
local function doc_recipe(dir)
  local f = assert(io.open("docs/openresty.md", "rb"))
  local page = f:read("*a")
  f:close()
  local section = assert(page:match("\n## Schedules inside nginx\n(.-)\n## "), "no section Schedules inside nginx")
  local code = assert(section:match("init_worker_by_lua_block {\n(.-)\n    }\n"), "no init_worker_by_lua_block")
  for from, to in pairs({ ['"/etc/cloud/schedule.json"'] = ('"%s/doc.json"'):format(dir),
      ['"/var/lib/cloud-schedule"'] = ('"%s/docstate"'):format(dir), ["interval = 300,"] = "interval = 1,",
      ['"cloud_every"'] = '"every"' }) do
    local n
    code, n = code:gsub(from:gsub("%p", "%%%0"), (to:gsub("%%", "%%%%")))
    assert(n == 1, "docs/openresty.md's recipe has no " .. from)
  end
  return code
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
    fc = env.start{ job_duration = 0.02, fleet = FLEET }
    dir = tmpdir()
    write_schedule(dir .. "/schedule.json", true)
    write_schedule(dir .. "/doc.json", true, "doc")
    -- The recipe's client: region and keys from the environment, the project from IAM.
    local main = ("env HUAWEICLOUD_SDK_AK=%s; env HUAWEICLOUD_SDK_SK=%s; env HUAWEICLOUD_SDK_REGION=cn-north-4; "
      .. "env HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4=%s; env HUAWEICLOUD_SDK_IAM_ENDPOINT=%s;"):format(fc.ak, fc.sk,
      fc.url, fc.url)
    app = assert(appnginx.start{ emulator = fc, workers = 2, main = main, every = { dir = dir, interval = 1,
      works = { "count", "slow", "fail" }, slow = 2.5, schedule = dir .. "/schedule.json", doc = doc_recipe(dir) } })
  end)

  teardown(function()
    if app then app:stop() end
    if fc then fc:stop() end
    if dir then os.execute("rm -rf '" .. dir .. "'") end
  end)

  local function until_true(what, fn)
    for _ = 1, 200 do
      if fn() then return end
      socket.sleep(0.05)
    end
    error(what .. ": " .. app:log():sub(-3000))
  end

  -- The calls that would show the schedule acting: stops, starts, listings, job polls.
  local function acting_calls()
    local st = fc:stats()
    return { stops = st.stop_requests.total, starts = st.start_requests.total, action = st.calls.action,
             list = st.calls.list, job = st.calls.job }
  end

  local function status(n) return fc:server(env.id("ecs", n)) end

  it("stops the tagged fleet at night and starts it in the morning, once, across a reload", function()
    socket.sleep(1.5) -- daytime slots: the first run finds nothing it stopped, and sends nothing
    assert.are.same({ stops = 0, starts = 0, action = 0, list = 0, job = 0 }, acting_calls())

    write_schedule(dir .. "/schedule.json", false) -- night
    write_schedule(dir .. "/doc.json", false, "doc")
    until_true("no night stop", function() return fc:stats().stop_requests.total >= 6 end)
    until_true("the night stop did not end", function()
      return (app:json("/everystate").sched_stop or 0) >= 1 and app:log():find("doc [^\n]*: running %-> stopped")
    end)
    local night = acting_calls()
    assert.are.equal(6, night.stops)
    for _, n in ipairs({ 1, 2, 3, 4, 10, 11 }) do assert.are.equal("SHUTOFF", status(n).status) end
    for n = 5, 9 do assert.are.equal(0, status(n).stop_requests, "server " .. n) end
    assert.are.equal("SHUTOFF", status(5).status)
    for n = 6, 9 do assert.are.equal("ACTIVE", status(n).status, "server " .. n) end

    socket.sleep(1.6)
    app:reload()
    socket.sleep(1.6) -- night slots, across the reload: nothing sent
    assert.are.same(night, acting_calls())

    write_schedule(dir .. "/schedule.json", true) -- morning
    write_schedule(dir .. "/doc.json", true, "doc")
    until_true("no morning start", function() return fc:stats().start_requests.total >= 6 end)
    until_true("the morning start did not end", function()
      return (app:json("/everystate").sched_start or 0) >= 1 and app:log():find("doc [^\n]*: stopped %-> running")
    end)
    local morning = acting_calls()
    assert.are.equal(6, morning.starts)
    assert.are.equal(6, morning.stops)
    for _, n in ipairs({ 1, 2, 3, 4, 10, 11 }) do assert.are.equal("ACTIVE", status(n).status) end
    -- Stopped by a person before the night: still stopped.
    assert.are.equal("SHUTOFF", status(5).status)
    for n = 5, 9 do assert.are.equal(0, status(n).start_requests, "server " .. n) end
    local st = fc:stats()
    assert.are.equal(0, st.stop_requests.sent_more_than_once)
    assert.are.equal(0, st.start_requests.sent_more_than_once)

    socket.sleep(1.6)
    assert.are.same(morning, acting_calls())
    local state = app:json("/everystate")
    assert.is_nil(state.sched_error)
    assert.are.equal(1, state.sched_stop)
    assert.are.equal(1, state.sched_start)
    -- The night stop and the morning start each hold the lock for a while: a slot may pass.
    assert.is_true(once_per_slot(state, "sched", 2) >= 6)
    assert.matches("cloud.nginx.schedule: office cn%-north%-4/%x+ ecs: running %-> stopped, stop, 4 stopped, 0 failed, "
      .. "2 skipped, record [^\n]*/state/records/", app:log())
    -- The recipe of docs/openresty.md stopped and started its own schedule's servers.
    assert.matches("cloud.nginx.schedule: doc cn%-north%-4/%x+ ecs: running %-> stopped, stop, 2 stopped, 0 failed, "
      .. "0 skipped, record [^\n]*/docstate/records/", app:log())
    assert.matches("cloud.nginx.schedule: doc cn%-north%-4/%x+ ecs: stopped %-> running, start, 2 started", app:log())
  end)

  it("ran every other work once per slot across the two workers and the reload", function()
    local state = app:json("/everystate")
    assert.is_true(once_per_slot(state, "count", 1) >= 6)

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
    assert.is_true(once_per_slot(app:json("/everystate"), "fail", 1) >= 4)
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
    -- cloud.nginx.schedule checks the schedule before anything else: its mistakes name the field.
    assert.matches('periods[1].start', raised("schedule"), 1, true)
    assert.matches("25:00", raised("schedule"), 1, true)
    assert.matches("cloud.nginx.schedule: option 'run.at' is set by cloud.nginx.schedule itself", raised("run_at"),
      1, true)
    local ok, err = pcall(require("cloud.nginx").every, { dict = "d", key = "k", interval = 1, lock = "/tmp/l",
      run = function() end })
    assert.is_false(ok)
    assert.matches("cloud.nginx.every: needs nginx", tostring(err), 1, true)
  end)

  it("runs a file that names targets through a fleet over them, each once", function()
    local set = require("cloud.schedule").check{ targets = { { region = "cn-north-4" } },
      schedules = { a = { timezone = "UTC", periods = { { days = "daily", start = "08:00", stop = "09:00" } },
        targets = { { region = "cn-north-4" }, { region = "ap-southeast-1", project_id = fc.project_id } } } } }
    local f = require("cloud.nginx.schedule").default_client(set)
    local regions = {}
    for _, t in ipairs(f.targets) do regions[#regions + 1] = t.region end
    f:close()
    assert.are.same({ "cn-north-4", "ap-southeast-1" }, regions)
  end)
end)
