-- Stopping 100,000 ECS servers (100 calls of 1000 ids, every job polled to SUCCESS)
-- against one fakecloud, by our client (lua5.4, luajit) and the official Node.js SDK,
-- each in its own process under /usr/bin/time: wall, CPU (user+sys), peak RSS.
-- Also 10,000 servers, to see that our RSS grows with the ids, not with the batches.
-- usage (from the repository root, see run_stop100k.sh for the paths):
--   lua5.4 bench/stop/stop100k.lua
-- env: BENCH_N (100000), BENCH_SMALL (10000), BENCH_JOB (job_duration, 0.5),
--      BENCH_POLL (0.5), BENCH_CONCURRENCY (8), BENCH_REPEAT (3: runs of each client, the
--      median of each figure reported; this machine is shared and one run can be 50% off),
--      BENCH_CLIENTS ("lua5.4 luajit lua5.4/force luajit/force node"; "/force" = our
--      client with force = true, no protection-tag lookup first: the SDK's work exactly),
--      BENCH_OUT (bench/out), BENCH_LUA_DIR (lua: the client's Lua sources; another
--      tree, e.g. one with a fix under trial, is named in the table)
package.path = "bench/stop/?.lua;" .. package.path
local ids = require "fakecloud.ids"
local launcher = require "fakecloud.launcher"
local common = require "common"

local num, log = common.num, common.log
local N = num("BENCH_N", 100000)
local SMALL = num("BENCH_SMALL", 10000)
local JOB = num("BENCH_JOB", 0.5)
local POLL = num("BENCH_POLL", 0.5)
local CONC = num("BENCH_CONCURRENCY", 8)
local REPEAT = num("BENCH_REPEAT", 3)
local OUT = os.getenv("BENCH_OUT") or "bench/out"
local CLIENTS = common.list("BENCH_CLIENTS", "lua5.4 luajit lua5.4/force luajit/force node")

-- How each client is started; cpath picks the build made for that interpreter.
local LUA_DIR = os.getenv("BENCH_LUA_DIR") or "lua"
local LUA_PATH = ("%s/?.lua;%s/?/init.lua;tools/?.lua;;"):format(LUA_DIR, LUA_DIR)
local COMMAND = {
  ["lua5.4"] = "env LUA_PATH='" .. LUA_PATH .. "' LUA_CPATH='build/bench-5.4/?.so;;' lua5.4 bench/stop/stop_client.lua",
  luajit = "env LUA_PATH='" .. LUA_PATH .. "' LUA_CPATH='build/bench-luajit/?.so;;' luajit bench/stop/stop_client.lua",
  node = "node bench/node/stop100k.js",
}

-- One client process over one ids file; returns its line's fields plus time's.
local function run_client(fc, client, ids_file)
  local timef, outf = OUT .. "/stop100k.time", OUT .. "/stop100k.client"
  local cmd = ("env BENCH_URL='%s' BENCH_PROJECT='%s' BENCH_AK='%s' BENCH_SK='%s' BENCH_POLL=%s "
    .. "BENCH_CONCURRENCY=%d BENCH_FORCE=%d /usr/bin/time -f '%%e %%U %%S %%M' -o %s %s %s >%s")
    :format(fc.url, fc.project_id, fc.ak, fc.sk, POLL, CONC, client:find("/force$") and 1 or 0, timef,
            COMMAND[client:gsub("/force$", "")], ids_file, outf)
  local ok = os.execute(cmd)
  local line = common.read(outf)
  if ok ~= true and ok ~= 0 then error(client .. " failed: " .. line) end
  local r = common.kv(line)
  -- /usr/bin/time's last line (a "Command exited" line may come first).
  local e, u, s, m = common.read(timef):match("([%d.]+) ([%d.]+) ([%d.]+) (%d+)%s*$")
  r.wall, r.cpu, r.rss_mb = tonumber(e), tonumber(u) + tonumber(s), tonumber(m) / 1024
  return r
end

-- What the emulator saw must be exactly the work: n servers stopped once, n/1000 calls.
local function check(fc, client, n, r)
  local st = assert(fc:stats())
  local problems = {}
  local function want(cond, what) if not cond then problems[#problems + 1] = what end end
  want(r.ok == "true" and r.stopped == n, ("client says ok=%s stopped=%s"):format(r.ok, r.stopped))
  want(st.calls.action == math.ceil(n / 1000), "action calls " .. st.calls.action)
  want(st.signature_failures == 0, "signature failures " .. st.signature_failures)
  want((st.servers.ecs.SHUTOFF or 0) == n, "SHUTOFF " .. tostring(st.servers.ecs.SHUTOFF))
  want(st.stop_requests.sent_more_than_once == 0,
    "servers sent more than once " .. st.stop_requests.sent_more_than_once)
  want(st.stop_requests.servers == n, "servers named " .. st.stop_requests.servers)
  if #problems > 0 then error(("%s, %d servers: %s"):format(client, n, table.concat(problems, "; "))) end
  r.polls, r.lists = st.calls.job, st.calls.list
end

-- The median of each numeric figure over runs (taken figure by figure).
local function median_run(runs)
  local out = {}
  for k, v in pairs(runs[1]) do
    if type(v) == "number" then
      local xs = {}
      for i, r in ipairs(runs) do xs[i] = r[k] end
      out[k] = common.median(xs)
    else
      out[k] = v
    end
  end
  out.runs = #runs
  return out
end

local function main(fc)
  local files = { [SMALL] = common.write_ids(OUT, "ids", SMALL), [N] = common.write_ids(OUT, "ids", N) }
  -- The ids file must name the emulator's servers (ids.lua is what the fleet uses).
  assert(fc:server(ids.server_id("ecs", N)), "emulator does not know the last id")
  local rows = {}
  for _, n in ipairs({ N, SMALL }) do
    local runs = {}
    -- Round-robin over the clients, so a slow spell of the machine hits them all.
    for round = 1, REPEAT do
      for _, client in ipairs(CLIENTS) do
        assert(fc:reset())
        log("stop100k: %s, %d servers, run %d/%d ...", client, n, round, REPEAT)
        local r = run_client(fc, client, files[n])
        check(fc, client, n, r)
        runs[client] = runs[client] or {}
        table.insert(runs[client], r)
        log("  wall %.2f s, cpu %.2f s, rss %.1f MB, polls %d", r.wall, r.cpu, r.rss_mb, r.polls)
      end
    end
    for _, client in ipairs(CLIENTS) do
      local r = median_run(runs[client])
      r.client, r.n = client, n
      rows[#rows + 1] = r
    end
  end
  return rows
end

local function report(rows)
  local by = {}
  for _, r in ipairs(rows) do by[r.client .. "/" .. r.n] = r end
  print(("stop %d ECS servers: %d calls of 1000 ids, job_duration %gs, poll %gs, %d in flight; median of %d runs each")
    :format(N, math.ceil(N / 1000), JOB, POLL, CONC, REPEAT))
  if LUA_DIR ~= "lua" then print("NOTE: our client's Lua sources from " .. LUA_DIR .. ", not lua/") end
  print(("%-12s %8s %8s %8s %8s %11s %8s %6s %6s %10s %10s"):format("client", "servers", "wall s", "work s",
    "CPU s", "peak RSS MB", "run CPU", "polls", "lists", "CPU/node", "RSS/node"))
  for _, r in ipairs(rows) do
    local node = by["node/" .. r.n]
    local cr, rr = "-", "-"
    if node and r.client ~= "node" then
      cr, rr = ("%.3f"):format(r.cpu / node.cpu), ("%.3f"):format(r.rss_mb / node.rss_mb)
    end
    print(("%-12s %8d %8.2f %8.2f %8.2f %11.1f %8.2f %6d %6d %10s %10s"):format(r.client, r.n, r.wall, r.work_wall,
      r.cpu, r.rss_mb, r.run_cpu, r.polls, r.lists, cr, rr))
  end
  print("(wall, CPU = user+sys of the whole client process, startup included; work = wall of")
  print(" the stopping alone, no startup or ids reading; run CPU = from the script's start,")
  print(" after loading modules; RSS = /usr/bin/time %M; polls, lists = job and")
  print(" list calls the emulator answered (lists: the protection-tag query);")
  print(" /force = force = true, no lookup, the SDK's work exactly; goal: CPU/node <= 0.2 and")
  print(" RSS/node <= 0.2)")
  -- Memory against batches: from SMALL to N servers (10x the batches) our RSS should
  -- grow by what the ids take, nothing per batch. "beyond ids" = peak RSS less the RSS
  -- the ids themselves add; "beyond ids+result" also less the result's heap (its arrays
  -- of those ids: stopped, and each job's ids, which any client must hand back).
  print()
  print(("%-12s %9s %9s %9s %9s %9s %19s %6s %26s %6s"):format("client", "RSS " .. SMALL, "RSS " .. N,
    "ids " .. SMALL, "ids " .. N, "res " .. N, "beyond ids", "x", "beyond ids+result", "x"))
  for _, client in ipairs(CLIENTS) do
    local a, b = by[client .. "/" .. SMALL], by[client .. "/" .. N]
    if a and b and a.ids_rss_kb and b.ids_rss_kb then
      local function beyond(r) return r.rss_mb - r.ids_rss_kb / 1024 end
      local function beyond_res(r) return beyond(r) - r.res_kb / 1024 end
      print(("%-12s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f ->%7.1f %6.2f %12.1f ->%11.1f %6.2f"):format(client,
        a.rss_mb, b.rss_mb, a.ids_rss_kb / 1024, b.ids_rss_kb / 1024, b.res_kb / 1024,
        beyond(a), beyond(b), beyond(b) / beyond(a), beyond_res(a), beyond_res(b), beyond_res(b) / beyond_res(a)))
    end
  end
  print(("(MB; ids = RSS the ids add when read, strings and array; res = the result's heap;"))
  print((" x = the %d figure over the %d one; goal (issue 7, 1,000,000 against 100,000): x <= 2)"):format(N, SMALL))
end

os.execute("mkdir -p " .. OUT)
local fc = assert(launcher.start{ config = {
  fleet = { ecs = { { count = N, name = "web-%d", status = "ACTIVE" } }, bms = {} },
  job_duration = JOB,
} })
local ok, rows = xpcall(main, debug.traceback, fc)
fc:stop()
if not ok then
  io.stderr:write("stop100k: ", tostring(rows), "\n")
  os.exit(1)
end
report(rows)
