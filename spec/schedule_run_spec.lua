-- client:run_schedule against the emulator, on its own clock (`at`): a night stop and a
-- morning start of a tagged fleet, counted by the emulator per server; a second run at the
-- same time sends nothing; enforce; a run killed between its state's "acting" write and the
-- stop's end is resumed; a corrupt state file is refused.
local env = require "support.cloudenv"
local project = require "cloud.auth.project"
local schedule = require "cloud.schedule"
local state = require "cloud.schedule.state"

local TAG = { "schedule=office-hours" }
local FLEET = {
  ecs = {
    { count = 12, name = "app-%02d", tags = TAG },                                                 -- 1..12
    { count = 2, name = "keep-%d", tags = { "schedule=office-hours", "stop-protect=true" } },        -- 13..14
    { count = 3, name = "other-%d" },                                                              -- 15..17
    { count = 2, name = "hand-off-%d", status = "SHUTOFF", tags = TAG },                           -- 18..19
    { count = 1, name = "late-%d", tags = { "schedule=office-hours", "schedule-override=running" } }, -- 20
    { count = 1, name = "off-%d", tags = { "schedule=office-hours", "schedule-override=stopped" } },   -- 21
  },
}
local FILE = {
  schedules = {
    ["office-hours"] = { timezone = "Europe/Berlin",
                         periods = { { days = "mon-fri", start = "08:00", stop = "19:00" } } },
  },
}
-- 2026-12-07 is a Monday.
local NIGHT = schedule.parse_time("2026-12-07T20:00:00+01:00")
local MORNING = schedule.parse_time("2026-12-08T08:30:00+01:00")

