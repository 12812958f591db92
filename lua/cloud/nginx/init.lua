--- Helpers for running stops from nginx (OpenResty, lua-nginx-module). The client itself
-- needs nothing from here: inside nginx it talks through cosockets on its own
-- (docs/openresty.md).
-- @module cloud.nginx
local errors = require "cloud.errors"
local phase = require "cloud.nginx.phase"

local M = {}

local WHERE = "cloud.nginx.once"

--- Runs a stop once across the workers of nginx, through reloads, binary upgrades and dead
-- workers, and resumes it from its record when its worker died: see `cloud.nginx.job`.
-- @tparam table opts dict, key, dir, ttl, client, service, stop
-- @usage local state, result = require("cloud.nginx").job{ dict = "cloud_jobs", key = "boot-stop",
--   dir = "/var/lib/nginx/cloud-jobs", ttl = 86400, client = c, service = "ecs",
--   stop = { filter = { name = "^ci%-" } } }
function M.job(opts)
  return require("cloud.nginx.job").run(opts)
end

--- Runs work every `interval` seconds in one worker of all, once per slot of time, never
-- two runs at once, through reloads: see `cloud.nginx.every`. Call it from
-- `init_worker_by_lua*`.
-- @tparam table opts dict, key, interval, lock, run [, check]
-- @usage require("cloud.nginx").every{ dict = "cloud_every", key = "schedule", interval = 300,
--   lock = "/var/lib/cloud-schedule/nginx.lock", run = function(ctx) ... end }
function M.every(opts)
  return require("cloud.nginx.every").start(opts)
end

--- Runs schedules (`client:run_schedule`) every `interval` seconds in one worker of all,
-- and logs what they did: see `cloud.nginx.schedule`. Call it from `init_worker_by_lua*`.
-- @tparam table opts dict, interval, schedule, state_dir [, key, client, run, on_result]
-- @usage require("cloud.nginx").schedule{ dict = "cloud_every", interval = 300,
--   schedule = "/etc/cloud/schedule.json", state_dir = "/var/lib/cloud-schedule" }
function M.schedule(opts)
  return require("cloud.nginx.schedule").start(opts)
end

--- True for exactly one caller across all the workers of an nginx within `ttl` seconds,
-- false for every other (and nil, err when the dictionary could not record it, e.g. out of
-- memory: falsy too, so nothing runs twice). Every worker runs `init_worker_by_lua*`, so a
-- stop started there runs once per worker without this.
--
-- The mark lives in the `lua_shared_dict` named `dict`: it survives a reload (`nginx -s
-- reload`, HUP) when the dictionary keeps its name and size, so new workers do not start
-- the work again within `ttl`; a restart (stop and start, or a changed size) empties it,
-- and so does a binary upgrade (USR2), and another writer of the dictionary can evict
-- the mark: work that must never run twice belongs in `job`, whose state is on disk.
-- @tparam string dict the name of a `lua_shared_dict` from nginx.conf
-- @tparam string key what is done once (e.g. "nightly-stop:" .. os.date("%Y-%m-%d"))
-- @tparam number ttl seconds the mark is kept (> 0)
-- @treturn boolean true for the one caller that runs the work, false for the others
-- @return[2] nil
-- @treturn[2] Error err when the dictionary could not record the mark (code
--   `cloud.shared_dict`, kind `config`)
-- @raise an `Error` of kind `argument` when `dict` names no `lua_shared_dict`, `key` is not
--   a non-empty string, `ttl` is not a positive finite number, or outside nginx
-- @usage if require("cloud.nginx").once("cloud", "boot-stop", 3600) then ... end
function M.once(dict, key, ttl)
  if type(dict) ~= "string" or dict == "" then errors.argument(WHERE, "dict", "must be a string") end
  if type(key) ~= "string" or key == "" then errors.argument(WHERE, "key", "must be a non-empty string") end
  if type(ttl) ~= "number" or ttl ~= ttl or ttl <= 0 or ttl == math.huge then
    errors.argument(WHERE, "ttl", "must be a positive number of seconds")
  end
  if not phase.in_nginx() then errors.argument(WHERE, nil, "needs nginx (there is no ngx API here)") end
  local shared = ngx.shared[dict]
  if not shared then
    errors.argument(WHERE, "dict", ("names no lua_shared_dict: add 'lua_shared_dict %s 1m;' to the http block "
      .. "of nginx.conf"):format(dict))
  end
  -- safe_add() stores only when the key is absent, atomically across workers, and never
  -- evicts another entry to make room: a full dictionary is an error, not a lost mark.
  local ok, err = shared:safe_add(key, true, ttl)
  if ok then return true end
  if err == "exists" then return false end
  return nil, errors.new("cloud.shared_dict", ("lua_shared_dict %s: cannot record %s: %s"):format(dict,
    errors.quote_bounded(key, 64), err),
    nil, nil, "config")
end

return M
