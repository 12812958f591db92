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
local select = require "cloud.select"
local errors = require "cloud.errors"
local json = require "cloud.json"
local ledger = require "cloud.result"
local pattern = require "cloud.pattern"
local ready = require "cloud.ready"
local regions = require "cloud.regions"

local M = { VERSION = "0.1.0" }
local Client = client_mod.Client

--- Builds a client. Returns the client, or `nil, err` when nothing can be attempted.
-- @tparam table opts region, project_id, ak, sk, security_token, endpoints, concurrency,
--   timeout, connect_timeout, verify_tls, ca_file, proxy, retry, logger
M.new = client_mod.new

--- The regions where the official SDKs offer a service, sorted (a new table each call).
-- @tparam string service "ecs" or "bms"
-- @treturn {string,...} region names
function M.regions(service)
  if service ~= "ecs" and service ~= "bms" then
    errors.argument("cloud.regions", "service", "must be \"ecs\" or \"bms\"")
  end
  return regions.list(service)
end

--- Encodes a result (or any table of plain values) as JSON, with its array fields written
-- as arrays even when empty (cjson alone writes `{}` for "no failures").
-- @function to_json
-- @tparam table res a result of stop_ecs / stop_bms
-- @treturn string JSON text
M.to_json = json.encode

local STOP_OPTIONS = {
  ids = true, filter = true, type = true, wait = true, poll_interval = true, wait_timeout = true,
  retry_failed = true, on_progress = true, dry_run = true, force = true, max_servers = true,
  exclude = true, confirm = true,
}

-- core.idset's refusal ("option 'ids' ..." or "ids[3] ...") as the option and the problem.
local function ids_problem(why)
  local field, problem = why:match("^option '(ids)' (.*)$")
  if not field then field, problem = why:match("^(ids%[%d+%]) (.*)$") end
  return field or "ids", problem or why
end

-- Checks the ids in one pass and returns their set (core.idset, in C: a million ids are
-- checked in milliseconds); nil for an empty array, which asks for nothing.
local function check_ids(where, ids)
  if type(ids) ~= "table" then errors.argument(where, "ids", "must be an array of server ids") end
  if next(ids) == nil then return nil end
  local set, why = core.idset(ids, true)
  if not set then errors.argument(where, ids_problem(why)) end
  return set
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
  local filter, ids, id_set
  if opts.filter ~= nil then
    filter = select.compile(where, opts.filter)
  else
    id_set = check_ids(where, opts.ids)
    ids = id_set and id_set:ids() or {}
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
    confirm = check.func(where, opts, "confirm"),
    exclude = check_exclude(where, opts.exclude),
  }
end

-- Stopping by id, the ids the caller excluded are reported skipped and never sent (nor
-- looked up). Returns them; o.ids keeps the rest.
local function take_excluded(o)
  local keep, excluded = {}, {}
  for _, id in ipairs(o.ids) do
    if o.exclude[id] then excluded[#excluded + 1] = { id = id, reason = "excluded" }
    else keep[#keep + 1] = id end
  end
  if #excluded > 0 then
    if o.id_set then o.id_set:close() end
    o.ids, o.id_set = keep, nil
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

-- The stop itself, with options `o` already checked by check_stop.
local function stop_checked(self, service, opts, o)
  local where = "client:stop_" .. service
  if not self:has_service(service) then
    return nil, errors.new("cloud.no_endpoint", "no endpoint for " .. service)
  end
  local excluded = o.ids and o.exclude and take_excluded(o) or {}
  if o.ids and #o.ids == 0 then
    -- Nothing left to ask for (an empty list, or every id excluded): a result, no request.
    local res = ledger.new({}):finish({ selected = o.dry_run and {} or nil, skipped = excluded,
                                        dry_run = o.dry_run })
    res.requested = #excluded
    return res
  end
  -- [i16 hook] Keys (temporary ones fetched now) and the project id (IAM) before any call.
  local is_ready, not_ready = ready.ensure(self)
  if not is_ready then
    if o.id_set then o.id_set:close() end
    return nil, not_ready
  end
  local plan, err = select.plan(self, service, opts, o)
  if not plan then
    if o.id_set then o.id_set:close() end
    return nil, err
  end
  for _, s in ipairs(excluded) do plan.skipped[#plan.skipped + 1] = s end
  plan.requested = plan.requested + #excluded
  if o.max_servers and #plan.ids > o.max_servers then
    if o.id_set then o.id_set:close() end
    -- It depends on the cloud's state (what a filter finds), so it is returned, not raised.
    return nil, errors.new("cloud.max_servers", ("%s: refusing to stop %d servers, more than max_servers = %d;"
      .. " nothing was stopped"):format(where, #plan.ids, o.max_servers))
  end
  local extra = { selected = plan.selected, skipped = plan.skipped }
  if o.filter and #plan.ids == 0 then extra.hint = pattern.hint(opts.filter.name) end
  if not confirmed(o, plan) then
    if o.id_set then o.id_set:close() end
    extra.cancelled = true
    local res = ledger.new({}):finish(extra)
    res.ok, res.requested = false, plan.requested
    return res
  end
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
  res.dry_run = o.dry_run
  -- Stopping by id, a protected server that was skipped was asked for and not stopped.
  if o.ids then
    for _, s in ipairs(plan.skipped) do
      if s.reason ~= "excluded" then res.ok = false end
    end
  end
  return res
end

local function run_stop(self, service, opts)
  if getmetatable(self) ~= Client then
    errors.argument("client:stop_" .. service, nil, "call it with ':' on a client from cloud.new")
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
  local is_ready, not_ready = ready.ensure(self) -- [i16 hook] as in stop_checked
  if not is_ready then return nil, not_ready end
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
    if type(opts) ~= "table" then errors.argument("cloud.stop_" .. service, nil, "expected an options table") end
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
