-- Inside the app nginx (spec/support/appnginx.lua, option `every`): work started through
-- cloud.nginx.every from every worker's init_worker, each run counted in the app
-- dictionary by key and slot, as spec/nginx_schedule_spec.lua reads them (/everystate).
local M = {}

local function count(name, ctx)
  local d = ngx.shared.app
  d:incr(("every:%s:%d"):format(name, ctx.slot), 1, 0)
  d:set(("pid:%s:%d"):format(name, ctx.slot), ngx.worker.pid())
end

-- The works: `count` counts; `slow` runs longer than a slot and says when two overlap;
-- `fail` raises an Error and returns one, in turn.
local WORKS = {
  count = function(ctx) count("count", ctx) end,
  slow = function(ctx, cfg)
    local d = ngx.shared.app
    if d:incr("slow_active", 1, 0) > 1 then d:set("slow_overlap", true) end
    count("slow", ctx)
    ngx.sleep(cfg.slow)
    d:incr("slow_active", -1)
  end,
  fail = function(ctx)
    count("fail", ctx)
    local err = require("cloud.errors").new("spec.every", "the work failed in slot " .. ctx.slot, nil, nil, "config")
    if ctx.slot % 2 == 0 then error(err) end
    return nil, err
  end,
}

-- The schedule of e.schedule (a file the spec rewrites) through cloud.nginx.schedule, with
-- a client of keys and region (its project found through the emulator's IAM); each run
-- counted by slot as every:sched:<slot>, its units' actions as sched_<action>.
local function start_schedule(cfg)
  local e = cfg.every
  local function client()
    return require("cloud").new{ region = "cn-north-4", ak = cfg.ak, sk = cfg.sk,
      endpoints = { ecs = cfg.url, bms = cfg.url, iam = cfg.url }, retry = { attempts = 5, base = 0.01, cap = 0.05 } }
  end
  assert(require("cloud.nginx").schedule{ dict = "every", key = "sched", interval = e.interval,
    schedule = e.schedule, state_dir = e.dir .. "/state", client = client, run = { poll_interval = 0.05 },
    on_result = function(res, ctx)
      local d = ngx.shared.app
      count("sched", ctx)
      for _, u in ipairs(res.results) do
        d:incr("sched_" .. u.action, 1, 0)
        if not u.ok then d:set("sched_error", tostring(u.error)) end
      end
    end })
end

function M.start(cfg)
  local e = cfg.every
  for _, name in ipairs(e.works) do
    local work = WORKS[name]
    assert(require("cloud.nginx").every{ dict = "every", key = name, interval = e.interval,
      lock = e.dir .. "/" .. name .. ".lock", run = function(ctx) return work(ctx, e) end })
  end
  if e.schedule then start_schedule(cfg) end
  -- The recipe of docs/openresty.md, as written there but for its paths and interval.
  if e.doc then assert(load(e.doc, "=docs/openresty.md"))() end
end

-- /everystate: the app dictionary's counts (every:<key>:<slot>, pid:<key>:<slot>, slow_*).
function M.state()
  local d = ngx.shared.app
  local out = {}
  for _, k in ipairs(d:get_keys(0)) do
    if k:match("^every:") or k:match("^pid:") or k:match("^slow_") or k:match("^sched") then out[k] = d:get(k) end
  end
  ngx.say(require("cjson").encode(out))
end

-- /everycheck?case=: cloud.nginx.every called from a request with one thing wrong (or
-- nothing: the phase is wrong then); what it raised.
function M.check()
  local o = { dict = "every", key = "check", interval = 1, lock = "/tmp/every-check.lock", run = function() end }
  local case = ngx.var.arg_case
  if case == "dict" then o.dict = "app"
  elseif case == "nodict" then o.dict = "nope"
  elseif case == "key" then o.key = "../x"
  elseif case == "interval" then o.interval = 2.5
  elseif case == "run" then o.run = nil
  elseif case == "unknown" then o.every = 1 end
  local fn = require("cloud.nginx").every
  if case == "schedule" or case == "run_at" then -- cloud.nginx.schedule's own checks
    fn = require("cloud.nginx").schedule
    o = { dict = "every", interval = 1, state_dir = "/tmp/every-check", run = case == "run_at" and { at = 1 } or nil,
          schedule = { schedules = { office = { timezone = "UTC",
            periods = { { days = "mon-fri", start = "25:00", stop = "19:00" } } } } } }
  end
  local ok, err = pcall(fn, o)
  ngx.say(require("cjson").encode{ raised = not ok and tostring(err) or nil })
end

return M
