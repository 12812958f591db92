-- cloud-schedule as a process against the emulator: plan (text and --json), run --yes at a
-- night and a morning time (--at), exit statuses, a bad schedule file refused naming the
-- schedule and the field with nothing sent, plan --usage, run without --yes refused.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local cloudenv = require "support.cloudenv"
local ids = require "fakecloud.ids"

local FLEET = {
  ecs = {
    { count = 6, name = "app-%02d", tags = { "schedule=office-hours" } },                     -- 1..6
    { count = 1, name = "keep-%d", tags = { "schedule=office-hours", "stop-protect=true" } },   -- 7
    { count = 2, name = "other-%d" },                                                        -- 8..9
  },
}
local SCHEDULE = cjson.encode{ schedules = { ["office-hours"] = { timezone = "Europe/Berlin",
  periods = { { days = "mon-fri", start = "08:00", stop = "19:00" } } } } }
local NIGHT, MORNING = "2026-12-07T20:00:00+01:00", "2026-12-08T08:30:00+01:00"
local SCHEDULE_SCRIPT = { script = cli.root .. "/bin/cloud-schedule.lua" }

local function ecs(n) return ids.server_id("ecs", n) end

describe("cloud-schedule", function()
  local fc, env, config, state_dir
  local scratch = cli.scratch()

  local function run(...)
    local r = cli.run({ ... }, env, SCHEDULE_SCRIPT)
    assert.is_nil(r.stdout:find(fc.sk, 1, true), "the SK was printed on stdout")
    assert.is_nil(r.stderr:find(fc.sk, 1, true), "the SK was printed on stderr")
    return r
  end
  local function counts(n)
    local s = fc:server(ecs(n))
    return { s.status, s.stop_requests, s.start_requests }
  end

  setup(function()
    fc = cloudenv.start{ job_duration = 0.02, fleet = FLEET }
    env = cloudenv.default_env(fc) -- keys and a region: the project is found through IAM
    config = scratch.new()
    cli.write(config, SCHEDULE)
    state_dir = scratch.new()
  end)
  teardown(function()
    os.execute("rm -rf " .. cli.quote(state_dir))
    scratch.clean()
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 0.02 })
    assert(fc:reset())
    os.execute("rm -rf " .. cli.quote(state_dir))
  end)

  it("plan: the wanted state and the servers a run would stop, as text and as --json; nothing stopped", function()
    local r = run("plan", "--config", config, "--at", NIGHT)
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("office-hours [cn-north-4 " .. fc.project_id .. " ecs]: stopped", 1, true), r.stdout)
    assert.truthy(r.stdout:find("a run would stop 6 server(s)", 1, true), r.stdout)
    assert.truthy(r.stdout:find("app-01 (" .. ecs(1) .. ")", 1, true), r.stdout)
    r = run("plan", "--config", config, "--at", MORNING, "--json")
    assert.are.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.is_true(doc.ok)
    -- Without a state directory, what the schedule stopped (and would start) is not known.
    assert.are.same({ "office-hours", "running", "none" },
      { doc.results[1].schedule, doc.results[1].wanted, doc.results[1].action })
    assert.are.same({}, doc.results[1].would_start)
    assert.truthy(doc.results[1].note:find("no state directory", 1, true))
    assert.are.equal(0, fc:stats().stop_requests.total)
  end)

  it("run --yes: the night stops the tagged servers, a second run sends no ECS call, the morning starts them",
    function()
    local r = run("run", "--config", config, "--state-dir", state_dir, "--at", NIGHT, "--yes", "--poll-interval",
      "0.05")
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("stopped (was unknown): stopped 6, failed 0, skipped 1", 1, true), r.stdout)
    assert.truthy(r.stderr:find("stopping the tagged servers", 1, true), r.stderr)
    -- The stop's own progress, as cloud-stop shows it in a log (stderr is no terminal here).
    assert.truthy(r.stderr:find("cloud-schedule: ecs listing: 7/7 servers listed", 1, true), r.stderr)
    assert.truthy(r.stderr:find("cloud-schedule: ecs finished in", 1, true), r.stderr)
    for n = 1, 6 do assert.are.same({ "SHUTOFF", 1, 0 }, counts(n)) end
    for n = 7, 9 do assert.are.same({ "ACTIVE", 0, 0 }, counts(n)) end
    local before = fc:stats().calls
    r = run("run", "--config", config, "--state-dir", state_dir, "--at", NIGHT, "--yes", "--json")
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("none", cjson.decode(r.stdout).results[1].action)
    -- No call at all, IAM's included: the project the night's run found through IAM for
    -- these keys and region is remembered in the state directory, and nothing is to do.
    assert.are.same(before, fc:stats().calls)
    assert.are.equal(1, before.iam)
    r = run("run", "--config", config, "--state-dir", state_dir, "--at", MORNING, "--yes", "--poll-interval", "0.05")
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("running (was stopped): started 6", 1, true), r.stdout)
    assert.truthy(r.stderr:find("cloud-schedule: ecs finished in", 1, true), r.stderr)
    for n = 1, 6 do assert.are.same({ "ACTIVE", 1, 1 }, counts(n)) end
    for n = 7, 9 do assert.are.same({ "ACTIVE", 0, 0 }, counts(n)) end
  end)

  it("the cron line of docs/scheduling.md works as printed, at every five minutes", function()
    local doc = cli.slurp(cli.root .. "/docs/scheduling.md")
    local line = doc:match("\n%*/5 %* %* %* %*  ops  (cloud%-schedule run [^\n]+)")
    assert.truthy(line, "the recipe's cron line is not in docs/scheduling.md")
    local log = scratch.new()
    -- The file, state and log in scratch places; the run's time given, as cron's would be now.
    line = line:gsub("/etc/cloud/schedule%.json", config):gsub("/var/lib/cloud%-schedule", state_dir)
      :gsub("/var/log/cloud/schedule%.log", log)
    local parts = { "env", "-i", "PATH=" .. cli.quote(cli.root .. "/bin:" .. (os.getenv("PATH") or "/usr/bin:/bin")) }
    for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. cli.quote(v) end
    for _, at in ipairs({ NIGHT, MORNING }) do
      os.execute(("cd / && %s sh -c %s"):format(table.concat(parts, " "), cli.quote(line .. " --at " .. at)))
    end
    local text = cli.slurp(log)
    assert.truthy(text:find("stopped 6", 1, true), text)
    assert.truthy(text:find("started 6", 1, true), text)
    for n = 1, 6 do assert.are.same({ "ACTIVE", 1, 1 }, counts(n)) end
  end)

  it("a mistake in the file: exit 2, the schedule and the field named, nothing sent", function()
    local bad = scratch.new()
    cli.write(bad, cjson.encode{ schedules = { ["office-hours"] = { timezone = "Europe/Berlin",
      periods = { { days = "mon-fri", start = "08:00", stop = "25:00" } } } } })
    local r = run("run", "--config", bad, "--state-dir", state_dir, "--at", NIGHT, "--yes")
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find('schedules["office-hours"].periods[1].stop', 1, true), r.stderr)
    assert.truthy(r.stderr:find("25:00", 1, true), r.stderr)
    cli.write(bad, cjson.encode{ schedules = { night = { timezone = "Mars/Olympus",
      periods = { { days = "mon", start = "08:00", stop = "09:00" } } } } })
    r = run("plan", "--config", bad)
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find('schedules["night"].timezone', 1, true), r.stderr)
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("run without --yes, and other usage mistakes: exit 2 before any call", function()
    for _, argv in ipairs({
      { "run", "--config", config, "--state-dir", state_dir },
      { "run", "--config", config, "--yes" },
      { "plan" },
      { "stop", "--config", config },
      { "plan", "--config", config, "--at", "tomorrow" },
      { "plan", "--config", config, "--usage", "--from", "2026-01-01" },
      { "plan", "--config", config, "--sk", "secret" },
      { "plan", "--config", config, "--retries", "100" },
      { "plan", "--config", config, "--config", config },
    }) do
      local r = run(unpack and unpack(argv) or table.unpack(argv))
      assert.are.equal(2, r.code, table.concat(argv, " ") .. ": " .. r.stderr)
      assert.truthy(r.stderr:find("cloud-schedule: ", 1, true))
    end
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("a state file that is not one: exit 3, naming it, and no server touched", function()
    os.execute("mkdir -p " .. cli.quote(state_dir))
    local path = ("%s/office-hours.cn-north-4.%s.ecs.json"):format(state_dir, fc.project_id)
    cli.write(path, "not json")
    local r = run("run", "--config", config, "--state-dir", state_dir, "--at", NIGHT, "--yes")
    assert.are.equal(3, r.code, r.stdout .. r.stderr)
    assert.truthy(r.stdout:find(path, 1, true), r.stdout)
    assert.are.equal(0, fc:stats().stop_requests.total)
  end)

  it("targets named in the file make a fleet: one result per target; --region is refused with them", function()
    local file = scratch.new()
    cli.write(file, cjson.encode{ targets = { { region = "cn-north-4" } }, schedules = { ["office-hours"] = {
      timezone = "Europe/Berlin", periods = { { days = "mon-fri", start = "08:00", stop = "19:00" } } } } })
    local r = run("run", "--config", file, "--state-dir", state_dir, "--at", NIGHT, "--yes", "--json",
      "--poll-interval", "0.05")
    assert.are.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.are.equal(1, #doc.results)
    assert.are.same({ "cn-north-4", fc.project_id, "stop", 6 }, { doc.results[1].target.region,
      doc.results[1].target.project_id, doc.results[1].action, #doc.results[1].result.stopped })
    r = run("plan", "--config", file, "--region", "cn-north-4")
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("names its targets", 1, true), r.stderr)
  end)

  it("SIGTERM during the night's stop call: exit 143, the state left acting; the next run finishes, and "
    .. "the morning starts each server the cloud stopped once", function()
    -- The stop call is done at once but answered late: the signal comes while the client waits.
    assert(fc:configure{ faults = { latency = 3, latency_mode = "after_work",
                                    apply_to = { action = true, job = false, list = false } } })
    local h = cli.background({ "run", "--config", config, "--state-dir", state_dir, "--at", NIGHT, "--yes",
                               "--poll-interval", "0.05" }, env, SCHEDULE_SCRIPT)
    local socket = require "socket"
    local deadline = socket.gettime() + 15
    while fc:stats().calls.action < 1 and socket.gettime() < deadline do socket.sleep(0.02) end
    assert.are.equal(1, fc:stats().calls.action)
    h.signal("TERM")
    local rc = h.wait(10)
    local _, err = h.done()
    assert.are.equal(143, rc, err)
    assert.truthy(err:find("interrupted by SIGTERM", 1, true), err)
    local path = ("%s/office-hours.cn-north-4.%s.ecs.json"):format(state_dir, fc.project_id)
    local st = cjson.decode(cli.slurp(path))
    assert.are.same({ "stopped", true, 1 }, { st.wanted, st.acting, #st.records })
    for n = 1, 6 do assert.are.same({ "SHUTOFF", 1, 0 }, counts(n)) end -- the cloud did the work
    assert(fc:configure{ faults = {} })
    -- The next run sees "acting" and finishes: nothing is left running, nothing sent again.
    local r = run("run", "--config", config, "--state-dir", state_dir, "--at", NIGHT, "--yes", "--json",
      "--poll-interval", "0.05")
    assert.are.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.are.same({ "stop", true, 0 }, { doc.results[1].action, doc.results[1].resumed,
                                          #doc.results[1].result.stopped })
    st = cjson.decode(cli.slurp(path))
    assert.are.same({ false, 1 }, { st.acting, #st.records })
    -- The morning: the interrupted record's servers (their answer never came) are looked up,
    -- found off and known running before, and started once each.
    r = run("run", "--config", config, "--state-dir", state_dir, "--at", MORNING, "--yes", "--poll-interval", "0.05")
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.truthy(r.stdout:find("started 6", 1, true), r.stdout)
    for n = 1, 6 do assert.are.same({ "ACTIVE", 1, 1 }, counts(n)) end
    for n = 7, 9 do assert.are.same({ "ACTIVE", 0, 0 }, counts(n)) end
  end)

  it("a full disk under the state directory: exit 4, no stop sent; once there is room, the run acts", function()
    if not os.execute("unshare --mount true >/dev/null 2>&1") then
      return pending("needs root for unshare --mount (a small tmpfs to fill)")
    end
    local out = scratch.new()
    os.execute("mkdir -p " .. cli.quote(state_dir))
    -- A tmpfs of 16 KiB filled to the last byte, mounted over the state directory in a mount
    -- namespace of its own. dd runs without the ASan run's preloaded runtime, under which it
    -- left room (CI: the state's last write failed instead, after the stop).
    local cmd = cli.command({ "run", "--config", config, "--state-dir", state_dir, "--at", NIGHT, "--yes",
                              "--poll-interval", "0.05" }, env, SCHEDULE_SCRIPT)
    local script = ("mount -t tmpfs -o size=16k tmpfs %s"
      .. " && (env -u LD_PRELOAD dd if=/dev/zero of=%s/fill bs=1k 2>/dev/null; true)"
      .. " && cd %s && %s >%s.out 2>%s.err; echo $? >%s.rc; ls %s >%s.ls")
      :format(cli.quote(state_dir), cli.quote(state_dir), cli.quote(cli.root), cmd, out, out, out,
              cli.quote(state_dir), out)
    assert(os.execute("unshare --mount sh -c " .. cli.quote(script)))
    local code, stderr = tonumber(cli.slurp(out .. ".rc"):match("%d+")), cli.slurp(out .. ".err")
    local stdout = cli.slurp(out .. ".out")
    for _, ext in ipairs({ ".out", ".err", ".rc", ".ls" }) do os.remove(out .. ext) end
    assert.are.equal(4, code, stdout .. stderr)
    assert.truthy((stdout .. stderr):find("No space left on device", 1, true), stdout .. stderr)
    assert.truthy(stdout:find("stopped; not acted on", 1, true), stdout)
    assert.are.equal(0, fc:stats().calls.action)
    for n = 1, 9 do assert.are.same({ "ACTIVE", 0, 0 }, counts(n)) end
    -- The same run with room: it acts as a first run does.
    local r = run("run", "--config", config, "--state-dir", state_dir, "--at", NIGHT, "--yes",
      "--poll-interval", "0.05")
    assert.are.equal(0, r.code, r.stderr)
    for n = 1, 6 do assert.are.same({ "SHUTOFF", 1, 0 }, counts(n)) end
  end)

  it("plan --usage: running hours and the share saved, without a connection", function()
    local r = cli.run({ "plan", "--usage", "--from", "2026-12-07", "--to", "2026-12-13", "--config", config },
      {}, SCHEDULE_SCRIPT)
    assert.are.equal(0, r.code, r.stderr)
    -- Five days of 11 hours in a week of 168: 55 running, 113 saved.
    assert.truthy(r.stdout:find("office%-hours%s+168%.0%s+55%.0%s+67%.3%%"), r.stdout)
    r = cli.run({ "plan", "--usage", "--from", "2026-12-07", "--to", "2026-12-13", "--config", config, "--json" },
      {}, SCHEDULE_SCRIPT)
    local doc = cjson.decode(r.stdout)
    assert.are.same({ "office-hours", 168, 55 }, { doc.usage[1].name, doc.usage[1].hours, doc.usage[1].running_hours })
  end)
end)
