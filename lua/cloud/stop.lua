--- Stopping servers, from the options to the result: `client:stop_ecs{...}`,
-- `client:stop_bms{...}` and `cloud.stop_ecs{...}`/`cloud.stop_bms{...}` check their
-- options, choose the servers (cloud.selection), run the operation (cloud.stop_op) and
-- return the ledger's result.
-- @module cloud.stop
local check = require "cloud.check"
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

-- Checks the ids in one pass and returns the ledger of them (its set, made in C while
-- checking: a million ids are checked in milliseconds).
local function check_ids(where, ids)
  if type(ids) ~= "table" then errors.argument(where, "ids", "must be an array of server ids") end
  local l, why = ledger.checked(ids)
  if not l then errors.argument(where, nil, why) end
  return l
end

local function check_stop(service, opts)
  local where = "client:stop_" .. service
  check.known(where, opts, STOP_OPTIONS)
  if opts.ids ~= nil and opts.filter ~= nil then
    errors.argument(where, nil, "give either 'ids' or 'filter', not both")
  end
  local filter = opts.filter ~= nil and selection.compile(where, opts.filter) or nil
  local types = service == "ecs" and { "SOFT", "HARD" } or { "HARD" }
  local o = {
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
  if not filter then
    -- Last, once nothing else can raise: the ledger holds C memory until it is closed.
    o.ledger = check_ids(where, opts.ids) -- stopping by id: the ledger of the checked ids
    o.ids = o.ledger:ids()
  end
  return o
end

-- A stop that ends before its operation: the checked ids' ledger goes (its C memory back now).
local function ended(o, ...)
  if o.ledger then o.ledger:close() end
  return ...
end

-- The stop itself, with options `o` already checked by check_stop. The result is the
-- ledger's: the ledger of the checked ids when the plan kept them all, else one of the
-- plan's ids.
local function stop_checked(client, service, o)
  local where = "client:stop_" .. service
  if not client:has_service(service) then
    return ended(o, nil, errors.new("cloud.no_endpoint", "no endpoint for " .. service))
  end
  local plan, err = selection.plan(client, service, o)
  if not plan then return ended(o, nil, err) end
  if o.max_servers and #plan.ids > o.max_servers then
    ended(o)
    errors.argument(where, nil, ("refusing to stop %d servers, more than max_servers = %d; nothing was stopped")
      :format(#plan.ids, o.max_servers))
  end
  local extra = { selected = plan.selected, skipped = plan.skipped }
  local ids = plan.check_error and plan.unchecked or plan.ids
  local l
  if plan.check_error then
    l = o.ledger and o.ledger:narrow(ids) or ledger.new(ids)
    l:fail(ids, plan.check_error)
    extra.error = plan.check_error -- nothing was sent: why, once for the whole call
  elseif o.dry_run or #ids == 0 then
    ended(o)
    l = ledger.new({})
    extra.dry_run = o.dry_run
  else
    l = o.ledger and o.ledger:narrow(ids) or ledger.new(ids)
    stop_op.run{ sched = client:_scheduler(), ledger = l, project_id = client.project_id, service = service,
                 policy = client._policy, log = function(line) client:_log(line) end, options = o }
  end
  local res = l:finish(extra)
  res.requested = plan.requested
  -- Stopping by id, a protected server that was skipped was asked for and not stopped.
  if o.ids and #plan.skipped > 0 then res.ok = false end
  return res
end

--- client:stop_ecs and client:stop_bms (cloud/init.lua binds them).
function M.call(client, service, opts)
  if getmetatable(client) ~= Client then
    errors.argument("client:stop_" .. service, nil, "call it with ':' on a client from cloud.new")
  end
  return client:_exclusive("client:stop_" .. service, function()
    return stop_checked(client, service, check_stop(service, opts or {}))
  end)
end

local CLIENT_OPTIONS = client_mod.OPTIONS

-- cloud.stop_ecs{...}: a client from the environment and these options, then the stop.
function M.one_shot(service)
  return function(opts)
    if type(opts) ~= "table" then errors.argument("cloud.stop_" .. service, nil, "expected an options table") end
    local client_opts, stop_opts = {}, {}
    for k, v in pairs(opts) do
      if CLIENT_OPTIONS[k] then client_opts[k] = v else stop_opts[k] = v end
    end
    -- Checked once, before a client is built: argument mistakes raise even without credentials.
    local o = check_stop(service, stop_opts)
    local client, err = client_mod.new(client_opts)
    if not client then return ended(o, nil, err) end
    local ok, res, serr = pcall(stop_checked, client, service, o)
    client:close()
    if not ok then error(res, 0) end -- as raised: it already names the call and field
    return res, serr
  end
end

return M
