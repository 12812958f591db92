-- Issue 15's figures against the emulator's models of the ECS reference (not a test):
--   flow control: 18,000 servers through a budget of 2000 servers per 1 s window (the
--     reference's "1000 servers within one minute", scaled): wall time against the window-bound
--     ideal, the share of stop calls answered with flow control, list calls per 1000 servers;
--   confirmation latency: jobs that take D = 6 s, the default poll_interval (5 s): when the
--     stop returns after the submission, and how many job polls it made against a fixed 5 s
--     poller (which polls each job 5 s and 10 s after its submission).
-- Every client runs in a process of its own (bench/stop/reference_client.lua), against one
-- emulator, reset between runs; clients alternate, so a slow spell of the machine hits all.
-- usage (from the repository root; see run_reference.sh for the paths):
--   lua5.4 bench/stop/reference.lua
-- env: BENCH_REPEAT (3: runs of each, the median reported), BENCH_CLIENTS ("lua5.4 luajit"),
--      BENCH_BASELINE_DIR (the Lua sources of another client to run the same way, e.g. the
--      main branch's lua/: "before"), BENCH_OUT (bench/out), BENCH_JOBS ("1 5 20")
package.path = "bench/stop/?.lua;" .. package.path
local launcher = require "fakecloud.launcher"
local common = require "common"

local num, log = common.num, common.log
local REPEAT = num("BENCH_REPEAT", 3)
local OUT = os.getenv("BENCH_OUT") or "bench/out"
local CLIENTS = common.list("BENCH_CLIENTS", "lua5.4 luajit")
local BASELINE = os.getenv("BENCH_BASELINE_DIR")
local JOBS = common.list("BENCH_JOBS", "1 5 20", true)

local FLOW_N, BUDGET, WINDOW, FLOW_JOB = 18000, 2000, 1, 1
local D, POLL = 6, 5 -- the job's duration; the library's default poll_interval
local FLEET = 20000

local BUILD = { ["lua5.4"] = "build/bench-5.4", luajit = "build/bench-luajit" }

-- Runs: { name, interpreter, lua dir, extra env }.
local function runs_of(with_spm)
  local out = {}
  for _, c in ipairs(CLIENTS) do out[#out + 1] = { name = c, lua = c, dir = "lua" } end
  if with_spm then
    -- The pace given: 95% of the budget, as one would give a quota known to the minute.
    out[#out + 1] = { name = "lua5.4 spm", lua = "lua5.4", dir = "lua",
                      env = ("BENCH_SPM=%d"):format(math.floor(0.95 * BUDGET / WINDOW * 60)) }
  end
  if BASELINE then out[#out + 1] = { name = "before", lua = "lua5.4", dir = BASELINE } end
  return out
end

local function run_client(fc, run, ids_file, extra)
  local outf, errf = OUT .. "/reference.client", OUT .. "/reference.err"
  local cmd = ("env LUA_PATH='%s/?.lua;%s/?/init.lua;;' LUA_CPATH='%s/?.so;;' BENCH_URL='%s' BENCH_PROJECT='%s' "
    .. "BENCH_AK='%s' BENCH_SK='%s' %s %s %s bench/stop/reference_client.lua %s >%s 2>%s")
    :format(run.dir, run.dir, BUILD[run.lua], fc.url, fc.project_id, fc.ak, fc.sk, run.env or "", extra or "",
            run.lua, ids_file, outf, errf)
  local ok = os.execute(cmd)
  if ok ~= true and ok ~= 0 then error(run.name .. " failed: " .. common.read(errf)) end
  local r = common.kv(common.read(outf))
  local st = assert(fc:stats())
  r.action, r.refused = st.calls.action, st.refused["Common.0024"] or 0
  r.lists, r.polls = st.calls.list, st.calls.job
  r.twice, r.shutoff = st.stop_requests.sent_more_than_once, st.servers.ecs.SHUTOFF or 0
  return r
end

local function median_of(rs)
  local out = {}
  for k, v in pairs(rs[1]) do
    if type(v) == "number" then
      local xs = {}
      for i, r in ipairs(rs) do xs[i] = r[k] end
      out[k] = common.median(xs)
    else
      out[k] = v
    end
  end
  local lo, hi = math.huge, -math.huge
  for _, r in ipairs(rs) do lo, hi = math.min(lo, r.wall), math.max(hi, r.wall) end
  out.lo, out.hi = lo, hi
  return out
end

-- Flow control: every run from a fresh window.
local function flow(fc)
  local file = common.write_ids(OUT, "reference_ids", FLOW_N)
  local runs, by = runs_of(true), {}
  for round = 1, REPEAT do
    for _, run in ipairs(runs) do
     if run.name ~= "before" or round == 1 then -- the baseline once: it runs to its wait_timeout
      assert(fc:configure{ flow_control = { budget = BUDGET, window = WINDOW }, job_duration = FLOW_JOB })
      assert(fc:reset())
      log("reference flow: %s, run %d/%d ...", run.name, round, REPEAT)
      local r = run_client(fc, run, file, "BENCH_WAIT_TIMEOUT=120")
      log("  wall %.2f s, %d stop calls, %d flow control, %d lists, stopped %d", r.wall, r.action, r.refused,
        r.lists, r.stopped)
      by[run.name] = by[run.name] or {}
      table.insert(by[run.name], r)
     end
    end
  end
  -- The last batch can be accepted (N / budget - 1) windows after the first; its job then
  -- takes FLOW_JOB seconds.
  local ideal = (FLOW_N / BUDGET - 1) * WINDOW + FLOW_JOB
  print(("flow control: %d ECS servers by id, budget %d servers per %g s window (202 Common.0024 past it),"
    .. " jobs of %g s; median of %d runs"):format(FLOW_N, BUDGET, WINDOW, FLOW_JOB, REPEAT))
  print(("%-12s %5s %8s %8s %6s %11s %6s %9s %8s %10s %7s %6s %8s"):format("client", "ok", "stopped", "failed",
    "twice", "wall s", "ideal", "x ideal", "calls", "flow ctl", "share", "lists", "/1000"))
  for _, run in ipairs(runs) do
    local r = median_of(by[run.name])
    print(("%-12s %5s %8d %8d %6d %5.2f %5.2f %6.2f %9.2f %8d %10d %6.0f%% %6d %8.2f"):format(run.name, r.ok, r.stopped,
      r.failed, r.twice, r.lo, r.hi, ideal, r.wall / ideal, r.action, r.refused, 100 * r.refused / r.action,
      r.lists, r.lists / (FLOW_N / 1000)))
  end
  print(("(wall s: fastest-slowest run; ideal = (servers / budget - 1) * window + job = %.0f s;"):format(ideal)
    .. " share = stop calls")
  print(" answered with flow control of all stop calls; lists = list calls, /1000 = per 1000 servers;")
  print(" twice = servers named in more than one accepted stop; spm = servers_per_minute given, 95% of the")
  print(" budget; before = BENCH_BASELINE_DIR's client, one run, wait_timeout 120 s. goals: x ideal <= 1.3,")
  print(" share <= 25%, /1000 <= 1)")
end

-- Confirmation latency: J jobs of D seconds, submitted together.
local function latency(fc)
  local runs, rows = runs_of(false), {}
  for _, j in ipairs(JOBS) do
    local file = common.write_ids(OUT, "reference_ids", j * 1000)
    local by = {}
    for round = 1, REPEAT do
      for _, run in ipairs(runs) do
        assert(fc:configure{ flow_control = {}, job_duration = D })
        assert(fc:reset())
        log("reference latency: %s, %d job(s), run %d/%d ...", run.name, j, round, REPEAT)
        local r = run_client(fc, run, file, "BENCH_FORCE=1")
        log("  returned %.2f s after the first acceptance, %d polls", r.wall - r.first_accept, r.polls)
        by[run.name] = by[run.name] or {}
        table.insert(by[run.name], r)
      end
    end
    for _, run in ipairs(runs) do
      local r = median_of(by[run.name])
      r.name, r.jobs = run.name, j
      rows[#rows + 1] = r
    end
  end
  local bound = D + math.max(0.5, 0.1 * D)
  -- A fixed poller at POLL: each job polled POLL, 2 POLL, ... after its submission, until
  -- one poll finds it ended.
  local fixed = math.ceil(D / POLL)
  print()
  print(("confirmation latency: jobs of %g s, poll_interval %g s (the default), 1000 servers a job; median of %d runs")
    :format(D, POLL, REPEAT))
  print(("%-12s %5s %5s %10s %10s %7s %7s %12s %8s"):format("client", "jobs", "ok", "after 1st", "after last",
    "bound", "polls", "fixed poller", "polls/fx"))
  for _, r in ipairs(rows) do
    print(("%-12s %5d %5s %10.2f %10.2f %7.2f %7d %12d %8.2f"):format(r.name, r.jobs, r.ok, r.wall - r.first_accept,
      r.wall - r.last_accept, bound, r.polls, fixed * r.jobs, r.polls / (fixed * r.jobs)))
  end
  print(("(after 1st, after last: seconds from the first, the last job's acceptance to the stop's return;"))
  print((" bound = D + max(0.5, 0.1 D); fixed poller = the polls of one polling each job every %g s"):format(POLL))
  print((" from its submission, %d a job; polls = job polls the emulator answered."):format(fixed)
    .. " goals: after 1st <= bound,")
  print(" polls <= fixed poller's)")
end

os.execute("mkdir -p " .. OUT)
local fc = assert(launcher.start{ config = {
  fleet = { ecs = { { count = FLEET, name = "web-%d", status = "ACTIVE" } }, bms = {} },
} })
local ok, err = xpcall(function()
  flow(fc)
  latency(fc)
end, debug.traceback)
fc:stop()
if not ok then
  io.stderr:write("reference: ", tostring(err), "\n")
  os.exit(1)
end
