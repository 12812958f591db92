-- One stop for bench/stop/reference.lua, in a process of its own (so the interpreter and the
-- Lua sources can vary): the ids of a file stopped, every job waited for, at the library's
-- defaults unless told otherwise.
-- usage: lua5.4|luajit bench/stop/reference_client.lua IDS_FILE
-- env: BENCH_URL, BENCH_PROJECT, BENCH_AK, BENCH_SK, BENCH_SPM (servers_per_minute, unset:
--      learned), BENCH_WAIT_TIMEOUT (s, 600), BENCH_FORCE=1 (no protection-tag lookup),
--      BENCH_TIMEOUT (the client's request timeout, s; unset: the library's)
-- Prints one key=value line: ok, counts, the stop's wall time, and the times (from the
-- call) of the first and the last job accepted.
local cloud = require "cloud"
local core = require "cloud.core"

local env = os.getenv
local ids = {}
for line in io.lines(arg[1]) do
  if line ~= "" then ids[#ids + 1] = line end
end

local c = assert(cloud.new{
  project_id = env("BENCH_PROJECT"), ak = env("BENCH_AK"), sk = env("BENCH_SK"),
  metadata_fallback = false, -- keys missing: say so, never ask 169.254.169.254
  endpoints = { ecs = env("BENCH_URL") },
  timeout = tonumber(env("BENCH_TIMEOUT") or ""),
})
local t0 = core.now()
local first, last, accepted = nil, nil, 0
local res = assert(c:stop_ecs{
  ids = ids, force = env("BENCH_FORCE") == "1" or nil,
  servers_per_minute = tonumber(env("BENCH_SPM") or ""),
  wait_timeout = tonumber(env("BENCH_WAIT_TIMEOUT") or "") or 600,
  -- "submit" events come as the cloud accepts each batch (done: the servers accepted so far).
  on_progress = function(e)
    if e.phase == "submit" and e.done > accepted then
      accepted = e.done
      local t = core.now() - t0
      first = first or t
      last = t
    end
  end,
})
local wall = core.now() - t0
c:close()
for i = 1, math.min(3, #res.failed) do
  local f = res.failed[i]
  io.stderr:write(("failed %s: %s %s\n"):format(f.id, tostring(f.code), tostring(f.message)))
end
print(("ok=%s requested=%d stopped=%d failed=%d skipped=%d jobs=%d wall=%.3f first_accept=%.3f last_accept=%.3f")
  :format(tostring(res.ok), res.requested, #res.stopped, #res.failed, #(res.skipped or {}), #res.jobs, wall,
          first or -1, last or -1))
