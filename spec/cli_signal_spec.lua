-- SIGTERM and SIGHUP as Ctrl-C: cloud-stop run in the background against the emulator gets
-- the signal while a stop call is under way, or while its job is polled, and ends as an
-- interruption does: no further call sent, the record's end line, the partial result and
-- the undo hint, exit 128 + the signal's number. Below the command line: core.trap_signals
-- and core.caught_signal, and a library's stop in a process that trapped them.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local subprocess = require "spec.support.subprocess"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local socket = require "socket"

-- 1001 servers: a stop of them all is two calls, the second sent once the first is
-- answered (stop calls start one at a time), so a signal during the first leaves one unsent.
local FLEET = { ecs = { { count = 1001, name = "web-%04d", tags = { "env=staging" } } } }
-- The stop call is done at once but answered late: the signal comes while the client waits.
local LATE_STOP = { latency = 3, latency_mode = "after_work", apply_to = { action = true, job = false, list = false } }

local start = cli.background

local function until_true(cond, timeout)
  local deadline = socket.gettime() + timeout
  while not cond() do
    if socket.gettime() > deadline then return false end
    socket.sleep(0.02)
  end
  return true
end

-- The record's lines, decoded.
local function record_lines(path)
  return cli.record_lines(cli.slurp(path))
end

