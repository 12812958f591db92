-- Undo you can trust: cloud-stop --record F killed or interrupted at each phase of a stop,
-- on a full disk, and the scheduling recipe, all in the README's set-up (keys and a region,
-- the project found through IAM: no project id anywhere); then cloud-start --from-record F
-- must start exactly the servers the cloud stopped, as the emulator counts them.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local env = require "support.cloudenv"
local socket = require "socket"

local TAG = "env=crash"
-- 1,200 servers to stop (two calls: 1,000 and 200), 5 already off, 2 the filter leaves out.
local FLEET = {
  ecs = {
    { count = 1200, name = "crash-%04d", tags = { TAG } },               -- 1..1200
    { count = 5, name = "crash-off-%d", status = "SHUTOFF", tags = { TAG } }, -- 1201..1205
    { count = 2, name = "other-%d", tags = { "env=other" } },             -- 1206..1207
  },
}
local START = { script = cli.root .. "/bin/cloud-start.lua" }
-- Signals by name, and the exit status each run ends with.
local EXIT = { KILL = 137, TERM = 143, INT = 130 }

-- How many times `plain` (no pattern) stands in `text`.
local function count(text, plain)
  local n, at = 0, 1
  while true do
    local i = text:find(plain, at, true)
    if not i then return n end
    n, at = n + 1, i + #plain
  end
end

local function wait_until(what, timeout, fn, every)
  local deadline = socket.gettime() + timeout
  while not fn() do
    assert(socket.gettime() < deadline, "timed out waiting for " .. what)
    socket.sleep(every or 0.02)
  end
end

-- The last whole line of a text that ends in one. (text:match("([^\n]*)\n$") would try every
-- start: minutes on a record whose lines run to 48 KB.)
local function last_line(text)
  local i = #text - 1
  while i > 0 and text:byte(i) ~= 10 do i = i - 1 end
  return text:sub(i + 1, -2)
end

