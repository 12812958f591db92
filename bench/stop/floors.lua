-- The floors for bench/stop/concurrency.lua: the same 100 stop calls of 1000 ids against the
-- same emulator (0.1 s latency counted from arrival), 16 in flight, every call made and
-- signed (core.sign) before the clock starts, then sent by
--   curl:   curl itself (--parallel), one process;
--   engine: the core's HTTP engine alone (core.http), each call on its own connection as
--           the client sends stop calls, with no scheduler, ledger or body making.
-- The client cannot beat the engine floor here: what is left between the two is the
-- client's own work. Median of BENCH_REPEAT (3) runs each, round robin.
-- usage (from the repository root): lua5.4 bench/stop/floors.lua
package.path = "lua/?.lua;lua/?/init.lua;tools/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "build/bench-5.4/?.so;") .. package.cpath
local core = require "cloud.core"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local stop = require "cloud.stop"

local CALLS, CONCURRENCY, LATENCY = 100, 16, 0.1
local IDEAL = CALLS / CONCURRENCY * LATENCY
local REPEAT = tonumber(os.getenv("BENCH_REPEAT") or "") or 3

local fc = assert(launcher.start{ config = {
  job_duration = 0, fleet = { ecs = { { count = CALLS * 1000, name = "w-%d", status = "ACTIVE" } } },
  faults = { latency = LATENCY, latency_mode = "arrival" } } })
local host = fc.url:match("^http://(.*)$")
local path = "/v1/" .. fc.project_id .. "/cloudservers/action"

local function bodies()
  local list = {}
  for c = 0, CALLS - 1 do
    local chunk = {}
    for i = 1, 1000 do chunk[i] = ids.server_id("ecs", c * 1000 + i) end
    list[c + 1] = stop.stop_body(chunk, "SOFT")
  end
  return list
end
local BODIES = bodies()

local function signed(body)
  return core.sign{ method = "POST", host = host, path = path, body = body, ak = fc.ak, sk = fc.sk,
    headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = fc.project_id } }.headers
end

-- Each returns wall seconds and the ids the emulator accepted.
local function by_curl()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local cfg = assert(io.open(dir .. "/curl.cfg", "w"))
  for c, body in ipairs(BODIES) do
    local f = assert(io.open(dir .. "/b" .. c, "wb"))
    f:write(body)
    f:close()
    cfg:write("next\nurl = \"", fc.url, path, "\"\nrequest = POST\ndata-binary = \"@", dir, "/b", c, "\"\noutput = /dev/null\n")
    for k, v in pairs(signed(body)) do if k ~= "Host" then cfg:write("header = \"", k, ": ", v, "\"\n") end end
    cfg:write("header = \"Expect:\"\n")
  end
  cfg:close()
  local t = core.now() -- from here on: only sending
  os.execute(("env -u LD_PRELOAD curl -s --no-progress-meter --parallel --parallel-max %d --config %s/curl.cfg"):format(CONCURRENCY, dir))
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

local FLOORS = { { name = "curl --parallel-max 16", run = by_curl }, { name = "core.http engine alone", run = by_engine } }
for _, floor in ipairs(FLOORS) do floor.walls = {} end
for _ = 1, REPEAT do
  for _, floor in ipairs(FLOORS) do
    assert(fc:reset())
    floor.walls[#floor.walls + 1] = floor.run()
    local accepted = fc:stats().stop_requests.total
    assert(accepted == CALLS * 1000, floor.name .. ": the emulator accepted " .. accepted .. " ids")
  end
end
fc:stop()

print(("floors: %d calls of 1000 ids, %d in flight, %gs latency, pre-signed; ideal %.3f s"):format(CALLS, CONCURRENCY, LATENCY, IDEAL))
print(("%-24s %8s %8s %12s"):format("sender", "wall s", "x ideal", "range"))
for _, floor in ipairs(FLOORS) do
  table.sort(floor.walls)
  local median = floor.walls[math.floor((#floor.walls + 1) / 2)]
  print(("%-24s %8.3f %8.2f %12s"):format(floor.name, median, median / IDEAL,
    ("%.2f-%.2f"):format(floor.walls[1] / IDEAL, floor.walls[#floor.walls] / IDEAL)))
end
print(("(median of %d runs each; every id accepted once per run; the client's figure in the"):format(REPEAT))
print(" concurrency table less the engine's is what its own work costs)")