describe("cloud-stop on SIGTERM and SIGHUP", function()
  local fc, env
  local scratch = cli.scratch()
  local new_file = scratch.new

  setup(function()
    fc = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET } })
    env = { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk,
            HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id, CLOUD_METADATA_ENDPOINT = "http://127.0.0.1:1" }
  end)
  teardown(function()
    scratch.clean()
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 0.02 })
    assert(fc:reset())
  end)

  local function calls()
    local c = fc:stats().calls
    return c.action or 0, c.job or 0
  end

  local function all_ids()
    local list = {}
    for n = 1, 1001 do list[n] = ids.server_id("ecs", n) end
    local path = new_file()
    cli.write(path, table.concat(list, "\n") .. "\n")
    return path
  end

  -- Sends `signal` while the first stop call waits for its late answer; returns the exit
  -- status, stdout, stderr, the record's lines and the calls seen when it was sent.
  local function interrupt_stop(signal, how)
    assert(fc:configure{ faults = LATE_STOP })
    local rec = new_file()
    local h = start({ "ecs", "--ids-file", all_ids(), "--yes", "--json", "--record", rec, "--endpoint", fc.url,
                      "--poll-interval", "0.05" }, env, how)
    assert.is_true(until_true(function() return (fc:stats().stop_requests.total or 0) >= 1 end, 15))
    local sent = calls()
    local t0 = socket.gettime()
    h.signal(signal)
    local rc = h.wait(10)
    local took = socket.gettime() - t0
    local out, err = h.done()
    return rc, out, err, record_lines(rec), sent, took
  end

  local function check_interrupted(rc, code, err, signal, lines, rec_ok)
    assert.equal(code, rc, err)
    assert.truthy(err:find("cloud-stop: interrupted by " .. signal .. "; stops already accepted", 1, true), err)
    assert.truthy(err:find("to undo: cloud-start --from-record ", 1, true), err)
    local last = lines[#lines]
    assert.equal("end", last.type)
    assert.is_true(last.interrupted)
    assert.equal("cloud.interrupted", last.error.code)
    if rec_ok ~= nil then assert.equal(rec_ok, last.ok) end
  end

  it("SIGTERM during a stop call: exit 143, the record ended, no further stop call", function()
    local rc, out, err, lines, sent, took = interrupt_stop("TERM")
    check_interrupted(rc, 143, err, "SIGTERM", lines, false)
    -- Seen within the engine's wait of at most a second, not at the answer 3 s later.
    assert.truthy(took < 2.5, took)
    local doc = cjson.decode(out)
    assert.is_false(doc.ok)
    assert.equal(0, #doc.jobs) -- the answer with the job id never came
    assert.equal(1001, #doc.failed) -- unconfirmed, or not sent
    -- The second call (the 1001st server) was never sent, then or later.
    socket.sleep(0.5)
    assert.equal(1, sent)
    assert.equal(sent, (calls()))
    local st = fc:stats().stop_requests
    assert.equal(1000, st.servers)
    assert.equal(0, st.sent_more_than_once)
  end)

  it("SIGHUP during a stop call: exit 129, the same ending", function()
    local rc, _, err, lines, sent = interrupt_stop("HUP")
    check_interrupted(rc, 129, err, "SIGHUP", lines, false)
    socket.sleep(0.5)
    assert.equal(1, sent)
    assert.equal(sent, (calls()))
    assert.equal(1000, fc:stats().stop_requests.servers)
  end)

  it("SIGTERM while the accepted job is polled: exit 143, its job id in the partial result", function()
    assert(fc:configure{ job_duration = 60 })
    local rec = new_file()
    local h = start({ "ecs", ids.server_id("ecs", 1), ids.server_id("ecs", 2), "--yes", "--json", "--record", rec,
                      "--endpoint", fc.url, "--poll-interval", "0.05" }, env)
    -- Polled: the stop was accepted, and the client knows its job.
    assert.is_true(until_true(function() local _, jobs = calls() return jobs >= 2 end, 15))
    h.signal("TERM")
    local rc = h.wait(10)
    local out, err = h.done()
    check_interrupted(rc, 143, err, "SIGTERM", record_lines(rec), false)
    local doc = cjson.decode(out)
    assert.equal(1, #doc.jobs, out)
    assert.same({ ids.server_id("ecs", 1), ids.server_id("ecs", 2) }, doc.jobs[1].ids)
    -- The record has the accepted batch, so the undo finds its servers.
    local batches = 0
    for _, l in ipairs(record_lines(rec)) do
      if l.type == "batch" and l.job_id == doc.jobs[1].job_id then batches = batches + 1 end
    end
    assert.equal(1, batches)
    -- Nothing after the signal: no stop again, and the polls ended with the process.
    local actions, jobs = calls()
    socket.sleep(0.3)
    assert.same({ actions, jobs }, { calls() })
    assert.equal(1, actions)
  end)

  it("--help gives the exit statuses of an interruption", function()
    local r = cli.run({ "--help" }, env)
    assert.equal(0, r.code)
    assert.truthy(r.stdout:find("130, 143, 129 interrupted by Ctrl-C, SIGTERM or SIGHUP", 1, true), r.stdout)
  end)

  it("a library's stop in a process that trapped them raises kind interrupted, with what it knows", function()
    assert(fc:configure{ faults = LATE_STOP })
    local out = subprocess.run([[
      local cloud, core = require "cloud", require "cloud.core"
      core.trap_signals()
      local c = assert(cloud.new{ project_id = os.getenv("P"), ak = os.getenv("AK"), sk = os.getenv("SK"),
                                  endpoints = { ecs = os.getenv("URL") } })
      os.execute("(sleep 0.5; kill -TERM $PPID) &")
      local t0 = core.now()
      local ok, e = pcall(c.stop_ecs, c, { ids = { os.getenv("ID") }, poll_interval = 0.05 })
      print(ok, e.kind, e.code, #e.result.failed, core.now() - t0 < 2.5, core.caught_signal())
      c:close()
    ]], { P = fc.project_id, AK = fc.ak, SK = fc.sk, URL = fc.url, ID = ids.server_id("ecs", 1) }, 20)
    assert.equal("false\tinterrupted\tcloud.interrupted\t1\ttrue\tSIGTERM\t15\n", out)
    assert.equal(1, (calls()))
  end)

  it("under Lua 5.1 (build/5.1) too", function()
    local rc, _, err, lines = interrupt_stop("TERM", { interpreter = "lua5.1" })
    check_interrupted(rc, 143, err, "SIGTERM", lines, false)
    assert.equal(1000, fc:stats().stop_requests.servers)
  end)
end)

describe("cloud-stop over two regions on SIGTERM", function()
  local a, b, env
  local files = {}
  local FLEET_A = { ecs = { { count = 3, name = "web-a-%d", tags = { "env=dev" } } } }
  local FLEET_B = { ecs = { { count = 2, name = "web-b-%d", tags = { "env=dev" } } } }
  local PROJECT_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

  setup(function()
    -- Jobs that outlast the case: the signal comes while they are polled.
    a = assert(launcher.start{ config = { job_duration = 60, fleet = FLEET_A } })
    b = assert(launcher.start{ config = { job_duration = 60, fleet = FLEET_B, project_id = PROJECT_B } })
    env = { HUAWEICLOUD_SDK_AK = a.ak, HUAWEICLOUD_SDK_SK = a.sk,
            HUAWEICLOUD_SDK_REGION_ECS_REGION_A = a.url, HUAWEICLOUD_SDK_REGION_ECS_REGION_B = b.url }
  end)
  teardown(function()
    for _, p in ipairs(files) do os.remove(p) end
    if a then a:stop() end
    if b then b:stop() end
  end)
  before_each(function()
    assert(a:reset())
    assert(b:reset())
  end)

  local function jobs(fc) return fc:stats().calls.job or 0 end

  -- Runs the fleet's stop, sends SIGTERM once `ready()`; returns the exit status, the
  -- --json document, stderr and the record's lines.
  local function interrupt_fleet(ready, how)
    local rec = os.tmpname()
    os.remove(rec)
    files[#files + 1] = rec
    local h = start({ "ecs", "--region", "region-a,region-b", "--project-id", a.project_id .. "," .. PROJECT_B,
      "--tag", "env=dev", "--yes", "--json", "--record", rec, "--poll-interval", "0.05" }, env, how)
    assert.is_true(until_true(ready, 15))
    h.signal("TERM")
    local rc = h.wait(10)
    local out, err = h.done()
    return rc, cjson.decode(out), err, record_lines(rec)
  end

  local function ends(lines)
    local out = {}
    for _, l in ipairs(lines) do if l.type == "end" then out[#out + 1] = l end end
    return out
  end

  it("reaches every region at once: each target's accepted job in the partial result", function()
    local rc, doc, err, lines = interrupt_fleet(function() return jobs(a) >= 1 and jobs(b) >= 1 end)
    assert.equal(143, rc, err)
    assert.truthy(err:find("interrupted by SIGTERM", 1, true), err)
    assert.equal(1, #doc.targets[1].result.jobs)
    assert.equal(1, #doc.targets[2].result.jobs)
    local e = ends(lines)
    assert.equal(2, #e)
    for _, l in ipairs(e) do assert.is_true(l.interrupted) end
  end)

  -- Plain Lua 5.1 cannot yield across pcall: the targets run one after another.
  it("under Lua 5.1, one region after another: the next region is not begun", function()
    local rc, doc, err, lines = interrupt_fleet(function() return jobs(a) >= 2 end, { interpreter = "lua5.1" })
    assert.equal(143, rc, err)
    assert.truthy(err:find("interrupted by SIGTERM", 1, true), err)
    assert.equal(1, #doc.targets[1].result.jobs)
    assert.equal("cloud.interrupted", doc.targets[2].err.code)
    assert.equal(0, b:stats().calls.total or 0)
    local e = ends(lines)
    assert.equal(1, #e)
    assert.is_true(e[1].interrupted)
  end)
end)

describe("core.trap_signals and core.caught_signal", function()
  -- os.execute's shell is the child's child: its $PPID is the child.
  local KILL_SELF = 'os.execute("kill -%s $PPID") '

  it("note the first signal once trapped; a second of the same kind kills", function()
    local out = subprocess.run('local core = require "cloud.core" '
      .. 'print("before", core.caught_signal()) '
      .. 'print("trap", core.trap_signals(), core.trap_signals()) '
      .. KILL_SELF:format("TERM") .. 'print("term", core.caught_signal()) '
      .. KILL_SELF:format("HUP") .. 'print("hup", core.caught_signal()) '
      .. 'print("again", core.trap_signals()) '
      .. KILL_SELF:format("TERM") .. 'print("alive after a second SIGTERM")', nil, 20)
    -- (The shell popen runs it in says "Terminated" after.)
    assert.equal("before\tnil\ntrap\ttrue\ttrue\nterm\tSIGTERM\t15\nhup\tSIGTERM\t15\nagain\ttrue\n",
      (out:gsub("Terminated\n$", "")))
  end)

  it("trap nothing until asked: a library's process dies of SIGTERM as before", function()
    local out = subprocess.run('local core = require "cloud.core" print("loaded", core.caught_signal()) '
      .. KILL_SELF:format("TERM") .. 'print("alive")', nil, 20)
    assert.equal("loaded\tnil\n", (out:gsub("Terminated\n$", "")))
  end)

  it("leave SIGHUP ignored where it was (nohup)", function()
    local script = os.tmpname()
    cli.write(script, 'local core = require "cloud.core" core.trap_signals() '
      .. KILL_SELF:format("HUP") .. 'print("alive", core.caught_signal())')
    -- The child runs the script with SIGHUP ignored, as nohup runs a command.
    local out = subprocess.run(("os.execute(%q)"):format("trap '' HUP; exec " .. subprocess.interpreter .. " "
      .. script), nil, 20)
    os.remove(script)
    assert.equal("alive\tnil\n", out)
  end)
end)