describe("undo you can trust (cloud-stop --record, then cloud-start --from-record)", function()
  local fc, default
  local scratch = cli.scratch()
  local new_file = scratch.new

  setup(function()
    fc = env.start{ job_duration = 0.5, fleet = FLEET }
    default = env.default_env(fc)
  end)
  teardown(function()
    scratch.clean()
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, flow_control = {}, job_duration = 0.5, fleet = FLEET })
    assert(fc:reset())
  end)

  -- Restores `rec` as the printed undo command does (once every job has ended), and checks
  -- that the servers running again are exactly those the cloud had stopped. By counts, as
  -- the emulator keeps them (a listing of every server is slow under valgrind): the servers
  -- off before the stop (`active` + 1 to + 5) are off and never started after it; every
  -- other is ACTIVE again; and the starts the cloud took are as many as the servers it had
  -- stopped, none twice. A start of a server that was running would need one of those it
  -- stopped to stay off, and the counts would not add up.
  local function restore_checks(rec, active)
    active = active or 1200
    wait_until("the cloud's jobs to end", 15, function() return fc:stats().pending_jobs == 0 end, 0.1)
    assert(fc:configure{ faults = {}, flow_control = {}, job_duration = 0.05 })
    local before = fc:stats().servers.ecs
    local stopped_by_cloud = (before.SHUTOFF or 0) - 5
    local r = cli.run({ "--from-record", rec, "--yes", "--json", "--poll-interval", "0.05" }, default, START)
    assert.are.equal(0, r.code, r.stderr .. r.stdout)
    local doc = cjson.decode(r.stdout)
    assert.is_true(doc.ok)
    assert.are.equal(stopped_by_cloud, #doc.started)
    wait_until("the starts to end", 15, function() return fc:stats().pending_jobs == 0 end, 0.1)
    local st = fc:stats()
    assert.are.same({ SHUTOFF = 5, ACTIVE = (before.SHUTOFF or 0) + (before.ACTIVE or 0) - 5 }, st.servers.ecs)
    for n = active + 1, active + 5 do
      local s = fc:server(env.id("ecs", n))
      assert.are.same({ "SHUTOFF", 0 }, { s.status, s.start_requests }, "server " .. n)
    end
    assert.are.same({ stopped_by_cloud, 0 }, { st.start_requests.total, st.start_requests.sent_more_than_once })
    assert.are.equal(0, st.stop_requests.sent_more_than_once)
    return stopped_by_cloud
  end

  it("with no project id anywhere, the printed undo command starts exactly what was stopped", function()
    local rec = new_file()
    local r = cli.run({ "ecs", "--tag", TAG, "--yes", "--record", rec, "--poll-interval", "0.05" }, default)
    assert.are.equal(0, r.code, r.stderr)
    local undo = r.stderr:match("to undo: (cloud%-start [^\n]+)")
    assert.are.equal("cloud-start --from-record " .. rec .. " --yes", undo)
    local header = cjson.decode(cli.slurp(rec):match("^([^\n]*)\n"))
    assert.are.same({ fc.project_id, "cn-north-4", "ecs", fc.url }, { header.project_id, header.region,
      header.service, header.endpoint })
    assert.are.equal(1200, restore_checks(rec))
  end)

  -- The phases of a stop, each with what makes the emulator hold it there and what shows
  -- the stop has reached it.
  local PHASES = {
    { name = "before the first call (listing)",
      config = { faults = { latency = 1.5, apply_to = { list = true, action = false, job = false } } },
      reached = function(rec) return cli.slurp(rec):find('"type":"header"', 1, true) and socket.sleep(0.3) ~= 1 end },
    { name = "during a call the cloud accepts late",
      config = { faults = { latency = 2, latency_mode = "after_work", apply_to = { action = true, job = false,
                                                                                    list = false } } },
      reached = function() return fc:stats().stop_requests.total >= 1000 end },
    { name = "between calls (the second waits for flow control)",
      config = { flow_control = { budget = 1000, window = 60 } },
      reached = function(rec)
        return count(cli.slurp(rec), '"type":"batch"') >= 1 and (fc:stats().refused["Common.0024"] or 0) >= 1
      end },
    { name = "while polling the jobs",
      config = { job_duration = 2 },
      reached = function(rec) return count(cli.slurp(rec), '"type":"batch"') >= 2 end },
  }

  for _, phase in ipairs(PHASES) do
    for _, sig in ipairs({ "KILL", "TERM", "INT" }) do
      it(("SIG%s %s: the restore starts exactly what the cloud stopped"):format(sig, phase.name), function()
        assert(fc:configure(phase.config))
        local rec = new_file()
        local child = cli.background({ "ecs", "--tag", TAG, "--yes", "--record", rec, "--concurrency", "1",
                                       "--poll-interval", "0.1" }, default)
        finally(function() child.done() end)
        wait_until("the phase", 20, function() return phase.reached(rec) end, 0.05)
        child.signal(sig)
        local code = child.wait(15)
        local _, stderr = child.done()
        assert.are.equal(EXIT[sig], code, stderr)
        local text = cli.slurp(rec)
        assert.are.equal("\n", text:sub(-1)) -- every line written whole
        local last = cjson.decode(last_line(text))
        if sig == "KILL" then
          assert.are_not.equal("end", last.type)
        else
          -- Handled as Ctrl-C is: the record completed, the undo command printed.
          assert.are.same({ "end", true }, { last.type, last.interrupted })
          assert.truthy(stderr:find("to undo: cloud-start --from-record " .. rec, 1, true), stderr)
        end
        -- Every call that left was written ahead: each batch has its intent before it.
        local intents = {}
        for _, l in ipairs(cli.record_lines(text)) do
          if l.type == "intent" then intents[l.call] = true end
          if l.type == "batch" then assert.is_true(intents[l.call], "a batch without its intent line") end
        end
        restore_checks(rec)
      end)
    end
  end

  it("a full disk: cloud-stop exits 4 and sends nothing more; the record covers what the cloud stopped", function()
    if not os.execute("unshare --mount true >/dev/null 2>&1") then
      return pending("needs root for unshare --mount (a small tmpfs to fill)")
    end
    -- 2,000 servers to stop: two calls of 1,000, each intent line about 48 KB.
    assert(fc:configure{ fleet = { ecs = { { count = 2000, tags = { TAG } },
      { count = 5, status = "SHUTOFF", tags = { TAG } } } } })
    assert(fc:reset())
    local dir, out = new_file(), new_file()
    os.execute("mkdir -p " .. cli.quote(dir))
    finally(function() os.execute("rm -rf " .. cli.quote(dir)) end)
    -- A tmpfs of 72 KiB: the header, the skipped servers and the first intent line fit; the
    -- second call's intent line does not, so that call is never sent. The record is copied
    -- out before the namespace (and its tmpfs) goes.
    local rec = dir .. "/stop.jsonl"
    local cmd = cli.command({ "ecs", "--tag", TAG, "--yes", "--record", rec, "--concurrency", "1",
                              "--poll-interval", "0.05" }, default)
    local script = ("mount -t tmpfs -o size=%dk tmpfs %s && cd %s && %s >%s.out 2>%s.err; echo $? >%s.rc; cp %s %s")
      :format(72, cli.quote(dir), cli.quote(cli.root), cmd, out, out, out, cli.quote(rec), cli.quote(out))
    assert(os.execute("unshare --mount sh -c " .. cli.quote(script)))
    local code, stderr = tonumber(cli.slurp(out .. ".rc"):match("%d+")), cli.slurp(out .. ".err")
    finally(function() for _, ext in ipairs({ ".out", ".err", ".rc" }) do os.remove(out .. ext) end end)
    assert.are.equal(4, code, stderr)
    assert.truthy(stderr:find("No space left on device", 1, true), stderr)
    assert.truthy(stderr:find("to undo: cloud-start --from-record", 1, true), stderr)
    -- The stop calls the record could not take were never sent.
    local text = cli.slurp(out)
    local sent = 0
    for _, l in ipairs(cli.record_lines(text)) do
      if l.type == "intent" then sent = sent + l.count end
    end
    assert.are.equal(1000, sent)
    assert.are.equal(sent, fc:stats().stop_requests.total, stderr)
    assert.are.equal(sent, restore_checks(out, 2000))
  end)

  it("refuses a FIFO or a device as --from-record at once, and a link or FIFO as --record", function()
    local fifo = new_file()
    os.execute("mkfifo " .. cli.quote(fifo))
    for _, path in ipairs({ fifo, "/dev/zero" }) do
      local r = cli.run({ "--from-record", path, "--yes" }, default, { script = START.script, timeout = 10 })
      assert.are.equal(3, r.code, r.stderr)
      assert.truthy(r.stderr:find("not a regular file", 1, true), r.stderr)
    end
    local target, link = new_file(), new_file()
    os.execute(("ln -s %s %s"):format(cli.quote(target), cli.quote(link))) -- dangling
    for _, path in ipairs({ fifo, link }) do
      local r = cli.run({ "ecs", env.id("ecs", 1), "--record", path }, default, { timeout = 10 })
      assert.are.equal(2, r.code, r.stderr)
      assert.truthy(r.stderr:find("already exists", 1, true), r.stderr)
    end
    assert.is_nil(io.open(target, "rb")) -- the link was not followed
    assert.are.equal(0, fc:stats().stop_requests.total)
  end)

  it("the scheduling recipe's night and morning lines work as printed", function()
    -- The cron lines of docs/scheduling.md for ECS, run by sh as cron would: the time
    -- fields and the user left out, `\%` as cron passes it, the log and records in a
    -- scratch folder, and the installed commands found on PATH.
    local doc = cli.slurp(cli.root .. "/docs/scheduling.md")
    local night = doc:match("\n0 20 %* %* 1%-5  ops  (f=%$R/stop%-ecs[^\n]+)")
    local morning = doc:match("\n30 7 %* %* 1%-5  ops  (cloud%-start %-%-from%-record %$R/stop%-ecs[^\n]+)")
    assert.truthy(night and morning, "the recipe's ECS lines are not in docs/scheduling.md")
    local dir = new_file()
    os.execute("mkdir -p " .. cli.quote(dir))
    finally(function() os.execute("rm -rf " .. cli.quote(dir)) end)
    assert(fc:configure{ fleet = { ecs = { { count = 6, tags = { "schedule=office-hours" } },
      { count = 2, status = "SHUTOFF", tags = { "schedule=office-hours" } },
      { count = 1, tags = { "schedule=office-hours", "stop-protect=true" } } } } })
    assert(fc:reset())
    local e = {}
    for k, v in pairs(default) do e[k] = v end
    e.PATH = cli.root .. "/bin:" .. (os.getenv("PATH") or "/usr/bin:/bin")
    e.R = dir
    local function cron(line)
      line = line:gsub("\\%%", "%%"):gsub("/var/log/cloud/", dir .. "/")
      local parts = { "env", "-i" }
      for k, v in pairs(e) do parts[#parts + 1] = k .. "=" .. cli.quote(v) end
      os.execute(("cd / && %s sh -c %s"):format(table.concat(parts, " "), cli.quote(line)))
    end
    cron(night)
    local log = cli.slurp(dir .. "/ecs.log")
    assert.truthy(log:find("ECS: 6 of 6 stopped", 1, true), log)
    local st = fc:stats()
    assert.are.same({ SHUTOFF = 8, ACTIVE = 1 }, st.servers.ecs)
    cron(morning)
    log = cli.slurp(dir .. "/ecs.log")
    assert.truthy(log:find("ECS: 6 of 9 started", 1, true), log)
    assert.are.same({ SHUTOFF = 2, ACTIVE = 7 }, fc:stats().servers.ecs)
    assert.are.equal(6, fc:stats().start_requests.total)
  end)
end)
