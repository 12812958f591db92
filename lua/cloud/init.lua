--- cloud: stop Huawei Cloud ECS and BMS servers in batches.
-- `cloud.new{...}` builds a client; `client:stop_ecs{...}` and `client:stop_bms{...}` stop
-- servers and report every server's outcome. See README.md for the options.
-- @module cloud
local check = require "cloud.check"
local core = require "cloud.core"
local client_mod = require "cloud.client"
local stop = require "cloud.stop"
local servers = require "cloud.servers"
local scheduler = require "cloud.scheduler"
local selection = require "cloud.selection"
local errors = require "cloud.errors"
local ledger = require "cloud.ledger"

local M = { VERSION = "0.1.0" }
local Client = client_mod.Client

--- Builds a client. Returns the client, or `nil, err` when nothing can be attempted.
-- @tparam table opts region, project_id, ak, sk, security_token, endpoints, concurrency,
--   timeout, connect_timeout, verify_tls, ca_file, proxy, retry, logger
M.new = client_mod.new

local STOP_OPTIONS = {
  ids = true, filter = true, type = true, wait = true, poll_interval = true, wait_timeout = true,
  retry_failed = true, on_progress = true, dry_run = true, force = true, max_servers = true,
}

-- Checks the ids in one pass and returns their set (core.idset, in C: a million ids are
-- checked in milliseconds).
local function check_ids(where, ids)
  if type(ids) ~= "table" then error(where .. ": option 'ids' must be an array of server ids", 3) end
  local set, why = core.idset(ids, true)
  if not set then error(where .. ": " .. why, 3) end
  return set
end

local function check_stop(service, opts)
  local where = "client:stop_" .. service
  check.known(where, opts, STOP_OPTIONS)
  if opts.ids ~= nil and opts.filter ~= nil then
    error(where .. ": give either 'ids' or 'filter', not both", 3)
  end
  local filter, ids, id_set
  if opts.filter ~= nil then
    filter = selection.compile(where, opts.filter)
  else
    id_set = check_ids(where, opts.ids)
    ids = id_set:ids()
  end
  local types = service == "ecs" and { "SOFT", "HARD" } or { "HARD" }
  return {
    ids = ids, id_set = id_set,
    filter = filter,
    dry_run = check.boolean(where, opts, "dry_run", false),
    force = check.boolean(where, opts, "force", false),
    max_servers = check.integer(where, opts, "max_servers", nil, 0),
    type = check.oneof(where, opts, "type", types[1], types),
    wait = check.boolean(where, opts, "wait", true),
    poll_interval = check.number(where, opts, "poll_interval", 5, 0),
    wait_timeout = check.number(where, opts, "wait_timeout", 600, 0),
    retry_failed = check.integer(where, opts, "retry_failed", 1, 0, 10),
    on_progress = check.func(where, opts, "on_progress"),
  }
end

-- The stop itself, with options `o` already checked by check_stop.
local function stop_checked(self, service, opts, o)
  local where = "client:stop_" .. service
  if not self:has_service(service) then
    return nil, errors.new("cloud.no_endpoint", "no endpoint for " .. service)
  end
  local plan, err = selection.plan(self, service, opts, o)
  if not plan then return nil, err end
  if o.max_servers and #plan.ids > o.max_servers then
    error(("%s: refusing to stop %d servers, more than max_servers = %d; nothing was stopped")
      :format(where, #plan.ids, o.max_servers), 3)
  end
  local extra = { selected = plan.selected, skipped = plan.skipped }
  local ids = plan.check_error and plan.unchecked or plan.ids
  -- The checked id set serves as the ledger's when the plan kept every id (the ledger
  -- closes it when done); otherwise its C memory goes back now.
  local set = ids == o.ids and o.id_set or nil
  if o.id_set and not set then o.id_set:close() end
  local res
  if plan.check_error then
    local l = ledger.new(ids, set)
    l:failed_all(ids, plan.check_error)
    res = l:finish(extra)
    res.error = plan.check_error -- nothing was sent: why, once for the whole call
  elseif o.dry_run or #ids == 0 then
    if set then set:close() end
    extra.dry_run = o.dry_run
    res = ledger.new({}):finish(extra)
  else
    res = stop.run(self, service, ids, o, extra, set)
  end
  res.requested = plan.requested
  -- Stopping by id, a protected server that was skipped was asked for and not stopped.
  if o.ids and #plan.skipped > 0 then res.ok = false end
  return res
end

local function run_stop(self, service, opts)
  if getmetatable(self) ~= Client then
    error("client:stop_" .. service .. ": call it with ':' on a client from cloud.new", 3)
  end
  return stop_checked(self, service, opts, check_stop(service, opts or {}))
end

--- Stops ECS servers. Returns the result table (see README), or `nil, err`.
-- @tparam table opts ids, type ("SOFT" default, or "HARD"), wait, poll_interval, wait_timeout,
--   retry_failed, on_progress
function Client:stop_ecs(opts)
  return run_stop(self, "ecs", opts)
end

--- Stops bare-metal servers (always HARD). Same options and result as stop_ecs.
function Client:stop_bms(opts)
  return run_stop(self, "bms", opts)
end

local function run_list(self, service, query)
  local sched = scheduler.new(self)
  local out, err
  servers.fetch(sched, self, service, query or {}, function(list, e) out, err = list, e end)
  sched:run()
  return out, err
end

--- All ECS servers matching the cloud-side query (status, name, flavor, tags, ...), every
-- page read. Returns an array of server tables, or `nil, err`.
function Client:list_ecs(query)
  return run_list(self, "ecs", query)
end

--- All bare-metal servers matching the query; as list_ecs.
function Client:list_bms(query)
  return run_list(self, "bms", query)
end

local CLIENT_OPTIONS = client_mod.OPTIONS

-- cloud.stop_ecs{...}: a client from the environment and these options, then the stop.
local function one_shot(service)
  return function(opts)
    if type(opts) ~= "table" then error("cloud.stop_" .. service .. ": expected an options table", 2) end
    local client_opts, stop_opts = {}, {}
    for k, v in pairs(opts) do
      if CLIENT_OPTIONS[k] then client_opts[k] = v else stop_opts[k] = v end
    end
    -- Checked once, before a client is built: argument mistakes raise even without credentials.
    local o = check_stop(service, stop_opts)
    local client, err = M.new(client_opts)
    if not client then return nil, err end
    local ok, res, serr = pcall(stop_checked, client, service, stop_opts, o)
    client:close()
    if not ok then error(res, 0) end -- as raised: it already names the call and field
    return res, serr
  end
end

--- Stops ECS servers with a client built from opts, the environment and the credentials file.
M.stop_ecs = one_shot("ecs")
--- Stops bare-metal servers likewise.
M.stop_bms = one_shot("bms")

return M
