-- One run for bench/fleet/fleet.lua, in a process of its own so /usr/bin/time measures the
-- client alone: N servers of each target stopped by id (force, SOFT) and every job waited
-- for, through cloud.fleet (BENCH_MODE=fleet) or one client on the first URL (client).
-- env: BENCH_URLS (space-separated emulator URLs: one target each), BENCH_PROJECT,
--      BENCH_AK, BENCH_SK, BENCH_N (servers per target), BENCH_POLL, BENCH_CONCURRENCY
--      (per target), BENCH_TOTAL (the fleet's total_concurrency), BENCH_MODE
-- Prints one key=value line.
local cloud = require "cloud"
local core = require "cloud.core"
local ids_of = require "fakecloud.ids"

local env = os.getenv
local cpu0 = os.clock()
local n = tonumber(env("BENCH_N"))
local urls = {}
for u in env("BENCH_URLS"):gmatch("%S+") do urls[#urls + 1] = u end
local ids = {}
for i = 1, n do ids[i] = ids_of.server_id("ecs", i) end
local common = {
  project_id = env("BENCH_PROJECT"), ak = env("BENCH_AK"), sk = env("BENCH_SK"),
  metadata_fallback = false, -- keys missing: say so, never ask 169.254.169.254
  concurrency = tonumber(env("BENCH_CONCURRENCY") or 8),
}
local opts = { type = "SOFT", force = true, poll_interval = tonumber(env("BENCH_POLL") or 0.5), wait_timeout = 600 }

local t0, res
if env("BENCH_MODE") == "fleet" then
  local targets = {}
  for i, u in ipairs(urls) do
    targets[i] = { region = ("region-%d"):format(i), project_id = common.project_id, endpoints = { ecs = u } }
  end
  common.targets, common.total_concurrency = targets, tonumber(env("BENCH_TOTAL") or 64)
  local f = cloud.fleet(common)
  opts.ids = { [common.project_id] = ids }
  t0 = core.now()
  res = f:stop_ecs(opts)
  f:close()
else
  common.endpoints = { ecs = urls[1] }
  local c = assert(cloud.new(common))
  opts.ids = ids
  t0 = core.now()
  res = assert(c:stop_ecs(opts))
  c:close()
end
local wall = core.now() - t0
for i = 1, math.min(3, #res.failed) do
  io.stderr:write(("failed %s %s %s\n"):format(res.failed[i].id, res.failed[i].code, res.failed[i].message))
end
print(("ok=%s targets=%d servers=%d stopped=%d failed=%d work=%.3f cpu=%.3f"):format(tostring(res.ok), #urls,
  res.requested, #res.stopped, #res.failed, wall, os.clock() - cpu0))
