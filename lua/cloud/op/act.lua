--- Stopping or starting servers, from the options to the result: `client:stop_ecs{...}`,
-- `client:start_bms{...}`, `cloud.stop_ecs{...}` and the like check their options, choose
-- the servers (cloud.op.selection), run the operation (cloud.op.run) for the action (a table
-- of cloud.op.actions) and return the ledger's result; with `record`, a record of it all.
-- @module cloud.op.act
local actions = require "cloud.op.actions"
local check = require "cloud.base.check"
local core = require "cloud.core"
local defaults = require "cloud.base.defaults".stop
local client_mod = require "cloud.client"
local stop_op = require "cloud.op.run"
local selection = require "cloud.op.selection"
local errors = require "cloud.errors"
local inflight = require "cloud.op.inflight"
local ledger = require "cloud.op.ledger"
local pattern = require "cloud.op.pattern"
local record = require "cloud.record.write"
local servers = require "cloud.op.servers"

local M = {}
local Client = client_mod.Client

-- The options of every action; `type` only where the action has types.
local OPTIONS = {
  ids = true, filter = true, wait = true, poll_interval = true, wait_timeout = true,
  retry_failed = true, on_progress = true, dry_run = true, force = true, max_servers = true,
  exclude = true, confirm = true, record = true, record_source = true, resend_grace = true,
  shutdown_grace = true, servers_per_minute = true,
}
local TYPED_OPTIONS = { type = true }
for k in pairs(OPTIONS) do TYPED_OPTIONS[k] = true end

-- A writer's metatable, to tell a shared writer (cloud.fleet's) from a path.
local function is_writer(v)
  return type(v) == "table" and v.recorder ~= nil and v.write ~= nil
end

local function check_record(where, opts)
  local v = opts.record
  if v == nil or is_writer(v) then return v end
  if type(v) ~= "string" or v == "" then errors.argument(where, "record", "must be a file path") end
  return v
end

-- Checks the ids in one pass and returns the ledger of them (its set, made in C while
-- checking: a million ids are checked in milliseconds, and a refusal raised from there
-- naming `where` and the id); nil for an empty array, which asks for nothing.
local function check_ids(where, ids)
  if type(ids) ~= "table" then errors.argument(where, "ids", "must be an array of server ids") end
  if next(ids) == nil then return nil end
  return ledger.checked(ids, where)
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

