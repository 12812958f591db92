-- Fan-out benchmark (not a test): cloud.fleet over T emulated targets (one fakecloud each,
-- standing in for a region) of N servers each, against each target run alone; and the
-- same N*T servers split over 1, 2 ... T targets, to see the client's CPU follow the
-- servers, not the targets. Every call to a cloud is answered BENCH_LATENCY s after it
-- arrives (the cloud's response time), jobs take BENCH_JOB s. Each run is a process of its
-- own under /usr/bin/time (wall, CPU = user+sys, peak RSS).
-- usage (from the repository root): sh bench/fleet/run.sh
-- env: BENCH_TARGETS (10), BENCH_N (10000 per target), BENCH_LATENCY (0.1), BENCH_JOB (2),
--      BENCH_POLL (1), BENCH_CONCURRENCY (8 per target), BENCH_TOTAL (64: total_concurrency),
--      BENCH_SPLITS ("1 2 5 10": target counts for the same N*T servers), BENCH_REPEAT (3),
--      BENCH_LUA (lua5.4), BENCH_OUT (bench/out)
package.path = "bench/stop/?.lua;" .. package.path
local launcher = require "fakecloud.launcher"
local common = require "common"

local num, log = common.num, common.log
local T = num("BENCH_TARGETS", 10)
local N = num("BENCH_N", 10000)
local LATENCY = num("BENCH_LATENCY", 0.1)
local JOB = num("BENCH_JOB", 2)
local POLL = num("BENCH_POLL", 1)
local CONC = num("BENCH_CONCURRENCY", 8)
local TOTAL = num("BENCH_TOTAL", 64)
local REPEAT = num("BENCH_REPEAT", 3)
local SPLITS = common.list("BENCH_SPLITS", "1 2 5 10", true)
local LUA = os.getenv("BENCH_LUA") or "lua5.4"
local OUT = os.getenv("BENCH_OUT") or "bench/out"
local CPATH = LUA == "luajit" and "build/bench-luajit/?.so;;" or "build/bench-5.4/?.so;;"

-- T emulators; the i-th holds N*T/i servers (at least N), for the runs that put the same
-- N*T servers on fewer targets.
local emus = {}
for i = 1, T do
  local count = math.max(N, math.ceil(N * T / i))
  emus[i] = assert(launcher.start{ config = { job_duration = JOB, fleet = { ecs = { { count = count } } },
    faults = { latency = LATENCY } } })
end

local function reset_all()
  for _, fc in ipairs(emus) do assert(fc:reset()) end
end

-- One client process: `mode` "client" or "fleet", over the emulators `list`, n servers each.
local function run(mode, list, n)
  reset_all()
  local urls = {}
  for i, fc in ipairs(list) do urls[i] = fc.url end
  local timef, outf = OUT .. "/fleet.time", OUT .. "/fleet.client"
  local cmd = ("env LUA_PATH='lua/?.lua;lua/?/init.lua;tools/?.lua;;' LUA_CPATH='%s' BENCH_MODE=%s BENCH_URLS='%s' "
    .. "BENCH_PROJECT='%s' BENCH_AK='%s' BENCH_SK='%s' BENCH_N=%d BENCH_POLL=%s BENCH_CONCURRENCY=%d BENCH_TOTAL=%d "
    .. "/usr/bin/time -f '%%e %%U %%S %%M' -o %s %s bench/fleet/fleet_client.lua >%s")
    :format(CPATH, mode, table.concat(urls, " "), list[1].project_id, list[1].ak, list[1].sk, n, POLL, CONC, TOTAL,
      timef, LUA, outf)
  assert(os.execute(cmd), "client failed: " .. cmd)
  local r = common.kv(common.read(outf))
  local e, u, s, m = common.read(timef):match("([%d.]+) ([%d.]+) ([%d.]+) (%d+)")
  r.wall, r.cpu_all, r.rss = tonumber(e), tonumber(u) + tonumber(s), tonumber(m) / 1024
  assert(r.ok == "true" and r.stopped == n * #list, "not every server stopped: " .. common.read(outf))
  return r
end

local function median_of(runs, key)
  local xs = {}
  for i, r in ipairs(runs) do xs[i] = r[key] end
  return common.median(xs)
end

local rows = {}
local function row(name, runs, targets, servers)
  local work, cpu = median_of(runs, "work"), median_of(runs, "cpu")
  rows[#rows + 1] = ("%-18s %7d %8d %7.2f %7.2f %7.2f %7.3f %7.1f %9.2f %9.0f"):format(name, targets, servers,
    median_of(runs, "wall"), work, median_of(runs, "cpu_all"), cpu, median_of(runs, "rss"), cpu / servers * 1e6,
    servers / work)
end

-- Each target alone, every round: the slowest of a round is what the fleet is held to.
local slowest, singles = {}, {}
for r = 1, REPEAT do
  local worst
  for i = 1, T do
    local x = run("client", { emus[i] }, N)
    singles[#singles + 1] = x
    if not worst or x.wall > worst.wall then worst = x end
    log("round %d: target %d alone: wall %.2fs cpu %.2fs", r, i, x.wall, x.cpu_all)
  end
  slowest[r] = worst
end
local fleet = {}
for r = 1, REPEAT do
  fleet[r] = run("fleet", emus, N)
  log("round %d: fleet of %d: wall %.2fs cpu %.2fs", r, T, fleet[r].wall, fleet[r].cpu_all)
end
row("one target alone", singles, 1, N)
row("slowest alone", slowest, 1, N)
row(("fleet of %d"):format(T), fleet, T, N * T)
-- The same servers over fewer targets (the first emulator holds them all for k = 1).
local split_rows = {}
for _, k in ipairs(SPLITS) do
  if k ~= T and (N * T) % k == 0 then
    local list = {}
    for i = 1, k do list[i] = emus[i] end
    local runs = {}
    for r = 1, REPEAT do
      runs[r] = run("fleet", list, N * T / k)
      log("round %d: fleet of %d x %d: wall %.2fs cpu %.2fs", r, k, N * T / k, runs[r].wall, runs[r].cpu_all)
    end
    split_rows[#split_rows + 1] = { k = k, runs = runs }
  end
end
for _, s in ipairs(split_rows) do row(("fleet of %d"):format(s.k), s.runs, s.k, N * T) end

for _, fc in ipairs(emus) do fc:stop() end

print(("fleet: %d targets x %d servers; every call answered %.2fs after arrival, jobs %gs, poll %gs; "
  .. "%d in flight per target, %d across the fleet; %s; median of %d runs"):format(T, N, LATENCY, JOB, POLL, CONC,
  TOTAL, LUA, REPEAT))
print(("%-18s %7s %8s %7s %7s %7s %7s %7s %9s %9s"):format("run", "targets", "servers", "wall s", "work s", "CPU s",
  "run CPU", "RSS MB", "us/server", "servers/s"))
for _, l in ipairs(rows) do print(l) end
local ratio = median_of(fleet, "work") / median_of(slowest, "work")
-- The goal is for a cloud that takes its time; with none, the T emulators' work on these
-- same cores is what the fleet waits for.
print(("wall of the fleet / the slowest target alone (work): %.2f%s"):format(ratio,
  LATENCY > 0 and "  (goal <= 1.2)" or "  (no goal: without latency the emulators share the client's cores)"))
print("(wall, CPU = user+sys of the whole client process, startup included; work = wall of the")
print(" operation alone; run CPU = the client's own os.clock() over the run, module loading and")
print(" ids included; us/server = run CPU per server; servers/s = servers over work; one target")
print(" alone = every target's solo runs; slowest alone = the slowest target of each round; the")
print(" rows below the fleet put the same servers on fewer targets)")
