-- Issue 24's figures (not a test): the learned pace against flow-control windows longer
-- than a second. For each window length, one stop of N ECS servers by id through the
-- emulator's sliding window (flow_control = { budget, window }), jobs of JOB seconds that end
-- on their own, our client at its defaults (the pace learned; no servers_per_minute): wall
-- time against the window-bound ideal and the share of stop calls refused.
-- The window-bound ideal: the last of ceil(N / budget) windows' worth of calls can be accepted
-- (ceil(N / budget) - 1) windows after the first, and its job then takes JOB seconds.
-- usage (from the repository root; see run_windows.sh for the paths):
--   lua5.4 bench/stop/windows.lua
-- env: BENCH_CASES ("budget/window/servers ..." ; default the four rows below), BENCH_OUT
package.path = "bench/stop/?.lua;" .. package.path
local launcher = require "fakecloud.launcher"
local common = require "common"

local OUT = os.getenv("BENCH_OUT") or "bench/out"
local JOB = 1
local CASES = {}
for b, w, n in (os.getenv("BENCH_CASES") or "2000/1/18000 1000/3/20000 1000/10/20000 1000/60/3000")
    :gmatch("(%d+)/([%d.]+)/(%d+)") do
  CASES[#CASES + 1] = { budget = tonumber(b), window = tonumber(w), n = tonumber(n) }
end
local FLEET = 20000
for _, c in ipairs(CASES) do FLEET = math.max(FLEET, c.n) end

local function run_client(fc, c)
  local ids = common.write_ids(OUT, "windows_ids", c.n)
  local outf, errf = OUT .. "/windows.client", OUT .. "/windows.client.err"
  -- Time for the stop calls at the window's pace, the learning and the last job.
  local timeout = math.ceil((math.ceil(c.n / c.budget) + 4) * c.window * 2 + 60)
  local cmd = ("env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/bench-5.4/?.so;;' BENCH_URL='%s' "
    .. "BENCH_PROJECT='%s' BENCH_AK='%s' BENCH_SK='%s' BENCH_WAIT_TIMEOUT=%d lua5.4 bench/stop/reference_client.lua"
    .. " %s >%s 2>%s"):format(fc.url, fc.project_id, fc.ak, fc.sk, timeout, ids, outf, errf)
  local ok = os.execute(cmd)
  if ok ~= true and ok ~= 0 then error("client failed: " .. common.read(errf)) end
  local r = common.kv(common.read(outf))
  local st = assert(fc:stats())
  r.action, r.refused = st.calls.action, st.refused["Common.0024"] or 0
  r.twice = st.stop_requests.sent_more_than_once
  return r
end

os.execute("mkdir -p " .. OUT)
local fc = assert(launcher.start{ config = {
  fleet = { ecs = { { count = FLEET, name = "web-%d", status = "ACTIVE" } }, bms = {} },
} })
local rows = {}
local ok, err = xpcall(function()
  for _, c in ipairs(CASES) do
    assert(fc:configure{ flow_control = { budget = c.budget, window = c.window }, job_duration = JOB })
    assert(fc:reset())
    common.log("windows: %d servers, %d per %g s ...", c.n, c.budget, c.window)
    local r = run_client(fc, c)
    local windows = math.ceil(c.n / c.budget)
    r.ideal = (windows - 1) * c.window + JOB
    r.case, r.windows = c, windows
    -- What each window beyond the ideal cost: the time lost, over the windows crossed.
    r.per_window = windows > 1 and (r.wall - r.ideal) / (windows - 1) or 0
    common.log("  wall %.2f s (ideal %.2f), %d stop calls, %d refused", r.wall, r.ideal, r.action, r.refused)
    rows[#rows + 1] = r
  end
end, debug.traceback)
fc:stop()
if not ok then
  io.stderr:write("windows: ", tostring(err), "\n")
  os.exit(1)
end
print(("windows: ECS servers by id through a sliding flow-control window, jobs of %g s, the pace learned"
  .. " (lua5.4, one run each)"):format(JOB))
print(("%8s %7s %7s %5s %8s %6s %8s %8s %7s %6s %7s %8s %11s"):format("window s", "budget", "servers", "ok",
  "stopped", "twice", "wall s", "ideal s", "x ideal", "calls", "refused", "share", "lost/window"))
for _, r in ipairs(rows) do
  print(("%8g %7d %7d %5s %8d %6d %8.2f %8.2f %7.2f %6d %7d %7.0f%% %10.2fs"):format(r.case.window, r.case.budget,
    r.case.n, r.ok, r.stopped, r.twice, r.wall, r.ideal, r.wall / r.ideal, r.action, r.refused,
    100 * r.refused / r.action, r.per_window))
end
print("(ideal = (ceil(servers / budget) - 1) * window + job: the last window's calls accepted as early as the")
print(" window allows, then its job; share = stop calls refused with 202 Common.0024 of all stop calls;")
print(" lost/window = (wall - ideal) / (windows - 1); goals: x ideal <= 1.3 and share <= 25% for 1, 3 and 10 s)")
