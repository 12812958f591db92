-- A stop started in a timer of the app nginx (spec/support/appnginx.lua), as
-- docs/openresty.md shows, slow enough to quit nginx in the middle of it: M.start runs
-- inside nginx; M.quit_during_stop on the spec's side (spec/nginx_shutdown_spec.lua,
-- bench/nginx_shutdown.lua). The stop's result goes to a file next to its record: the
-- shared dictionary does not outlive nginx.
local M = {}

-- The record's intent lines, the ids they named, each id's outcome line and its end lines.
function M.read_record(path)
  local cjson = require "cjson"
  local out = { intents = 0, named = {}, outcomes = {}, noutcomes = 0, ends = {}, twice = {} }
  local f = io.open(path)
  if not f then return out end
  for line in f:lines() do
    local l = cjson.decode(line)
    if l.type == "intent" then
      out.intents = out.intents + 1
      for _, id in ipairs(l.ids) do out.named[id] = true end
    elseif l.type == "outcome" then
      if out.outcomes[l.id] then out.twice[#out.twice + 1] = l.id end
      out.outcomes[l.id] = l
      out.noutcomes = out.noutcomes + 1
    elseif l.type == "end" then
      out.ends[#out.ends + 1] = l
    end
  end
  f:close()
  return out
end

--- Starts a stop of servers 1..n in a timer of a new app nginx (`main`: its main-context
-- directives) on emulator `fc`, whose jobs run a minute; waits for its second stop call,
-- sends QUIT to the master (and TERM `term_after` seconds later, if nginx is still there),
-- and waits up to `limit` seconds for nginx to exit; with `reload`, sends HUP instead and
-- waits for the old worker to exit. `record`: the record's path. Returns
-- exited, took (seconds from QUIT), quit_at, stats (the emulator's), termed, log, record
-- (M.read_record) and result (what the timer's stop returned).
function M.quit_during_stop(o)
  local appnginx, proc = require "support.appnginx", require "fakecloud.proc"
  local socket, cjson = require "socket", require "cjson"
  local fc = o.emulator
  fc:reset()
  assert(fc:configure{ job_duration = 60 })
  local app = assert(appnginx.start{ emulator = fc, main = o.main })
  local code, body = app:get(("/shutdown-stop?n=%d&spm=60000&record=%s%s"):format(o.n, o.record,
    o.grace and "&grace=" .. o.grace or ""))
  assert(code == 200 and body:find("started"), body)
  for _ = 1, 600 do
    if fc:stats().calls.action >= 2 then break end
    socket.sleep(0.05)
  end
  local pid = app:pid()
  -- A reload quits the old worker, which runs the stop; the master stays.
  if o.reload then pid = assert(proc.sh("pgrep -P " .. pid):match("%d+"), "no worker") end
  local quit_at = socket.gettime()
  proc.exec("kill -" .. (o.reload and "HUP " .. app:pid() or "QUIT " .. pid))
  local termed
  for _ = 1, (o.limit or 60) * 20 do
    if not proc.alive(pid) then break end
    if o.term_after and not termed and socket.gettime() - quit_at >= o.term_after then
      proc.exec("kill -TERM " .. pid)
      termed = true
    end
    socket.sleep(0.05)
  end
  local exited = not proc.alive(pid)
  local took = socket.gettime() - quit_at
  local log = app:log()
  app:stop()
  local f = io.open(o.record .. ".result")
  local result = f and cjson.decode(f:read("*a"))
  if f then f:close() end
  return { exited = exited, took = took, quit_at = quit_at, stats = fc:stats(), termed = termed, log = log,
    record = M.read_record(o.record), result = result }
end

local function config()
  local f = assert(io.open(ngx.config.prefix() .. "/app.json"))
  local cfg = require("cjson").decode(f:read("*a"))
  f:close()
  return cfg
end

-- ?record=path&n=servers&spm=servers a minute[&grace=s]: stops ECS servers 1..n in a
-- timer at that pace, with that record; writes path .. ".result" when the stop returns.
function M.start()
  local a = ngx.req.get_uri_args()
  local cfg = config()
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local c = assert(require("cloud").new{ project_id = cfg.project_id, ak = cfg.ak, sk = cfg.sk,
      endpoints = { ecs = cfg.url }, concurrency = 4, retry = { attempts = 3, base = 0.01, cap = 0.05 },
      logger = function(line) ngx.log(ngx.NOTICE, "cloud: ", line) end })
    local ids = {}
    for n = 1, tonumber(a.n) do ids[n] = require("fakecloud.ids").server_id("ecs", n) end
    local res, e = c:stop_ecs{ ids = ids, force = true, record = a.record, poll_interval = 0.2,
      servers_per_minute = tonumber(a.spm), shutdown_grace = tonumber(a.grace), wait_timeout = 300 }
    c:close()
    local codes = {}
    for _, f in ipairs(res and res.failed or {}) do codes[f.code] = (codes[f.code] or 0) + 1 end
    ngx.update_time()
    local out = assert(io.open(a.record .. ".result", "w"))
    out:write(require("cjson").encode(res and { shutdown = res.shutdown, stopped = #res.stopped, codes = codes,
      exiting = ngx.worker.exiting(), ended = ngx.now() } or { error = tostring(e) }))
    out:close()
  end)
  ngx.say(ok and "started" or err)
end

return M
