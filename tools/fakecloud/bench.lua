-- Timing of the emulator at scale: list N servers in pages of 1000, then stop them
-- in calls of 1000 ids. Usage (from the repo root): luajit tools/fakecloud/bench.lua [N]
package.path = "tools/?.lua;" .. package.path
local socket = require "socket"
local launcher = require "fakecloud.launcher"
local client = require "fakecloud.client"

local n = tonumber(arg[1]) or 100000
local fc = assert(launcher.start { config = { fleet = { ecs = { { count = n, name = "web-%06d" } } },
                                              job_duration = 0 } })
local c = client.for_emulator(fc)
local ok, err = pcall(function()
  local ids, t0 = {}, socket.gettime()
  for page = 1, math.ceil(n / 1000) do
    local code, l = c:list("ecs", { limit = 1000, offset = page })
    assert(code == 200, "list " .. tostring(code))
    for _, s in ipairs(l.servers) do ids[#ids + 1] = s.id end
  end
  local t_list = socket.gettime() - t0
  local f0 = socket.gettime()
  local _, filtered = c:list("ecs", { name = "web-0", status = "ACTIVE", limit = 1000 })
  local t_filter = socket.gettime() - f0
  local t1 = socket.gettime()
  for i = 1, #ids, 1000 do
    local chunk = {}
    for j = i, math.min(i + 999, #ids) do chunk[#chunk + 1] = ids[j] end
    local code = c:stop("ecs", chunk)
    assert(code == 200, "stop " .. tostring(code))
  end
  local t_stop = socket.gettime() - t1
  local st = fc:stats()
  print(string.format("fleet %d: list %d pages of 1000 in %.2fs; first filtered page (count %d) in %.3fs; " ..
    "%d stop calls of 1000 ids in %.2fs; SHUTOFF after: %d", n, math.ceil(n / 1000), t_list,
    filtered.count, t_filter, math.ceil(#ids / 1000), t_stop, st.servers.ecs.SHUTOFF or 0))
end)
fc:stop()
assert(ok, err)
