-- How long nginx takes to exit when told to quit during a stop running in a timer, and
-- what the stop's record says, for docs/openresty.md ("Shutdown"). Not a test: one run of
-- each case on this machine.
--   LUA_PATH="spec/?.lua;tools/?.lua;lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" \
--     lua5.4 bench/nginx_shutdown.lua [case numbers: 1,3]
local env = require "support.cloudenv"
local shutdown_app = require "support.shutdown_app"

local N = 10000
local CASES = {
  { name = "QUIT", },
  { name = "QUIT, TERM at 5 s", term_after = 5 },
  { name = "QUIT, worker_shutdown_timeout 5s", main = "worker_shutdown_timeout 5s;" },
  { name = "QUIT, shutdown_grace 30", grace = 30 },
  { name = "QUIT, shutdown_grace 30, worker_shutdown_timeout 5s", grace = 30,
    main = "worker_shutdown_timeout 5s;" },
  { name = "QUIT, shutdown_grace 30, TERM at 5 s", grace = 30, term_after = 5 },
}

local fc = env.start{ fleet = { ecs = { { count = N, status = "ACTIVE" } } } }
local p = io.popen("mktemp -d /tmp/nginx_shutdown_bench.XXXXXX")
local dir = p:read("*l")
p:close()
local ROW = "%-52s %8s %6s %5s %8s %8s %s"
print(ROW:format("case", "exit s", "calls", "end", "shutdown", "unconf.", "timer's result"))
local only = arg[1] and {} or nil
for n in (arg[1] or ""):gmatch("%d+") do only[tonumber(n)] = true end
for i, c in ipairs(CASES) do
  if only and not only[i] then goto next end
  local run = shutdown_app.quit_during_stop{ emulator = fc, n = N, record = dir .. "/" .. i .. ".jsonl",
    main = c.main, grace = c.grace, term_after = c.term_after, limit = 90 }
  local shut, unconf = 0, 0
  for _, o in pairs(run.record.outcomes) do
    if o.code == "cloud.shutdown" then shut = shut + 1 elseif o.code == "cloud.unconfirmed" then unconf = unconf + 1 end
  end
  print(ROW:format(c.name, run.exited and ("%.2f"):format(run.took) or ">90",
    #run.stats.action_arrivals, #run.record.ends == 1 and "yes" or "no", shut, unconf,
    run.result and "written" or "none"))
  ::next::
end
fc:stop()
os.execute("rm -rf " .. dir)
