--- Work run every `interval` seconds by one worker of all, never twice for the same slot and
-- never two at once: `require("cloud.nginx").every{...}` (docs/openresty.md, "Schedules
-- inside nginx").
--
-- Time is cut into slots, `floor(now / interval)`. Every worker looks a few times a slot
-- (its own `ngx.timer.every`); the first to look in a slot takes the lock file (an flock,
-- which the kernel drops the moment its worker dies, however it dies) and then the slot's
-- mark in the shared dictionary (`cloud.nginx.once`), and runs the work in its timer's light
-- thread. Another worker, a worker after a reload (the dictionary keeps its marks), or the
-- same worker again finds the mark and does nothing; one that finds the lock held (a run of
-- an earlier slot still going, in any worker of any master) claims nothing and looks again,
-- so a slow run delays the next slot instead of overlapping it.
-- @module cloud.nginx.every
local check = require "cloud.base.check"
local core = require "cloud.core"
local dict = require "cloud.nginx.dict"
local errors = require "cloud.errors"
local nginx = require "cloud.nginx"
local phase = require "cloud.nginx.phase"

local M = {}

local WHERE = "cloud.nginx.every"
local OPTIONS = { dict = true, key = true, interval = true, lock = true, run = true, check = true }
-- Every key kept in the dictionary starts so; any other key means the dictionary is shared,
-- and another writer could evict the marks.
M.PREFIX = "cloud.every:"
-- The keys started in this worker: a second call for one would run its work twice.
local started = {}

local function check_opts(opts)
  if type(opts) ~= "table" then errors.argument(WHERE, nil, "takes one table of options") end
  check.known(WHERE, opts, OPTIONS)
  local o = {
    dict = check.string(WHERE, opts, "dict", true),
    key = check.string(WHERE, opts, "key", true),
    interval = check.integer(WHERE, opts, "interval", nil, 1),
    lock = check.string(WHERE, opts, "lock", true),
    run = check.func(WHERE, opts, "run"),
  }
  if #o.key > 128 or not o.key:match("^[%w_-][%w._-]*$") then
    errors.argument(WHERE, "key", "must be 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'")
  end
  if not o.interval then errors.argument(WHERE, "interval", "is required (whole seconds, at least 1)") end
  if not o.run then errors.argument(WHERE, "run", "is required (the work, a function)") end
  -- A few looks a slot, so that a slot is not missed when a timer fires late.
  o.check = check.number(WHERE, opts, "check", math.min(1, o.interval / 4), 0.05, o.interval)
  return o
end

-- What was raised, as text (a library Error through its __tostring, which holds no secret),
-- with where it was raised.
local function as_text(e)
  local ok, s = pcall(tostring, e)
  return debug.traceback(ok and s or ("(" .. type(e) .. " raised)"), 2)
end

-- The work of one slot, in this timer's light thread; what it raises or returns as an
-- error is logged, never raised into nginx (the next slot runs as usual).
local function run_slot(o, slot)
  local at = slot * o.interval
  local what = ("%s: the run of %s"):format(WHERE, os.date("!%Y-%m-%dT%H:%M:%SZ", at))
  local ok, res, err = xpcall(o.run, as_text, { key = o.key, slot = slot, at = at, interval = o.interval })
  if not ok then
    ngx.log(ngx.ERR, what, " (key ", o.key, ") raised: ", res)
  elseif res == nil and err ~= nil then
    ngx.log(ngx.ERR, what, " (key ", o.key, ") failed: ", tostring(err))
  end
end

-- One look of one worker. `logged` is the last slot whose lock or mark failure was logged,
-- so a broken lock file is said once a slot, not at every look.
local function look(o, shared, state)
  ngx.update_time()
  local slot = math.floor(ngx.now() / o.interval)
  local mark = M.PREFIX .. o.key .. ":" .. slot
  if shared:get(mark) then return end
  local lock, why = core.lock_file(o.lock, ("pid %d\n"):format(ngx.worker.pid()))
  if lock == false then return end -- a run is under way: this slot waits for it
  if not lock then
    if state.logged ~= slot then ngx.log(ngx.ERR, WHERE, " (key ", o.key, "): cannot take the lock: ", why) end
    state.logged = slot
    return
  end
  -- The mark outlives the slot, so a worker whose clock reads the slot late finds it.
  local won, err = nginx.once(o.dict, mark, 2 * o.interval + 60)
  if won then
    run_slot(o, slot)
  elseif won == nil and state.logged ~= slot then
    ngx.log(ngx.ERR, WHERE, " (key ", o.key, "): ", tostring(err))
    state.logged = slot
  end
  lock:release()
end

--- Starts, in this worker, the looks that run `run` once per slot across all workers.
-- Call it from `init_worker_by_lua*`, which every worker runs (again after a reload).
-- @tparam table opts
--   `dict`: a `lua_shared_dict` for these marks alone (one holding other keys is refused);
--   `key`: the work's name (letters, digits, `.`, `_`, `-`): its marks are `cloud.every:<key>:<slot>`;
--   `interval`: whole seconds of a slot (at least 1); slots start at multiples of it since the epoch;
--   `lock`: the path of a lock file, in a directory the workers may write: held while a run goes on;
--   `run`: `function(ctx)`, the work, with `ctx.at` (the slot's start, epoch seconds), `ctx.slot`,
--   `ctx.key`, `ctx.interval`; what it raises, or an error it returns as `nil, err`, is logged;
--   `check`: seconds between a worker's looks (default the smaller of 1 and interval / 4).
-- @treturn boolean true once the worker's timer is started
-- @return[2] nil
-- @treturn[2] Error err when nginx would not start the timer (code `cloud.timer`, kind `config`)
-- @raise an `Error` of kind `argument` for a bad option, a shared dictionary, a key started
--   twice in one worker, or a call from anywhere but `init_worker_by_lua*`
function M.start(opts)
  local o = check_opts(opts)
  if not phase.in_nginx() then errors.argument(WHERE, nil, "needs nginx (there is no ngx API here)") end
  local shared = dict.own(WHERE, o.dict, M.PREFIX, "the schedules")
  if ngx.get_phase() ~= "init_worker" then
    errors.argument(WHERE, nil, "must be called from init_worker_by_lua* (each worker starts its looks once)")
  end
  if started[o.key] then errors.argument(WHERE, "key", ("%q is started already in this worker"):format(o.key)) end
  local state = {}
  local ok, err = ngx.timer.every(o.check, function(premature)
    if premature or ngx.worker.exiting() then return end
    look(o, shared, state)
  end)
  if not ok then
    return nil, errors.new("cloud.timer", ("%s (key %s): nginx would not start its timer: %s"):format(WHERE,
      o.key, tostring(err)), nil, nil, "config")
  end
  started[o.key] = true
  return true
end

return M
