--- Stopping servers, from the options to the result: `client:stop_ecs{...}`,
-- `client:stop_bms{...}` and `cloud.stop_ecs{...}`/`cloud.stop_bms{...}` check their
-- options, choose the servers (cloud.selection), run the operation (cloud.stop_op) and
-- return the ledger's result.
-- @module cloud.stop
local check = require "cloud.check"
local core = require "cloud.core"
local defaults = require "cloud.defaults".stop
local client_mod = require "cloud.client"
local stop_op = require "cloud.stop_op"
local selection = require "cloud.selection"
local errors = require "cloud.errors"
local ledger = require "cloud.ledger"

local M = {}
local Client = client_mod.Client

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
    poll_interval = check.number(where, opts, "poll_interval", defaults.poll_interval, 0),
    wait_timeout = check.number(where, opts, "wait_timeout", defaults.wait_timeout, 0),
    retry_failed = check.integer(where, opts, "retry_failed", defaults.retry_failed, 0, 10),
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
    res = stop_op.run(self, service, ids, o, extra, set)
  end
  res.requested = plan.requested
  -- Stopping by id, a protected server that was skipped was asked for and not stopped.
  if o.ids and #plan.skipped > 0 then res.ok = false end
  return res
end

--- client:stop_ecs and client:stop_bms (cloud/init.lua binds them).
function M.call(self, service, opts)
  if getmetatable(self) ~= Client then
    error("client:stop_" .. service .. ": call it with ':' on a client from cloud.new", 3)
  end
  return stop_checked(self, service, opts, check_stop(service, opts or {}))
end

local CLIENT_OPTIONS = client_mod.OPTIONS

-- cloud.stop_ecs{...}: a client from the environment and these options, then the stop.
function M.one_shot(service)
  return function(opts)
    if type(opts) ~= "table" then error("cloud.stop_" .. service .. ": expected an options table", 2) end
    local client_opts, stop_opts = {}, {}
    for k, v in pairs(opts) do
      if CLIENT_OPTIONS[k] then client_opts[k] = v else stop_opts[k] = v end
    end
    -- Checked once, before a client is built: argument mistakes raise even without credentials.
    local o = check_stop(service, stop_opts)
    local client, err = client_mod.new(client_opts)
    if not client then return nil, err end
    local ok, res, serr = pcall(stop_checked, client, service, stop_opts, o)
    client:close()
    if not ok then error(res, 0) end -- as raised: it already names the call and field
    return res, serr
  end
end

return M