local function range(a, b)
  local out = {}
  for n = a, b do out[#out + 1] = n end
  return out
end

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function sorted(t)
  table.sort(t)
  return t
end

describe("run_schedule against the emulator", function()
  local fc, client
  local dirs = {}
  local function new_dir()
    local d = tmpdir()
    dirs[#dirs + 1] = d
    return d
  end
  local function run(dir, at, file)
    return client:run_schedule{ schedule = file or FILE, state_dir = dir, at = at, poll_interval = 0.02 }
  end
  -- Each server's count of stop and start requests, and its status, by fleet index.
  local function counts(which)
    local out = {}
    for _, n in ipairs(which) do
      local s = fc:server(env.id("ecs", n))
      out[n] = { stop = s.stop_requests, start = s.start_requests, status = s.status }
    end
    return out
  end
  local function calls() return fc:stats().calls.total end

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = FLEET }
    client = env.default_client(fc) -- keys and a region: the project is found through IAM
  end)
  teardown(function()
    for _, d in ipairs(dirs) do os.execute("rm -rf '" .. d .. "'") end
    if client then client:close() end
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, job_duration = 0.05, fleet = FLEET })
    assert(fc:reset())
  end)

  it("night: exactly the tagged running servers stopped; again at the same time: nothing sent; morning: "
    .. "exactly those started", function()
    local dir = new_dir()
    local res = assert(run(dir, NIGHT))
    assert.is_true(res.ok)
    assert.are.equal(1, #res.results)
    local e = res.results[1]
    assert.are.same({ "office-hours", "ecs", "stopped", "stop" }, { e.schedule, e.service, e.wanted, e.action })
    assert.are.equal(fc.project_id, e.target.project_id)
    local stopped = sorted(e.result.stopped)
    local want = {}
    for _, n in ipairs({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 21 }) do want[#want + 1] = env.id("ecs", n) end
    assert.are.same(sorted(want), stopped)
    local c = counts(range(1, 21))
    for n = 1, 12 do assert.are.same({ stop = 1, start = 0, status = "SHUTOFF" }, c[n]) end
    assert.are.same({ stop = 1, start = 0, status = "SHUTOFF" }, c[21]) -- override=stopped: off at night anyway
    for _, n in ipairs({ 13, 14, 15, 16, 17, 20 }) do                      -- protected, untagged, override=running
      assert.are.same({ stop = 0, start = 0, status = "ACTIVE" }, c[n])
    end
    for _, n in ipairs({ 18, 19 }) do assert.are.same({ stop = 0, start = 0, status = "SHUTOFF" }, c[n]) end
    -- The record is under the state directory, and the state names it.
    assert.truthy(e.record:find(dir .. "/records/", 1, true))
    local st = assert(state.read(e.state_file))
    assert.are.same({ "stopped", false }, { st.wanted, st.acting })
    assert.are.equal(1, #st.records)

    -- The same time again: not a request of any kind.
    local before = calls()
    local again = assert(run(dir, NIGHT))
    assert.is_true(again.ok)
    assert.are.same({ "none", "stopped" }, { again.results[1].action, again.results[1].previous })
    assert.are.equal(before, calls())

    -- A person stops one of the schedule's servers by hand in the evening... it was already
    -- off: the hand-off ones (18, 19) were SHUTOFF before the night run. Morning:
    local morning = assert(run(dir, MORNING))
    assert.is_true(morning.ok)
    local m = morning.results[1]
    assert.are.same({ "running", "start", "stopped" }, { m.wanted, m.action, m.previous })
    local started = {}
    for n = 1, 12 do started[#started + 1] = env.id("ecs", n) end
    assert.are.same(sorted(started), sorted(m.result.started))
    c = counts(range(1, 21))
    for n = 1, 12 do assert.are.same({ stop = 1, start = 1, status = "ACTIVE" }, c[n]) end
    assert.are.same({ stop = 1, start = 0, status = "SHUTOFF" }, c[21]) -- override=stopped stays off
    for _, n in ipairs({ 18, 19 }) do assert.are.same({ stop = 0, start = 0, status = "SHUTOFF" }, c[n]) end
    for _, n in ipairs({ 13, 14, 15, 16, 17, 20 }) do
      assert.are.same({ stop = 0, start = 0, status = "ACTIVE" }, c[n])
    end
    -- The record with server 21 (kept off by its override) stays in the state; a morning
    -- run again at the same time sends nothing.
    st = assert(state.read(m.state_file))
    assert.are.same({ "running", false, 1 }, { st.wanted, st.acting, #st.records })
    before = calls()
    assert.are.equal("none", assert(run(dir, MORNING)).results[1].action)
    assert.are.equal(before, calls())
  end)

  it("a new client with no project id sends no call when nothing is to do; IAM is asked when a unit must act",
    function()
    local dir = new_dir()
    -- Each run as a new cron process would make it: a new client, nothing found before.
    local function fresh_run(at)
      project.forget()
      local fresh = env.default_client(fc)
      local res = assert(fresh:run_schedule{ schedule = FILE, state_dir = dir, at = at, poll_interval = 0.02 })
      local known = fresh.project_id
      fresh:close()
      return res, known
    end
    local iam = fc:stats().calls.iam
    assert.is_true(fresh_run(NIGHT).ok)
    assert.are.equal(iam + 1, fc:stats().calls.iam)
    local before = fc:stats().calls
    local quiet, known = fresh_run(NIGHT + 300)
    assert.is_true(quiet.ok)
    assert.are.same({ "none", fc.project_id }, { quiet.results[1].action, quiet.results[1].target.project_id })
    assert.are.same(before, fc:stats().calls) -- not a call, IAM's included
    assert.is_nil(known)
    -- A remembered project IAM no longer gives (a file from another account's keys, say) is
    -- not trusted once a unit must act: IAM's answer names the state files, and is remembered.
    local files = {}
    for f in io.popen("ls " .. dir .. "/project.*.json"):lines() do files[#files + 1] = f end
    assert.are.equal(1, #files)
    local h = assert(io.open(files[1], "wb"))
    h:write('{"format":"cloud-schedule-project/1","project_id":"ffffffffffffffffffffffffffffffff"}\n')
    h:close()
    local morning = fresh_run(MORNING)
    assert.is_true(morning.ok)
    assert.are.same({ "start", fc.project_id, 12 },
      { morning.results[1].action, morning.results[1].target.project_id, #morning.results[1].result.started })
    assert.are.equal(before.iam + 1, fc:stats().calls.iam)
    assert.truthy(assert(io.open(files[1], "rb")):read("*a"):find(fc.project_id, 1, true))
  end)

  it("a first run in the daytime starts nothing: it knows of nothing it stopped", function()
    local dir = new_dir()
    local before = calls()
    local res = assert(run(dir, MORNING))
    assert.is_true(res.ok)
    assert.are.same({ "running", "none" }, { res.results[1].wanted, res.results[1].action })
    assert.are.equal(before, calls())
    local st = assert(state.read(res.results[1].state_file))
    assert.are.same({ "running", false, 0 }, { st.wanted, st.acting, #st.records })
  end)

  it("enforce: every run stops what was started since; without it, a later run leaves it", function()
    local enforced = { schedules = { ["office-hours"] = { timezone = "Europe/Berlin", enforce = true,
      periods = { { days = "mon-fri", start = "08:00", stop = "19:00" } } } } }
    for _, mode in ipairs({ "enforce", "plain" }) do
      assert(fc:reset())
      local dir = new_dir()
      local file = mode == "enforce" and enforced or FILE
      assert.is_true(assert(run(dir, NIGHT, file)).ok)
      -- Someone starts server 3 in the night.
      assert.is_true(client:start_ecs{ ids = { env.id("ecs", 3) }, poll_interval = 0.02 }.ok)
      local later = assert(run(dir, NIGHT + 300, file))
      local s = fc:server(env.id("ecs", 3))
      if mode == "enforce" then
        assert.are.equal("stop", later.results[1].action)
        assert.are.same({ env.id("ecs", 3) }, later.results[1].result.stopped)
        assert.are.same({ 2, "SHUTOFF" }, { s.stop_requests, s.status })
        -- Two records now; the morning starts 1..12 once each.
        assert.is_true(assert(run(dir, MORNING, file)).ok)
        for n = 1, 12 do
          local x = fc:server(env.id("ecs", n))
          assert.are.same({ "ACTIVE", n == 3 and 2 or 1 }, { x.status, x.start_requests })
        end
      else
        assert.are.equal("none", later.results[1].action)
        assert.are.same({ 1, "ACTIVE" }, { s.stop_requests, s.status })
      end
    end
  end)

  it("a run killed after writing 'acting' and during its stop is finished by the next run, and the morning "
    .. "starts each server once", function()
    local dir = new_dir()
    assert(state.prepare(dir))
    local path = state.path(dir, "office-hours", "cn-north-4", fc.project_id, "ecs")
    -- What the killed run left: its state (acting, the record named) and the record of a stop
    -- that reached servers 1..5 only.
    local rel = "records/killed.jsonl"
    local part = {}
    for n = 1, 5 do part[n] = env.id("ecs", n) end
    assert.is_true(client:stop_ecs{ ids = part, record = dir .. "/" .. rel, poll_interval = 0.02 }.ok)
    assert(state.write(path, { wanted = "stopped", acting = true, at = NIGHT,
                               records = { rel, "records/never-made.jsonl" } }))
    local res = assert(run(dir, NIGHT))
    local e = res.results[1]
    assert.is_true(e.ok)
    assert.are.same({ "stop", true }, { e.action, e.resumed })
    assert.are.equal(8, #e.result.stopped) -- 6..12 and 21
    for n = 1, 12 do assert.are.equal(1, fc:server(env.id("ecs", n)).stop_requests) end
    local morning = assert(run(dir, MORNING))
    assert.is_true(morning.ok)
    assert.are.equal(12, #morning.results[1].result.started)
    for n = 1, 12 do
      local s = fc:server(env.id("ecs", n))
      assert.are.same({ "ACTIVE", 1 }, { s.status, s.start_requests })
    end
  end)

  it("max_servers: a stop over it is refused and nothing sent; the next run tries again", function()
    local dir = new_dir()
    local small = { schedules = { ["office-hours"] = { timezone = "Europe/Berlin", max_servers = 5,
      periods = { { days = "mon-fri", start = "08:00", stop = "19:00" } } } } }
    local res = assert(run(dir, NIGHT, small))
    local e = res.results[1]
    assert.is_false(res.ok)
    assert.are.same({ "stop", false, "cloud.max_servers" }, { e.action, e.ok, e.error.code })
    assert.are.equal(0, fc:stats().stop_requests.total)
    local st = assert(state.read(e.state_file))
    assert.are.same({ true, 0 }, { st.acting, #st.records }) -- no record of a stop that sent nothing
    assert.is_nil(e.record)
    assert.are.equal("stop", assert(run(dir, NIGHT + 300, small)).results[1].action)
    assert.are.equal(0, fc:stats().stop_requests.total)
    local p = io.popen("ls " .. dir .. "/records | wc -l")
    assert.are.equal("0", p:read("*l"))
    p:close()
  end)

  it("a corrupt state file is refused, naming it, and nothing is sent for it", function()
    local dir = new_dir()
    assert(state.prepare(dir))
    local path = state.path(dir, "office-hours", "cn-north-4", fc.project_id, "ecs")
    local f = assert(io.open(path, "wb"))
    f:write("{\"format\":\"cloud-schedule-state/1\",\"wanted\":\"sleeping\"")
    f:close()
    assert(client:ready())
    local before = calls()
    local res = assert(run(dir, NIGHT))
    assert.is_false(res.ok)
    local e = res.results[1]
    assert.are.same({ false, "none", "cloud.schedule_state" }, { e.ok, e.action, e.error.code })
    assert.truthy(e.error.message:find(path, 1, true))
    assert.are.equal(before, calls())
    for n = 1, 12 do assert.are.equal("ACTIVE", fc:server(env.id("ecs", n)).status) end
  end)

  it("plan_schedule says what a run would stop, and sends no stop", function()
    local dir = new_dir()
    local p = client:plan_schedule{ schedule = FILE, at = NIGHT, state_dir = dir }
    assert.is_true(p.ok)
    local e = p.results[1]
    assert.are.same({ "stopped", "stop" }, { e.wanted, e.action })
    assert.are.equal(13, #e.would_stop)
    assert.are.equal(0, fc:stats().stop_requests.total)
  end)

  it("fleet:run_schedule: one result per schedule and target", function()
    local fleet = env.cloud.fleet{ targets = { { region = "cn-north-4" } }, ak = fc.ak, sk = fc.sk,
      endpoints = { ecs = fc.url, bms = fc.url, iam = fc.url }, retry = { attempts = 3, base = 0.01, cap = 0.05 } }
    local dir = new_dir()
    local res = assert(fleet:run_schedule{ schedule = FILE, state_dir = dir, at = NIGHT, poll_interval = 0.02 })
    fleet:close()
    assert.is_true(res.ok)
    assert.are.equal(1, #res.results)
    assert.are.same({ "cn-north-4", fc.project_id, 13 },
      { res.results[1].target.region, res.results[1].target.project_id, #res.results[1].result.stopped })
  end)
  it("fleet:run_schedule: a target that cannot be set up fails its units, the others run", function()
    local fleet = env.cloud.fleet{ ak = fc.ak, sk = fc.sk,
      endpoints = { ecs = fc.url, bms = fc.url, iam = fc.url }, retry = { attempts = 3, base = 0.01, cap = 0.05 },
      targets = { { region = "cn-north-4" }, { region = "cn-east-3", profile = "missing" } } }
    local res = assert(fleet:run_schedule{ schedule = FILE, state_dir = new_dir(), at = NIGHT, poll_interval = 0.02 })
    fleet:close()
    assert.is_false(res.ok)
    assert.are.equal(2, #res.results)
    local good, bad = res.results[1], res.results[2]
    assert.are.same({ "cn-north-4", true, "stop", 13 }, { good.target.region, good.ok, good.action,
                                                         #good.result.stopped })
    assert.are.same({ "cn-east-3", false, "none", "office-hours", "ecs", "stopped" },
      { bad.target.region, bad.ok, bad.action, bad.schedule, bad.service, bad.wanted })
    assert.truthy(bad.error and bad.error.code, tostring(bad.error))
  end)
end)
