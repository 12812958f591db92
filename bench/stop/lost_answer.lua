-- Issue 24's figures (not a test): how soon a stop whose answers were lost is confirmed.
-- The emulator takes each stop call LATE seconds after it arrived (a `hang` fault), past the
-- client's request timeout, so every answer is lost and the cloud still stops the servers:
-- they are SHUTOFF LATE + D seconds after the calls left, D being the job's length. The
-- calls leave together (servers_per_minute given: no slow start, which would send each after
-- the one before timed out). The client looks the servers up at its poll plan's pace; the
-- figure is when the stop returns, against LATE + D and against D + timeout, for jobs of 3 s
-- and 10 s.
-- Every client runs in a process of its own (bench/stop/reference_client.lua), against one
-- emulator, reset between runs.
-- usage (from the repository root; see run_lost_answer.sh for the paths):
--   lua5.4 bench/stop/lost_answer.lua
-- env: BENCH_N (3000 servers), BENCH_LATE (5 s), BENCH_TIMEOUT (2 s), BENCH_JOBS ("3 10": job
--      lengths, s), BENCH_SPM (servers_per_minute, 180000: all calls at once; 0: learned),
--      BENCH_REPEAT (3), BENCH_CLIENTS ("lua5.4 luajit"), BENCH_OUT (bench/out),
--      BENCH_BASELINE_DIR (another client's Lua sources, e.g. the main branch's lua/: "before",
--      one run each, which waits out resend_grace)
package.path = "bench/stop/?.lua;" .. package.path
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local socket = require "socket"
local common = require "common"

local num, log = common.num, common.log
local N = num("BENCH_N", 3000)
local LATE = num("BENCH_LATE", 5)
local TIMEOUT = num("BENCH_TIMEOUT", 2)
local JOBS = common.list("BENCH_JOBS", "3 10", true)
local REPEAT = num("BENCH_REPEAT", 3)
local SPM = num("BENCH_SPM", 180000)
local OUT = os.getenv("BENCH_OUT") or "bench/out"
local CLIENTS = common.list("BENCH_CLIENTS", "lua5.4 luajit")
local BASELINE = os.getenv("BENCH_BASELINE_DIR")
local POLL = 5 -- the library's default poll_interval: the lookups' pace follows it
local GAP = 0.5 -- cloud.op.poll_plan's FIRST: the closest two looks of the lead come

local BUILD = { ["lua5.4"] = "build/bench-5.4", luajit = "build/bench-luajit" }

local function run_client(fc, run, ids_file)
  local outf, errf = OUT .. "/lost_answer.client", OUT .. "/lost_answer.err"
  local cmd = ("env LUA_PATH='%s/?.lua;%s/?/init.lua;;' LUA_CPATH='%s/?.so;;' BENCH_URL='%s' BENCH_PROJECT='%s' "
    .. "BENCH_AK='%s' BENCH_SK='%s' BENCH_FORCE=1 BENCH_TIMEOUT=%g %s %s bench/stop/reference_client.lua %s >%s 2>%s")
    :format(run.dir, run.dir, BUILD[run.lua], fc.url, fc.project_id, fc.ak, fc.sk, TIMEOUT,
            SPM > 0 and ("BENCH_SPM=%d"):format(SPM) or "", run.lua, ids_file, outf, errf)
  local t0 = socket.gettime()
  local ok = os.execute(cmd)
  local t_end = socket.gettime()
  if ok ~= true and ok ~= 0 then error(run.name .. " failed: " .. common.read(errf)) end
  local r = common.kv(common.read(outf))
  -- When the last call's servers went SHUTOFF (each call's job ends on all of its servers at
  -- once: one server a call tells), from the driver's clock, as the child's return is.
  local ended = 0
  for i = 1, N, 1000 do
    local s = assert(fc:server(ids.server_id("ecs", i)))
    ended = math.max(ended, (assert(s.action_ended_at, "a server the stop never reached")))
  end
  r.off, r.after_off = ended - t0, t_end - ended
  local st = assert(fc:stats())
  r.action, r.lists = st.calls.action, st.calls.list
  r.twice, r.shutoff = st.stop_requests.sent_more_than_once, st.servers.ecs.SHUTOFF or 0
  return r
