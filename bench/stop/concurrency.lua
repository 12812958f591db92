-- Submission throughput against concurrency: 100 calls of 1000 ids (100,000 servers),
-- wait = false, each call held 0.1 s by the emulator (faults.latency), job_duration 0.
-- Wall time at concurrency 1, 8, 16 against the ideal calls / concurrency * latency;
-- then the same with 30% of the answers 429 (Retry-After 0): calls sent against the
-- 100 needed, and every server stopped exactly once. Stop calls start one at a time and
-- double each round while accepted (the slow start of cloud.net.pace, issue 15); the rows
-- "arrival, pace given" pass servers_per_minute (far above these calls), which skips it.
-- usage (from the repository root):
--   LUA_PATH="lua/?.lua;lua/?/init.lua;tools/?.lua;;" LUA_CPATH="build/bench-5.4/?.so;;" \
--     lua5.4 bench/stop/concurrency.lua
-- env: BENCH_N (100000), BENCH_LATENCY (0.1), BENCH_LEVELS ("1 8 16"), BENCH_OUT (bench/out),
--      BENCH_LATENCY_MODES ("arrival after_work": the emulator's faults.latency_mode),
--      BENCH_REPEAT (3: runs at each level, the median reported with the range)
-- Writes BENCH_OUT/concurrency.csv.
package.path = "bench/stop/?.lua;" .. package.path
local cloud = require "cloud"
local core = require "cloud.core"
local ids = require "fakecloud.ids"
local launcher = require "fakecloud.launcher"
local proc = require "fakecloud.proc"
local common = require "common"

local num, log = common.num, common.log
local N = num("BENCH_N", 100000)
local LATENCY = num("BENCH_LATENCY", 0.1)
local OUT = os.getenv("BENCH_OUT") or "bench/out"
local LEVELS = common.list("BENCH_LEVELS", "1 8 16", true)
local REPEAT = num("BENCH_REPEAT", 3)
local MODES = common.list("BENCH_LATENCY_MODES", "arrival after_work")
local CALLS = math.ceil(N / 1000)
local RATE_429 = 0.3

-- CPU seconds (user+sys) the emulator's nginx workers have used: who is the bottleneck.
-- proc.sh runs pgrep and getconf without a sanitizer preload (under it pgrep hangs).
local TICK = tonumber(proc.sh("getconf CLK_TCK"):match("%d+") or "") or 100
local function emulator_cpu(fc)
  local total = 0
  for pid in proc.sh("pgrep -P " .. fc.pid):gmatch("%d+") do
    local rest = (proc.read("/proc/" .. pid .. "/stat") or ""):match("%) (.*)$")
    if rest then
      local fields = {}
      for x in rest:gmatch("%S+") do fields[#fields + 1] = x end
      total = total + (tonumber(fields[12]) + tonumber(fields[13])) / TICK -- utime, stime
    end
  end
  return total
end

local function client(fc, concurrency, retry)
  return assert(cloud.new{ project_id = fc.project_id, ak = fc.ak, sk = fc.sk, endpoints = { ecs = fc.url },
                           concurrency = concurrency, retry = retry })
end

-- One submission-only stop of every id in list; returns wall seconds, the result, the stats.
-- extra: more stop options.
local function run(fc, list, concurrency, faults, retry, extra)
  assert(fc:configure{ faults = faults })
  assert(fc:reset())
  local c = client(fc, concurrency, retry)
  -- The emulator's CPU first: reading it starts a process (pgrep), not to be timed.
  local emu0 = emulator_cpu(fc)
  -- The garbage of earlier runs (their clients, results) collected now, not in the stop.
  collectgarbage("collect")
  local t0, cpu0 = core.now(), os.clock()
  -- force (where the client knows it): no protection-tag lookup, submission only.
  local opts = { ids = list, wait = false, force = true }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local ok, res = pcall(c.stop_ecs, c, opts)
  if not ok and tostring(res):find("force", 1, true) then
    res = c:stop_ecs{ ids = list, wait = false }
  elseif not ok then
    error(res, 0)
  end
  local wall = core.now() - t0
  local cpu, emu = os.clock() - cpu0, emulator_cpu(fc) - emu0
  c:close()
  local st = assert(fc:stats())
  st.client_cpu, st.emulator_cpu = cpu, emu
  return wall, assert(res), st
end

local function stopped_once(res, st)
  return res.ok and #res.stopped == N and st.stop_requests.servers == N
    and st.stop_requests.sent_more_than_once == 0 and (st.servers.ecs.SHUTOFF or 0) == N
end

-- Milliseconds the client spends checking the ids before its first call goes out
-- (core.checked_idset(ids), what client:stop_ecs does first), median of 5.
local function id_check_ms(list)
  local times = {}
  for k = 1, 5 do
    collectgarbage("collect")
    local t0 = core.now()
    local set = assert(core.checked_idset(list))
    times[k] = (core.now() - t0) * 1000
    set:close()
  end
  return common.median(times)
end

local function main(fc)
  -- The ids once, shared by every run (a list per run was garbage for the next one's stop).
  local list = {}
  for i = 1, N do list[i] = ids.server_id("ecs", i) end
  local check_ms = id_check_ms(list)
  local rows = {}
  -- The latency modes, then the first again with the pace given (no slow start).
  local plans = {}
  for _, mode in ipairs(MODES) do plans[#plans + 1] = { mode = mode, label = mode } end
  plans[#plans + 1] = { mode = MODES[1], label = MODES[1] .. "_given", extra = { servers_per_minute = 1e9 } }
  for _, plan in ipairs(plans) do
    local mode = plan.mode
    for _, conc in ipairs(LEVELS) do
      -- Several runs, the median one reported (by wall time): the machine is shared.
      local runs = {}
      for k = 1, REPEAT do
        log("concurrency: %d in flight, latency %s, run %d/%d ...", conc, plan.label, k, REPEAT)
        local wall, res, st = run(fc, list, conc, { latency = LATENCY, latency_mode = mode }, nil, plan.extra)
        runs[k] = { mode = plan.label, conc = conc, wall = wall, ideal = CALLS / conc * LATENCY,
                    calls = st.calls.action, lists = st.calls.list, once = stopped_once(res, st), cpu = st.client_cpu,
                    emu = st.emulator_cpu }
      end
      local median = common.median(runs, function(a, b) return a.wall < b.wall end)
      median.all_once = true
      for _, r in ipairs(runs) do median.all_once = median.all_once and r.once end
      median.min, median.max = runs[1].wall, runs[#runs].wall
      rows[#rows + 1] = median
    end
  end
  -- 429s: retry soon (base 0.05, cap 1), as many attempts as the client's default.
  local faulty = {}
  for _, conc in ipairs({ LEVELS[#LEVELS] }) do
    log("concurrency: %d in flight, %d%% 429 ...", conc, RATE_429 * 100)
    local faults = { latency = LATENCY, latency_mode = MODES[1], status = { [429] = RATE_429 },
      retry_after = 0, seed = 1 }
    local wall, res, st = run(fc, list, conc, faults, { attempts = 6, base = 0.05, cap = 1 })
    faulty[#faulty + 1] = { conc = conc, wall = wall, calls = st.calls.action, n429 = (st.faults or {})["429"] or 0,
                            lists = st.calls.list, once = stopped_once(res, st), failed = #res.failed,
                            more = st.stop_requests.sent_more_than_once }
  end
  return rows, faulty, check_ms
end

local function report(rows, faulty, check_ms)
  print(("submit %d ECS servers (%d calls of 1000 ids), wait = false, %gs latency per call"):format(N, CALLS, LATENCY))
  print(("%-14s %-12s %8s %12s %8s %8s %8s %6s %12s %11s %13s"):format("latency", "concurrency", "wall s", "range",
    "ideal s", "x ideal", "calls", "lists", "stopped once", "client CPU", "emulator CPU"))
  for _, r in ipairs(rows) do
    print(("%-14s %-12d %8.3f %12s %8.3f %8.2f %8d %6d %12s %11.2f %13.2f"):format(r.mode, r.conc, r.wall,
      ("%.2f-%.2f"):format(r.min / r.ideal, r.max / r.ideal), r.ideal, r.wall / r.ideal,
      r.calls, r.lists, tostring(r.all_once), r.cpu, r.emu))
  end
  print(("(median of %d runs; range = fastest-slowest run, x ideal; ideal = calls / concurrency"):format(REPEAT))
  print(" * latency; in whole waves of calls the floor is")
  print(" ceil(calls / concurrency) * latency, 0.7 s at 16; CPU in s; goal: x ideal <= 1.2 at 16;")
  print(" latency arrival = each answer leaves 0.1 s after its request arrived, the emulator's")
  print(" work inside that time, as a cloud's processing is; after_work = 0.1 s added after")
  print(" the emulator's work, so its single worker's CPU time adds to every call; _given = the")
  print(" pace given, servers_per_minute = 1e9: stop calls skip the slow start, one call, then two,")
  print(" four... while accepted)")
  print(("checking the %d ids before the first call (core.checked_idset(ids)): %.1f ms, median of 5")
    :format(N, check_ms))
  print()
  print(("%d%% of answers 429 (Retry-After 0), retry base 0.05 s, cap 1 s, 6 attempts"):format(RATE_429 * 100))
  print(("%-12s %8s %8s %8s %8s %10s %8s %12s %10s"):format("concurrency", "wall s", "calls", "minimum", "429s",
    "expected", "failed", "stopped once", "resent ids"))
  for _, r in ipairs(faulty) do
    print(("%-12d %8.3f %8d %8d %8d %10.1f %8d %12s %10d"):format(r.conc, r.wall, r.calls, CALLS, r.n429,
      CALLS / (1 - RATE_429), r.failed, tostring(r.once), r.more))
  end
  print("(calls = action calls the emulator received; expected = minimum / (1 - 0.3);")
  print(" resent ids = servers named in more than one accepted stop, must be 0)")

  os.execute("mkdir -p " .. OUT)
  local f = assert(io.open(OUT .. "/concurrency.csv", "w"))
  -- calls, latency_s: the run's settings, for the chart's title (bench/concurrency.gp).
  f:write("concurrency,wall_s,ideal_s,action_calls,rate_429,latency_mode,calls,latency_s\n")
  for _, r in ipairs(rows) do
    f:write(("%d,%.3f,%.3f,%d,0,%s,%d,%g\n"):format(r.conc, r.wall, r.ideal, r.calls, r.mode, CALLS, LATENCY))
  end
  for _, r in ipairs(faulty) do
    f:write(("%d,%.3f,%.3f,%d,%g,%s,%d,%g\n"):format(r.conc, r.wall, CALLS / r.conc * LATENCY, r.calls, RATE_429,
      MODES[1], CALLS, LATENCY))
  end
  f:close()
end

local fc = assert(launcher.start{ config = {
  fleet = { ecs = { { count = N, name = "web-%d", status = "ACTIVE" } }, bms = {} }, job_duration = 0,
} })
local ok, rows, faulty, check_ms = xpcall(main, debug.traceback, fc)
fc:stop()
if not ok then
  io.stderr:write("concurrency: ", tostring(rows), "\n")
  os.exit(1)
end
report(rows, faulty, check_ms)
