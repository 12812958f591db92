-- The floors for bench/stop/concurrency.lua: the same stop calls of 1000 ids against the
-- same emulator (latency counted from arrival), as many in flight as its highest level,
-- every call made and signed (core.sign) before the clock starts, then sent by
--   curl:   curl itself (--parallel), one process; its wall includes starting it (sh, env,
--           curl, reading its config), measured apart as "start s", and curl reuses
--           connections;
--   engine: the core's HTTP engine alone (core.http), each call on its own connection as
--           the client sends stop calls, with no scheduler, ledger or body making.
-- The client cannot beat the engine floor here: what is left between the two is the
-- client's own work. Median of BENCH_REPEAT (3) runs each, round robin.
-- usage (from the repository root): lua5.4 bench/stop/floors.lua
-- env: as concurrency.lua: BENCH_N (100000: calls = N / 1000), BENCH_LATENCY (0.1),
--      BENCH_LEVELS ("1 8 16": the last is the concurrency here), BENCH_REPEAT (3);
--      BENCH_CPATH (build/bench-5.4/?.so;)
package.path = "bench/stop/?.lua;lua/?.lua;lua/?/init.lua;tools/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "build/bench-5.4/?.so;") .. package.cpath
local core = require "cloud.core"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local stop = require "cloud.op.run" -- stop_body: the body the client sends, made in C
local common = require "common"

local N = common.num("BENCH_N", 100000)
local LEVELS = common.list("BENCH_LEVELS", "1 8 16", true)
local CALLS, CONCURRENCY, LATENCY = math.ceil(N / 1000), LEVELS[#LEVELS], common.num("BENCH_LATENCY", 0.1)
local IDEAL = CALLS / CONCURRENCY * LATENCY
local REPEAT = common.num("BENCH_REPEAT", 3)
local STARTS = 3 -- curl start-up runs per round
local CURL = "env -u LD_PRELOAD curl -s --no-progress-meter --parallel --parallel-max " .. CONCURRENCY

local fc = assert(launcher.start{ config = {
  job_duration = 0, fleet = { ecs = { { count = N, name = "w-%d", status = "ACTIVE" } } },
  faults = { latency = LATENCY, latency_mode = "arrival" } } })
local host = fc.url:match("^http://(.*)$")
local path = "/v1/" .. fc.project_id .. "/cloudservers/action"

local function bodies()
  local list = {}
  for c = 0, CALLS - 1 do
    local chunk = {}
    for i = 1, math.min(1000, N - c * 1000) do chunk[i] = ids.server_id("ecs", c * 1000 + i) end
    list[c + 1] = stop.stop_body(chunk, "SOFT")
  end
  return list
end
local BODIES = bodies()

local function signed(body)
  return core.sign{ method = "POST", host = host, path = path, body = body, ak = fc.ak, sk = fc.sk,
    headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = fc.project_id } }.headers
end

-- curl's own cost in by_curl's wall: the same command (sh, env, curl, a config to read)
-- making one request, the emulator's unsigned GET /__admin/stats, no latency on it.
local START_WALLS = {}
local function curl_start(dir)
  local cfg = assert(io.open(dir .. "/start.cfg", "w"))
  cfg:write("url = \"", fc.url, "/__admin/stats\"\noutput = /dev/null\n")
  cfg:close()
  for _ = 1, STARTS do
    local t = core.now()
    os.execute(("%s --config %s/start.cfg"):format(CURL, dir))
    START_WALLS[#START_WALLS + 1] = core.now() - t
  end
end

-- Each returns wall seconds.
local function by_curl()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  curl_start(dir)
  local cfg = assert(io.open(dir .. "/curl.cfg", "w"))
  for c, body in ipairs(BODIES) do
    local f = assert(io.open(dir .. "/b" .. c, "wb"))
    f:write(body)
    f:close()
    cfg:write("next\nurl = \"", fc.url, path, "\"\nrequest = POST\n",
      "data-binary = \"@", dir, "/b", c, "\"\noutput = /dev/null\n")
    for k, v in pairs(signed(body)) do if k ~= "Host" then cfg:write("header = \"", k, ": ", v, "\"\n") end end
    cfg:write("header = \"Expect:\"\n")
  end
  cfg:close()
  local t = core.now() -- from here on: only sending
  os.execute(("%s --config %s/curl.cfg"):format(CURL, dir))
  local wall = core.now() - t
  os.execute("rm -rf " .. dir)
  return wall
end

local function by_engine()
  local engine = core.http{ concurrency = CONCURRENCY }
  local headers = {}
  for c, body in ipairs(BODIES) do headers[c] = signed(body) end
  local t = core.now()
  for c, body in ipairs(BODIES) do engine:add(c, "POST", fc.url .. path, headers[c], body, true) end
  local done = 0
  while done < CALLS do
    local answers = engine:run(1)
    for _, r in ipairs(answers or {}) do
      assert(r.status == 200, "engine floor: a call answered " .. tostring(r.status))
      done = done + 1
    end
  end
  local wall = core.now() - t
  engine:close()
  return wall
end

local FLOORS = { { name = "curl --parallel-max " .. CONCURRENCY, run = by_curl },
                 { name = "core.http engine alone", run = by_engine } }
for _, floor in ipairs(FLOORS) do floor.walls = {} end
for _ = 1, REPEAT do
  for _, floor in ipairs(FLOORS) do
    assert(fc:reset())
    floor.walls[#floor.walls + 1] = floor.run()
    local accepted = fc:stats().stop_requests.total
    assert(accepted == N, floor.name .. ": the emulator accepted " .. accepted .. " ids")
  end
end
fc:stop()

print(("floors: %d calls of 1000 ids, %d in flight, %gs latency, pre-signed; ideal %.3f s")
  :format(CALLS, CONCURRENCY, LATENCY, IDEAL))
print(("%-24s %8s %8s %12s %8s"):format("sender", "wall s", "x ideal", "range", "start s"))
local start = common.median(START_WALLS)
for _, floor in ipairs(FLOORS) do
  local median = common.median(floor.walls)
  print(("%-24s %8.3f %8.2f %12s %8s"):format(floor.name, median, median / IDEAL,
    ("%.2f-%.2f"):format(floor.walls[1] / IDEAL, floor.walls[#floor.walls] / IDEAL),
    floor.run == by_curl and ("%.3f"):format(start) or "-"))
end
print(("(median of %d runs each; every id accepted once per run; the client's figure in the"):format(REPEAT))
print(" concurrency table less the engine's is what its own work costs; start = curl's own")
print(" start-up, inside its wall: the same command making one unsigned GET /__admin/stats,")
print((" median of %d; curl reuses connections, the engine and the client open one per stop call)")
  :format(#START_WALLS))
