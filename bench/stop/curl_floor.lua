-- The floor for bench/stop/concurrency.lua: the same 100 stop calls of 1000 ids against the
-- same emulator (0.1 s latency), sent by curl itself with 16 in flight, pre-signed by
-- core.sign. What curl cannot beat here bounds the client too.
-- usage (from the repository root): lua5.4 bench/stop/curl_floor.lua
package.path = "lua/?.lua;lua/?/init.lua;tools/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "build/bench-5.4/?.so;") .. package.cpath
local core = require "cloud.core"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local stop = require "cloud.stop"
local fc = assert(launcher.start{ config = { job_duration = 0, fleet = { ecs = { { count = 100000, name = "w-%d", status = "ACTIVE" } } },
  faults = { latency = 0.1, seed = 1 } } })
local dir = os.tmpname(); os.remove(dir); os.execute("mkdir -p " .. dir)
local cfg = io.open(dir .. "/curl.cfg", "w")
local host = fc.url:match("^http://(.*)$")
for c = 0, 99 do
  local chunk = {}
  for i = 1, 1000 do chunk[i] = ids.server_id("ecs", c * 1000 + i) end
  local body = stop.stop_body(chunk, "SOFT")
  local path = "/v1/" .. fc.project_id .. "/cloudservers/action"
  local s = core.sign{ method = "POST", host = host, path = path, body = body, ak = fc.ak, sk = fc.sk,
    headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = fc.project_id } }
  local f = io.open(dir .. "/b" .. c, "wb") f:write(body) f:close()
  cfg:write("next\nurl = \"", fc.url, path, "\"\nrequest = POST\ndata-binary = \"@", dir, "/b", c, "\"\noutput = /dev/null\n")
  for k, v in pairs(s.headers) do if k ~= "Host" then cfg:write("header = \"", k, ": ", v, "\"\n") end end
  cfg:write("header = \"Expect:\"\n")
  if os.getenv("BENCH_TRACE") then cfg:write("write-out = \"%{time_connect} %{time_pretransfer} %{time_starttransfer} %{time_total}\\n\"\n") end
end
cfg:close()
local t = require("socket").gettime() -- timing starts once every request is signed and written
os.execute("env -u LD_PRELOAD curl -s --parallel --parallel-max 16 --config " .. dir .. "/curl.cfg")
local wall = require("socket").gettime() - t
local st = fc:stats()
print(("curl --parallel-max 16: %.2f s for 100 calls of 1000 ids (ideal 0.625 s, %.2fx), %d ids accepted")
  :format(wall, wall / 0.625, st.stop_requests.total))
fc:stop()
os.execute("rm -rf " .. dir)
