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
local pattern = require "cloud.pattern"

local M = {}
local Client = client_mod.Client

local STOP_OPTIONS = {
  ids = true, filter = true, type = true, wait = true, poll_interval = true, wait_timeout = true,
  retry_failed = true, on_progress = true, dry_run = true, force = true, max_servers = true,
  exclude = true, confirm = true, servers_per_minute = true,
}

-- core.idset's refusal ("option 'ids' ..." or "ids[3] ...") as the option and the problem.
local function ids_problem(why)
  local field, problem = why:match("^option '(ids)' (.*)$")
  if not field then field, problem = why:match("^(ids%[%d+%]) (.*)$") end
  return field or "ids", problem or why
end

-- Checks the ids in one pass and returns the ledger of them (its set, made in C while
-- checking: a million ids are checked in milliseconds); nil for an empty array, which
-- asks for nothing.
local function check_ids(where, ids)
  if type(ids) ~= "table" then errors.argument(where, "ids", "must be an array of server ids") end
  if next(ids) == nil then return nil end
  local l, why = ledger.checked(ids)
  if not l then errors.argument(where, ids_problem(why)) end
  return l
end

local function check_exclude(where, list)
  if list == nil then return nil end
  if type(list) ~= "table" then errors.argument(where, "exclude", "must be an array of server ids") end
  local set = {}
  for i, id in ipairs(list) do
    if type(id) ~= "string" then errors.argument(where, ("exclude[%d]"):format(i), "is not a string") end
    set[id] = true
  end
  return set
end

local function check_stop(service, opts)
  local where = "client:stop_" .. service
  check.known(where, opts, STOP_OPTIONS)
  if opts.ids ~= nil and opts.filter ~= nil then
    errors.argument(where, nil, "give either 'ids' or 'filter', not both")
  end
  if opts.ids == nil and opts.filter == nil then
    errors.argument(where, nil, "give 'ids' (an array of server ids) or 'filter' (a table)")
  end
  if opts.exclude ~= nil and opts.filter ~= nil then
    errors.argument(where, "exclude", "goes with 'ids'; a filter takes 'filter.exclude'")
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
    servers_per_minute = check.number(where, opts, "servers_per_minute", nil, 1),
    on_progress = check.func(where, opts, "on_progress"),
    confirm = check.func(where, opts, "confirm"),
    exclude = check_exclude(where, opts.exclude),
    name_pattern = filter and opts.filter.name,
  }
  if not filter then
    -- Last, once nothing else can raise: the ledger holds C memory until it is closed.
    o.ledger = check_ids(where, opts.ids) -- stopping by id: the ledger of the checked ids
    o.ids = o.ledger and o.ledger:ids() or {}
  end
  return o
end

-- A stop that ends before its operation: the checked ids' ledger goes (its C memory back now).
local function ended(o, ...)
  if o.ledger then o.ledger:close() end
  return ...
end

-- Stopping by id, the ids the caller excluded are reported skipped and never sent (nor
-- looked up). Returns them; o.ids and o.ledger keep the rest.
local function take_excluded(o)
  local keep, excluded = {}, {}
  for _, id in ipairs(o.ids) do
    if o.exclude[id] then excluded[#excluded + 1] = { id = id, reason = "excluded" }
    else keep[#keep + 1] = id end
  end
  if #excluded > 0 then
    o.ledger:close()
    o.ids, o.ledger = keep, nil
  end
  return excluded
end

-- The caller's confirm(plan) decides between choosing and sending; false sends nothing.
local function confirmed(o, plan)
  if not o.confirm or o.dry_run or #plan.ids == 0 then return true end
  local selected = plan.selected
  if not selected then
    selected = {}
    for i, id in ipairs(plan.ids) do selected[i] = { id = id } end
  end
  return o.confirm({ selected = selected, skipped = plan.skipped, requested = plan.requested }) and true or false
end

-- Runs the operation; Ctrl-C (the interpreter raises "interrupted!" from a hook) leaves
-- servers stopped or on their way, so what is known goes with the error: the job ids of
-- stops already accepted are not lost.
local function run_op(client, service, o, l, extra)
  local ok, e = pcall(stop_op.run, { sched = client:_scheduler(o.servers_per_minute), ledger = l,
    project_id = client.project_id, service = service, action = "stop", policy = client._policy,
    log = function(line) client:_log(line) end, options = o })
  if ok then return end
  if type(e) == "string" and e:find("interrupted!$") then
    local err = errors.new("cloud.interrupted", "interrupted; stops already accepted may still complete",
      nil, nil, "interrupted")
    err.result = l:finish(extra)
    error(err, 0)
  end
  l:close()
  error(e, 0)
end

-- The stop itself, with options `o` already checked by check_stop. The result is the
-- ledger's: the ledger of the checked ids when the plan kept them all, else one of the
-- plan's ids.
local function stop_checked(client, service, o)
  local where = "client:stop_" .. service
  if not client:has_service(service) then
    return ended(o, nil, errors.new("cloud.no_endpoint", "no endpoint for " .. service))
  end
  local excluded = o.ids and o.exclude and take_excluded(o) or {}
  if o.ids and #o.ids == 0 then
    -- Nothing left to ask for (an empty list, or every id excluded): a result, no request.
    local res = ledger.new({}):finish({ selected = o.dry_run and {} or nil, skipped = excluded,
                                        dry_run = o.dry_run })
    res.requested = #excluded
    return res
  end
  local plan, err = selection.plan(client, service, o)
  if not plan then return ended(o, nil, err) end
  for _, s in ipairs(excluded) do plan.skipped[#plan.skipped + 1] = s end
  plan.requested = plan.requested + #excluded
  if o.max_servers and #plan.ids > o.max_servers then
    -- It depends on the cloud's state (what a filter finds), so it is returned, not raised.
    return ended(o, nil, errors.new("cloud.max_servers", ("%s: refusing to stop %d servers, more than"
      .. " max_servers = %d; nothing was stopped"):format(where, #plan.ids, o.max_servers)))
  end
  local extra = { selected = plan.selected, skipped = plan.skipped, dry_run = o.dry_run }
  if o.filter and #plan.ids == 0 then extra.hint = pattern.hint(o.name_pattern) end
  if not confirmed(o, plan) then
    ended(o)
    extra.cancelled = true
    local res = ledger.new({}):finish(extra)
    res.ok, res.requested = false, plan.requested
    return res
  end
  local ids = plan.check_error and plan.unchecked or plan.ids
  local l
  if plan.check_error then
    l = o.ledger and o.ledger:narrow(ids) or ledger.new(ids)
    l:fail(ids, plan.check_error)
    extra.error = plan.check_error -- nothing was sent: why, once for the whole call
  elseif o.dry_run or #ids == 0 then
    ended(o)
    l = ledger.new({})
  else
    l = o.ledger and o.ledger:narrow(ids) or ledger.new(ids)
    run_op(client, service, o, l, extra)
  end
  local res = l:finish(extra)
  res.requested = plan.requested
  -- Stopping by id, a protected server that was skipped was asked for and not stopped.
  if o.ids then
    for _, s in ipairs(plan.skipped) do
      if s.reason ~= "excluded" then res.ok = false end
    end
  end
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
