--- Schedules run inside nginx: `require("cloud.nginx").schedule{...}` from
-- `init_worker_by_lua*` runs `run_schedule` every `interval` seconds in one worker of all
-- (through `cloud.nginx.every`), with the time of the slot's start, and logs what it did
-- (docs/openresty.md, "Schedules inside nginx").
-- @module cloud.nginx.schedule
local check = require "cloud.base.check"
local errors = require "cloud.errors"
local every = require "cloud.nginx.every"
local schedule = require "cloud.schedule"
local state = require "cloud.schedule.state"

local M = {}

local WHERE = "cloud.nginx.schedule"
local OPTIONS = { dict = true, key = true, interval = true, schedule = true, state_dir = true, client = true,
                  run = true, on_result = true }
-- What a unit's line says of its result, per action.
local COUNTS = { stop = { "stopped", "failed", "skipped" }, start = { "started", "failed", "skipped" } }

--- The default `client`: a fleet over the targets the file names, else one client whose
-- region, keys and project come from the environment (nginx's `env` lines).
function M.default_client(set)
  local cloud = require "cloud"
  local targets = require("cloud.schedule").targets(set)
  if #targets > 0 then return cloud.fleet{ targets = targets } end
  return cloud.new{}
end

-- One unit's line: schedule, target, service, what was done and how it ended.
local function line(e)
  local t = e.target or {}
  local parts = { ("%s %s/%s %s: %s -> %s, %s"):format(e.schedule, tostring(t.region or "-"),
    tostring(t.project_id or "-"), e.service, tostring(e.previous or "none"), tostring(e.wanted), e.action) }
  local res = e.result
  for _, k in ipairs(res and COUNTS[e.action] or {}) do parts[#parts + 1] = ("%d %s"):format(#(res[k] or {}), k) end
  if e.record then parts[#parts + 1] = "record " .. e.record end
  if e.error then parts[#parts + 1] = "error: " .. tostring(e.error) end
  return table.concat(parts, ", ")
end

-- Logs the units that acted or failed; a unit with nothing to do says nothing.
local function log_result(res)
  for _, e in ipairs(res.results) do
    if e.action ~= "none" or not e.ok then
      ngx.log(e.ok and ngx.NOTICE or ngx.ERR, WHERE, ": ", line(e))
    end
  end
end

local function check_opts(opts)
  if type(opts) ~= "table" then errors.argument(WHERE, nil, "takes one table of options") end
  check.known(WHERE, opts, OPTIONS)
  local o = {
    dict = check.string(WHERE, opts, "dict", true),
    key = check.string(WHERE, opts, "key") or "schedule",
    interval = check.integer(WHERE, opts, "interval", nil, 1),
    state_dir = check.string(WHERE, opts, "state_dir", true),
    client = check.func(WHERE, opts, "client") or M.default_client,
    on_result = check.func(WHERE, opts, "on_result"),
    run = opts.run,
  }
  if not o.interval then errors.argument(WHERE, "interval", "is required (whole seconds, at least 1)") end
  if o.run ~= nil and type(o.run) ~= "table" then
    errors.argument(WHERE, "run", "must be a table of run_schedule's options (wait_timeout, poll_interval, ...)")
  end
  for _, k in ipairs({ "schedule", "state_dir", "at" }) do
    if o.run and o.run[k] ~= nil then errors.argument(WHERE, "run." .. k, "is set by cloud.nginx.schedule itself") end
  end
  -- A path is read again at each run, so an edit applies at the next slot; it is checked
  -- now too, so a mistake in it shows at nginx's start. A table is checked once.
  local s = opts.schedule
  if type(s) == "string" then
    schedule.load(s)
  elseif type(s) == "table" then
    s = schedule.check(s) -- a set checked already is taken as it is
  else
    errors.argument(WHERE, "schedule", "must be the path of a schedule file, or its table")
  end
  o.schedule = s
  return o
end

-- One slot's run: the set (read again from its file), a client for it, run_schedule at
-- the slot's start, closed, logged.
local function run(o, ctx)
  local set = type(o.schedule) == "string" and schedule.load(o.schedule) or o.schedule
  -- cloud.new and cloud.fleet return nil, err for what they cannot find (no keys, no region).
  local c, cerr = o.client(set)
  if not c then return nil, cerr end
  local opts = { schedule = set, state_dir = o.state_dir, at = ctx.at }
  for k, v in pairs(o.run or {}) do opts[k] = v end
  local ok, res, err = pcall(c.run_schedule, c, opts)
  c:close()
  if not ok then error(res, 0) end
  if not res then return nil, err end
  log_result(res)
  if o.on_result then o.on_result(res, ctx) end
  return res
end

--- Starts, in this worker, the runs of the schedules every `interval` seconds, once per
-- slot across all workers, never two at once (see `cloud.nginx.every`). Call it from
-- `init_worker_by_lua*`.
-- @tparam table opts
--   `dict`: a `lua_shared_dict` for the slots' marks alone;
--   `key`: the marks' and lock's name (default "schedule"); the lock is `<state_dir>/<key>.nginx.lock`;
--   `interval`: whole seconds between runs (slots start at multiples of it since the epoch);
--   `schedule`: a schedule file's path (read again at each run) or its table;
--   `state_dir`: the engine's state directory, writable by nginx's workers;
--   `client`: `function(set)` returning a client or fleet for the run (or nil, err), closed
--   after it (default `default_client`); `run`: more options of `run_schedule` (`wait_timeout`, ...);
--   `on_result`: `function(res, ctx)`, after each run that returned a result.
-- @treturn boolean true once the worker's timer is started
-- @return[2] nil
-- @treturn[2] Error err when the state directory cannot be made (kind `record`) or nginx
--   would not start the timer
-- @raise an `Error` of kind `argument` for a bad option or a mistake in the schedule
--   (naming the schedule and its field), or outside `init_worker_by_lua*`
function M.start(opts)
  local o = check_opts(opts)
  -- The lock lives in the state directory, which must be there before the first look.
  local made, err = state.prepare(o.state_dir)
  if not made then return nil, err end
  return every.start{ dict = o.dict, key = o.key, interval = o.interval,
                      lock = o.state_dir:gsub("/+$", "") .. "/" .. o.key .. ".nginx.lock",
                      run = function(ctx) return run(o, ctx) end }
end

return M
