-- One run of our client for stop100k.lua, in a process of its own so /usr/bin/time
-- measures the client alone: the ids of a file stopped (SOFT) and every job waited for.
-- usage: lua5.4|luajit bench/stop/stop_client.lua IDS_FILE
-- env: BENCH_URL, BENCH_PROJECT, BENCH_AK, BENCH_SK, BENCH_POLL (s), BENCH_CONCURRENCY,
--      BENCH_FORCE=1 (pass force = true: no protection-tag lookup before stopping)
-- Prints one key=value line.
local cloud = require "cloud"
local core = require "cloud.core"

local env = os.getenv
local cpu0 = os.clock()

-- Resident memory now, in KB.
local function rss_kb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
end

-- The ids' own size: the resident memory they add (their Lua heap, strings and array,
-- plus the allocator's own overhead per string).
collectgarbage("collect")
local rss0 = rss_kb()
local ids = {}
for line in io.lines(arg[1]) do
  if line ~= "" then ids[#ids + 1] = line end
end
collectgarbage("collect")
local ids_rss_kb = rss_kb() - rss0

local c = assert(cloud.new{
  project_id = env("BENCH_PROJECT"), ak = env("BENCH_AK"), sk = env("BENCH_SK"),
  metadata_fallback = false, -- keys missing: say so, never ask 169.254.169.254
  endpoints = { ecs = env("BENCH_URL") }, concurrency = tonumber(env("BENCH_CONCURRENCY") or 8),
  retry = { attempts = 6, base = 1, cap = 60 },
})
collectgarbage("collect")
local heap1 = collectgarbage("count")
local t0 = core.now()
local res = assert(c:stop_ecs{ ids = ids, type = "SOFT", wait = true, force = env("BENCH_FORCE") == "1" or nil,
                               poll_interval = tonumber(env("BENCH_POLL") or 0.5), wait_timeout = 600 })
local wall = core.now() - t0
local cpu = os.clock() - cpu0
-- Heap still held with the result alive (stopped array, ledger): what a caller keeps;
-- res_kb is the result's part of it (its arrays of ids, jobs, failures).
collectgarbage("collect")
local res_kb = collectgarbage("count") - heap1
c:close()

for i = 1, math.min(3, #res.failed) do
  local f = res.failed[i]
  io.stderr:write(("failed %s: %s %s\n"):format(f.id, tostring(f.code), tostring(f.message)))
end
print(("client=%s ok=%s requested=%d stopped=%d failed=%d jobs=%d work_wall=%.3f run_cpu=%.3f "
  .. "ids_rss_kb=%.0f res_kb=%.0f")
  :format(jit and "luajit" or _VERSION:gsub("Lua ", "lua"), tostring(res.ok), res.requested, #res.stopped,
          #res.failed, #res.jobs, wall, cpu, ids_rss_kb, res_kb))