local function check_stop(service, opts, action)
  local where = "client:" .. action.name .. "_" .. service
  local types = action.types and action.types[service]
  check.known(where, opts, types and TYPED_OPTIONS or OPTIONS)
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
  local o = {
    action = action,
    record = check_record(where, opts),
    record_source = check.string(where, opts, "record_source"),
    filter = filter,
    filter_opts = opts.filter,
    dry_run = check.boolean(where, opts, "dry_run", false),
    force = check.boolean(where, opts, "force", false),
    max_servers = check.integer(where, opts, "max_servers", nil, 0),
    type = types and check.oneof(where, opts, "type", types[1], types) or nil,
    wait = check.boolean(where, opts, "wait", true),
    poll_interval = check.number(where, opts, "poll_interval", defaults.poll_interval, 0),
    wait_timeout = check.number(where, opts, "wait_timeout", defaults.wait_timeout, 0),
    retry_failed = check.integer(where, opts, "retry_failed", defaults.retry_failed, 0, 10),
    resend_grace = check.number(where, opts, "resend_grace", nil, 0),
    shutdown_grace = check.number(where, opts, "shutdown_grace", defaults.shutdown_grace, 0),
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
-- The time a person takes to answer is not the cloud's: the deadline moves by it.
local function confirmed(o, plan)
  if not o.confirm or o.dry_run or #plan.ids == 0 then return true end
  local selected = plan.selected
  if not selected then
    selected = {}
    for i, id in ipairs(plan.ids) do selected[i] = { id = id } end
  end
  local asked = core.now()
  local yes = o.confirm({ selected = selected, skipped = plan.skipped, requested = plan.requested })
  o.deadline = o.deadline + (core.now() - asked)
  return yes and true or false
end

-- Runs the operation; Ctrl-C (the interpreter raises "interrupted!" from a hook) leaves
-- servers stopped or on their way, so what is known goes with the error: the job ids of
-- stops already accepted are not lost. `join`: the claim of its servers (cloud.op.inflight),
-- released however the operation ends, so that no stop joining it waits in vain.
local function run_op(op, service, o, l, extra, asked, join)
  local sched = op:scheduler(o.deadline, o.servers_per_minute)
  if join then join:follow(sched, math.max(o.poll_interval, 0.05), o.action, o.wait_timeout, o.deadline) end
  local ok, e = pcall(stop_op.run, { sched = sched, ledger = l,
    project_id = op.project_id, service = service, policy = op.policy,
    log = function(line) op:log(line) end, options = o, action = o.action })
  -- Cut short by the process's shutdown (cloud.net.scheduler): the result says so.
  extra.shutdown = sched.shutdown or nil
  if ok then
    if join then join:release() end
    return
  end
  if errors.is_interruption(e) then
    local err = errors.new("cloud.interrupted", ("interrupted; %ss already accepted may still complete")
      :format(o.action.name), nil, nil, "interrupted")
    err.signal = core.caught_signal() -- nil for Ctrl-C
    if join then join:release(err) end
    err.result = l:finish(extra, o.action.done, asked)
    error(err, 0)
  end
  if join then join:release() end
  l:close()
  error(e, 0)
end

-- Claims the servers about to be acted on (inside nginx): those another operation has in
-- flight are joined, reported in `extra.joined`, and left out of `ids`; the record has
-- them skipped (this call did not act on them: a restore of it leaves them to the other's).
-- Returns the ids to send and the claim (nil when nothing is registered).
local function claim(op, service, o, ids, extra, rec)
  local registry, scope = op:inflight(service, o.action)
  if not registry then return ids, nil end
  -- Held past the deadline by what the last calls then may take: the owner's outcomes
  -- still come in that long.
  local join = inflight.claim(registry, scope, ids, o.deadline + op.policy.timeout)
  if #join.joined == 0 then return ids, join end
  extra.joined = join.joined
  if rec then
    local list = {}
    local reason = "joined a " .. o.action.name .. " in flight"
    for i, j in ipairs(join.joined) do list[i] = { id = j.id, reason = reason } end
    rec:skipped(list) -- a record that cannot take it refuses every call after
  end
  return join.own, join
end

-- Why a filter may have chosen nothing when it listed without an enterprise project.
local function eps_hint(op, filter)
  local eps = filter.eps
  if eps == nil then eps = op.enterprise_project_id end
  if eps ~= false then return nil end
  return "listed naming no enterprise project (enterprise_project_id = false, --enterprise-project-id none):"
    .. " a user whose rights come through enterprise projects sees no server so; leave it unset"
    .. " (all_granted_eps) or name one"
end

-- What is known of the state of each server about to be acted on, for the record (id ->
-- status): what the listing showed, what the caller knew (a restore), or else, stopping by
-- id, a lookup. A server whose state is unknown is left out: the record then cannot show
-- that this operation changed it unless its job says so.
local function known_states(op, service, o, plan)
  if o.states then return o.states end
  local states = {}
  if plan.selected and plan.selected[1] and plan.selected[1].status then
    for _, s in ipairs(plan.selected) do states[s.id] = s.status end
    return states
  end
  local sched = op:scheduler(o.deadline)
  servers.lookup(sched, op.project_id, service, plan.ids, function(found, err)
    for id, s in pairs(found) do
      if type(s.status) == "string" then states[id] = s.status end
    end
    if err then op:log("record: the state before the " .. o.action.name .. " of some servers is unknown: "
      .. tostring(err)) end
  end)
  sched:run()
  return states
end

-- The action itself, with options `o` already checked by check_stop, and `rec`, the
-- recorder of this target (or nil). The result is the ledger's: the ledger of the checked
-- ids when the plan kept them all, else one of the plan's ids.
local function act_checked(op, service, o, rec)
  local action = o.action
  local where = "client:" .. action.name .. "_" .. service
  -- wait_timeout bounds the whole call from here: listing, acting and waiting.
  o.deadline = core.now() + o.wait_timeout
  local excluded = o.ids and o.exclude and take_excluded(o) or {}
  -- A restore's servers of the record it will not start, each with why (cloud.record.restore).
  for _, s in ipairs(o.skipped_before or {}) do excluded[#excluded + 1] = s end
  if o.ids and #o.ids == 0 then
    -- Nothing left to ask for (an empty list, or every id excluded): a result, no request.
    if rec then rec:skipped(excluded) end
    return ledger.new({}):finish({ selected = o.dry_run and {} or nil, skipped = excluded, dry_run = o.dry_run },
      action.done, { requested = #excluded, by_ids = true })
  end
  -- Keys (temporary ones fetched now) and the project id (looked up in IAM) before any call.
  local is_ready, not_ready = op:ready()
  if not is_ready then return ended(o, nil, not_ready) end
  local plan, err = selection.plan(op, service, o)
  if not plan then return ended(o, nil, err) end
  for _, s in ipairs(excluded) do plan.skipped[#plan.skipped + 1] = s end
  plan.requested = plan.requested + #excluded
  if o.max_servers and #plan.ids > o.max_servers then
    -- It depends on the cloud's state (what a filter finds), so it is returned, not raised.
    -- The numbers ride along so that a front end (the CLI) can word it with its own names.
    local e = errors.new("cloud.max_servers", ("%s: refusing to %s %d servers, more than"
      .. " max_servers = %d; nothing was sent"):format(where, action.name, #plan.ids, o.max_servers))
    e.count, e.limit = #plan.ids, o.max_servers
    return ended(o, nil, e)
  end
  if rec and not rec:skipped(plan.skipped) then return ended(o, nil, rec.writer.err) end
  local extra = { selected = plan.selected, skipped = plan.skipped, dry_run = o.dry_run }
  local asked = { requested = plan.requested, by_ids = o.ids ~= nil }
  if o.filter and #plan.ids == 0 then extra.hint = pattern.hint(o.name_pattern) or eps_hint(op, o.filter) end
  if not confirmed(o, plan) then
    ended(o)
    extra.cancelled = true
    return ledger.new({}):finish(extra, action.done, asked)
  end
  local ids = plan.check_error and plan.unchecked or plan.ids
  local l
  if plan.check_error then
    l = o.ledger and o.ledger:narrow(ids) or ledger.new(ids)
    if rec then l:record_to(rec) end
    l:fail(ids, plan.check_error)
    extra.error = plan.check_error -- nothing was sent: why, once for the whole call
  elseif o.dry_run or #ids == 0 then
    ended(o)
    l = ledger.new({})
  else
    if rec then rec:states(known_states(op, service, o, plan)) end
    local join
    ids, join = claim(op, service, o, ids, extra, rec)
    l = o.ledger and o.ledger:narrow(ids) or ledger.new(ids)
    if rec then l:record_to(rec) end
    if join then l:observe(function(id, state, failure) join:settled(id, state, failure) end) end
    run_op(op, service, o, l, extra, asked, join)
  end
  return l:finish(extra, action.done, asked)
end

-- The header of a target's record: what runs, where, for whom, chosen how.
local function header_of(op, service, o)
  local h = op:describe(service)
  h.version, h.service = core.version, service
  h.filter = o.filter and record.describe_filter(o.filter_opts) or nil
  if o.ids then h.ids = { count = #o.ids, source = o.record_source or "ids" } end
  if o.from_record then h.from_record = o.from_record end
  h.options = { type = o.type, wait = o.wait, force = o.force, max_servers = o.max_servers, dry_run = o.dry_run,
                exclude = o.exclude and true or nil }
  return h
end

-- The action, recorded when o.record asks: a path (this call's own file) or a writer
-- shared with other targets (cloud.fleet). The record ends with the result, the error, or
-- the partial result of an interruption; a path's file is closed.
local function stop_checked(op, service, o)
  if not op:has_service(service) then
    return ended(o, nil, errors.new("cloud.no_endpoint", "no endpoint for " .. service))
  end
  if not o.record then return act_checked(op, service, o, nil) end
  local writer = o.record
  if not is_writer(writer) then
    local err
    writer, err = record.open(o.record)
    if not writer then return ended(o, nil, err) end
  end
  -- The record names the project in use, found through IAM when none was given: keys and
  -- project come first, so every line says where its servers are.
  local is_ready, not_ready = op:ready()
  local rec = writer:recorder({ region = op.region, project_id = op.project_id }, o.action,
    o.from_record and "record" or (o.filter and "filter" or "ids"))
  local ok, res = rec:header(header_of(op, service, o))
  local rerr
  if not ok then
    ok, res, rerr = true, ended(o, nil, res) -- the record cannot be written: nothing is sent
  elseif not is_ready then
    ok, res, rerr = true, ended(o, nil, not_ready)
  else
    ok, res, rerr = pcall(act_checked, op, service, o, rec)
  end
  if ok then rec:finish(res, rerr)
  elseif errors.kind(res) == "interrupted" then rec:finish(res.result, res)
  elseif errors.is_interruption(res) then
    local err = errors.new("cloud.interrupted", "interrupted before any call was sent", nil, nil, "interrupted")
    err.signal = core.caught_signal()
    rec:finish(nil, err)
  else rec:finish(nil, errors.new("cloud.raised", tostring(res), nil, nil, "cloud")) end
  local closed, cerr = true, writer.err
  if writer ~= o.record then closed, cerr = writer:close() end
  if not ok then error(res, 0) end
  if not closed and (res or not rerr) then
    -- A record that failed: the operation stopped sending when it did. The result of
    -- what was sent goes with the error.
    cerr.result = res
    return nil, cerr
  end
  return res, rerr
end
M.checked = stop_checked

--- Checks the options of an action's call (raises on a mistake). Exposed for
-- cloud.record.restore and cloud.fleet, which check once and run on several clients.
function M.check(service, opts, action)
  return check_stop(service, opts, action)
end

--- client:stop_ecs, client:start_bms and the like (cloud.lua binds them).
-- `action`: a table of cloud.op.actions (stop when nil).
function M.call(client, service, opts, action)
  action = action or actions.stop
  local where = "client:" .. action.name .. "_" .. service
  if getmetatable(client) ~= Client then
    errors.argument(where, nil, "call it with ':' on a client from cloud.new")
  end
  return client:operation(where, function(op)
    return stop_checked(op, service, check_stop(service, opts or {}, action))
  end)
end

local CLIENT_OPTIONS = client_mod.OPTIONS

-- cloud.stop_ecs{...}, cloud.start_bms{...}: a client from the environment and these
-- options, then the action.
function M.one_shot(service, action)
  action = action or actions.stop
  return function(opts)
    if type(opts) ~= "table" then
      errors.argument("cloud." .. action.name .. "_" .. service, nil, "expected an options table")
    end
    local client_opts, stop_opts = {}, {}
    for k, v in pairs(opts) do
      if CLIENT_OPTIONS[k] then client_opts[k] = v else stop_opts[k] = v end
    end
    -- Checked once, before a client is built: argument mistakes raise even without credentials.
    local o = check_stop(service, stop_opts, action)
    local client, err = client_mod.new(client_opts)
    if not client then return ended(o, nil, err) end
    local ok, res, serr = pcall(client.operation, client, "cloud." .. action.name .. "_" .. service, stop_checked,
      service, o)
    client:close()
    if not ok then error(res, 0) end -- as raised: it already names the call and field
    return res, serr
  end
end

return M