end

os.execute("mkdir -p " .. OUT)
local fc = assert(launcher.start{ config = {
  fleet = { ecs = { { count = N, name = "web-%d", status = "ACTIVE" } }, bms = {} },
} })
local runs = {}
for _, c in ipairs(CLIENTS) do runs[#runs + 1] = { name = c, lua = c, dir = "lua" } end
if BASELINE then runs[#runs + 1] = { name = "before", lua = "lua5.4", dir = BASELINE } end

local ok, err = xpcall(function()
  local file = common.write_ids(OUT, "lost_answer_ids", N)
  local rows = {}
  for _, d in ipairs(JOBS) do
    local by = {}
    for round = 1, REPEAT do
      for _, run in ipairs(runs) do
        if run.name ~= "before" or round == 1 then
          assert(fc:configure{ job_duration = d, faults = { seed = 1, hang = LATE, hang_rate = 1,
            apply_to = { action = true, job = false, list = false } } })
          assert(fc:reset())
          log("lost answers: %s, jobs of %g s, run %d/%d ...", run.name, d, round, REPEAT)
          local r = run_client(fc, run, file)
          log("  returned after %.2f s, %d stop calls, %d list calls, %d stopped", r.wall, r.action, r.lists, r.stopped)
          by[run.name] = by[run.name] or {}
          table.insert(by[run.name], r)
        end
      end
    end
    for _, run in ipairs(runs) do
      -- The run of the median wait after the last servers went off.
      local rs, waits = by[run.name], {}
      for i, r in ipairs(rs) do waits[i] = r.after_off end
      local wait = common.median(waits)
      local r
      for _, x in ipairs(rs) do if x.after_off == wait then r = x end end
      rows[#rows + 1] = { name = run.name, d = d, r = r, lo = waits[1], hi = waits[#waits] }
    end
  end
  print(("lost answers: %d ECS servers, the cloud taking each stop call %g s after it arrived, client timeout"
    .. " %g s, %s, poll_interval %g s and resend_grace (60 s) the defaults; median of %d runs"):format(N, LATE,
    TIMEOUT, SPM > 0 and ("servers_per_minute %d"):format(SPM) or "pace learned", POLL, REPEAT))
  print(("%-8s %5s %5s %8s %6s %6s %6s %7s %9s %13s %8s %8s %8s"):format("client", "job s", "ok", "stopped", "twice",
    "calls", "lists", "off at", "returned", "after off", "interval", "/(L+D)", "/(D+T)"))
  for _, row in ipairs(rows) do
    local r, d = row.r, row.d
    -- One lookup interval of a call whose servers go off at r.off: a tenth of the time since
    -- its answer was lost (the last call's: sent at most LATE + D before its servers went
    -- off, its answer lost TIMEOUT after), GAP at least, poll_interval at most.
    local interval = math.min(POLL, math.max(GAP, 0.1 * (LATE + d - TIMEOUT)))
    print(("%-8s %5g %5s %8d %6d %6d %6d %7.2f %9.2f %5.2f-%6.2f %8.2f %8.2f %8.2f"):format(row.name, d, r.ok,
      r.stopped, r.twice, r.action, r.lists, r.off, r.wall, row.lo, row.hi, interval, r.wall / (LATE + d),
      r.wall / (d + TIMEOUT)))
  end
  print("(off at: when the last call's servers went SHUTOFF, s from the client's start; returned: s to the")
  print(" stop's return; after off: s from then to the client's exit, fastest-slowest run (the other columns")
  print(" are the median run's); interval: one lookup interval of the last call, a tenth of the time since its")
  print(" answer was lost, 0.5 s to poll_interval; /(L+D) = returned / (late + job), the soonest it can be;")
  print(" /(D+T) = returned / (job + timeout); calls = stop calls, 1000 servers each (none sent again); lists =")
  print(" list calls, 100 servers each; twice = servers named in more than one stop; before =")
  print(" BENCH_BASELINE_DIR's client, one run. goal: after off <= interval)")
end, debug.traceback)
fc:stop()
if not ok then
  io.stderr:write("lost_answer: ", tostring(err), "\n")
  os.exit(1)
end
