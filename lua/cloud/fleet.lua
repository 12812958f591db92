--- One call across regions and projects: `cloud.fleet{ targets = { { region =, project_id =,
-- endpoints = }, ... }, <client options> }` returns an object with the client's operations
-- (stop_ecs, stop_bms, start_ecs, start_bms, restore, list_ecs, list_bms). Each target gets
-- its own client, so its own scheduler: its concurrency, retries and pacing. All of them
-- share one HTTP engine, whose concurrency (`total_concurrency`) caps the whole fleet, and
-- run at once in one thread (cloud.net.fleet_loop). One target failing (bad credentials, an
-- unknown project) does not stop the others: its entry carries the error.
-- @module cloud.fleet
local actions = require "cloud.op.actions"
local check = require "cloud.base.check"
local client_mod = require "cloud.client"
local errors = require "cloud.errors"
local fleet_loop = require "cloud.net.fleet_loop"
local phase = require "cloud.nginx.phase"
local record = require "cloud.record.write"
local record_read = require "cloud.record.read"
local restore = require "cloud.record.restore"
local servers = require "cloud.op.servers"
local stop = require "cloud.op.act"
local transport = require "cloud.net.transport"

local M = {}
local Fleet = {}
Fleet.__index = Fleet

local WHERE = "cloud.fleet"
-- What a target may set for itself; the rest of the client's options are the fleet's.
local TARGET_OPTIONS = {
  region = true, project_id = true, endpoints = true, ak = true, sk = true, security_token = true,
  profile = true, concurrency = true, retry = true, protect_tag = true, enterprise_project_id = true,
  project_id_check = true,
}
-- The shared engine's: one value for the whole fleet.
local ENGINE_OPTIONS = { "timeout", "connect_timeout", "verify_tls", "ca_file", "proxy", "max_response" }
local KNOWN = { targets = true, total_concurrency = true }
for k in pairs(client_mod.OPTIONS) do KNOWN[k] = true end
local DEFAULT_TOTAL = 64

local function target_where(i) return ("%s targets[%d]"):format(WHERE, i) end

-- The first pair of targets that act on the same servers (the same endpoint, so the same
-- cloud, and the same project, given or to be found from the same keys and region), as
-- i, j, service; nil when there is none. A target named twice would stop everything twice.
local function repeated(self)
  for j, b in ipairs(self.targets) do
    for i = 1, j - 1 do
      local a = self.targets[i]
      for _, service in ipairs({ "ecs", "bms" }) do
        if a.client and b.client then
          local ep_a, project_a = a.client:target_of(service)
          local ep_b, project_b = b.client:target_of(service)
          if ep_a and ep_a == ep_b and project_a and project_a == project_b then return i, j, service end
        end
      end
    end
  end
end

local function repeat_problem(self, i, service)
  local t = self.targets[i]
  return ("names the same target as targets[%d] (%s endpoint %s, project %s): a fleet acts on each target once")
    :format(i, service, (t.client:target_of(service)), t.client.project_id or ("of region " .. tostring(t.region)))
end

--- Builds a fleet. Raises on a malformed option or target; a target that cannot be set up
-- (no credentials for it, no project) is kept with its error, and every operation reports
-- that error for it.
-- @tparam table opts targets (an array of { region, project_id, endpoints, and any of ak, sk,
--   security_token, concurrency, retry, protect_tag, enterprise_project_id }), total_concurrency (the calls in
--   flight across the fleet, 1-1024, default 64), and the client options of cloud.new for
--   every target (timeout, connect_timeout, verify_tls, ca_file, proxy and max_response are
--   the shared engine's).
function M.new(opts)
  check.known(WHERE, opts, KNOWN)
  if type(opts.targets) ~= "table" or #opts.targets == 0 then
    errors.argument(WHERE, "targets", "must be a non-empty array of { region =, project_id =, endpoints = }")
  end
  local total = check.integer(WHERE, opts, "total_concurrency", DEFAULT_TOTAL, 1, 1024)
  for i, t in ipairs(opts.targets) do
    if type(t) ~= "table" then errors.argument(WHERE, ("targets[%d]"):format(i), "must be a table") end
    check.known(target_where(i), t, TARGET_OPTIONS)
  end
  local self = setmetatable({ targets = {} }, Fleet)
  -- Inside nginx each client keeps its own cosocket transport (a blocking engine would
  -- freeze the worker), and the targets run one after another.
  if opts.transport ~= "nginx" and not (opts.transport == nil and phase.in_nginx()) then
    local eo = { concurrency = total, transport = "curl" }
    for _, k in ipairs(ENGINE_OPTIONS) do eo[k] = opts[k] end
    self.engine = transport.new(eo)
    self.loop = fleet_loop.new(self.engine)
  end
  local logger = opts.logger
  for i, t in ipairs(opts.targets) do
    local co = {}
    for k, v in pairs(opts) do
      if k ~= "targets" and k ~= "total_concurrency" then co[k] = v end
    end
    -- A target's own keys or profile replace the fleet's, so one fleet can span accounts.
    if t.profile ~= nil then co.ak, co.sk, co.security_token = nil, nil, nil end
    if t.ak ~= nil or t.sk ~= nil then co.profile = nil end
    for k, v in pairs(t) do co[k] = v end
    if self.loop then co.transport = self.loop:lane() end
    local entry = { region = t.region, project_id = t.project_id }
    if logger then
      co.logger = function(line, level)
        return logger(("[%s %s] %s"):format(tostring(entry.region or "-"), tostring(entry.project_id or "-"), line),
          level)
      end
    end
    local c, err = client_mod.new(co) -- raises on what the caller got wrong
    entry.client, entry.err = c, err
    if c then entry.region, entry.project_id = c.region, c.project_id end
    self.targets[i] = entry
  end
  local i, j, service = repeated(self)
  if i then
    self:close()
    errors.argument(WHERE, ("targets[%d]"):format(j), repeat_problem(self, i, service))
  end
  return self
end

-- Before anything is sent: every target's project known (found through IAM where none
-- was given), and no two targets the same. Returns true, or nil and a refusal.
function Fleet:_distinct(where)
  local unknown = false
  for _, entry in ipairs(self.targets) do unknown = unknown or (entry.client and not entry.client.project_id) end
  if not unknown then return true end
  self:_run(function(entry)
    return function()
      entry.client:ready() -- a target that cannot be set up reports it when it runs
      entry.project_id = entry.client.project_id
    end
  end)
  local i, j, service = repeated(self)
  if not i then return true end
  return nil, errors.new("cloud.fleet_repeat", ("%s: targets[%d] %s; nothing was sent"):format(where, j,
    repeat_problem(self, i, service)), nil, nil, "refused")
end

function Fleet:__tostring()
  return ("cloud.fleet(%d targets)"):format(#self.targets)
end

-- Runs one task per target with a client (`make(entry, i)` returns it, or nil to leave the
-- target out): interleaved on the shared engine, or one after another. Returns the
-- outcome of each target's task by index ({ ok, res, err }).
function Fleet:_run(make)
  local tasks, index = {}, {}
  for i, entry in ipairs(self.targets) do
    if entry.client then
      local task = make(entry, i)
      if task then
        tasks[#tasks + 1] = task
        index[#tasks] = i
      end
    end
  end
  local outcomes
  if self.loop then
    local ok, e = pcall(self.loop.run, self.loop, tasks)
    if not ok then
      if type(e) == "table" and e.interrupted then
        local by = {}
        for k, o in ipairs(e.outcomes) do by[index[k]] = o end
        error({ interrupted = true, outcomes = by }, 0)
      end
      error(e, 0)
    end
    outcomes = ok and e
  else
    outcomes = {}
    for k, task in ipairs(tasks) do
      local ok, res, err = pcall(task)
      outcomes[k] = { ok = ok, res = res, err = err }
    end
  end
  local by = {}
  for k, o in ipairs(outcomes) do by[index[k]] = o end
  return by
end

local function copy_with(t, entry)
  local c = { region = entry.region, project_id = entry.project_id }
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The fleet's result from each target's: targets[i] = { region, project_id, result | err },
-- the lists of every target merged (each entry naming its target), ok only when every
-- target's is. A target's raise other than an interruption is a bug: raised again.
local function merge(self, by, done, dry_run)
  local res = { ok = true, requested = 0, [done] = {}, failed = {}, skipped = {}, jobs = {}, targets = {},
                dry_run = dry_run or nil, selected = dry_run and {} or nil }
  for i, entry in ipairs(self.targets) do
    local t = { region = entry.region, project_id = entry.project_id }
    res.targets[i] = t
    local o = by[i]
    if entry.err then
      t.err = entry.err
    elseif o and not o.ok then
      if errors.kind(o.res) == "interrupted" then
        t.err, t.result = o.res, o.res.result
      elseif errors.is_interruption(o.res) then
        t.err = errors.new("cloud.interrupted", "interrupted before any call was accepted", nil, nil, "interrupted")
      else
        error(o.res, 0)
      end
    elseif o and o.res == nil then
      t.err = o.err
    elseif o then
      t.result = o.res
    end
    local r = t.result
    if t.err then res.ok = false end
    if r then
      res.ok = res.ok and r.ok
      res.requested = res.requested + (r.requested or 0)
      for _, id in ipairs(r[done] or {}) do res[done][#res[done] + 1] = id end
      for _, key in ipairs({ "failed", "skipped", "jobs", "selected" }) do
        for _, x in ipairs(r[key] or {}) do
          if res[key] then res[key][#res[key] + 1] = copy_with(x, entry) end
        end
      end
    end
  end
  return res
end

-- A fleet's progress: the sums over its targets, in the phase of the one furthest behind.
local ORDER = { list = 1, check = 2, submit = 3, wait = 4 }
local function progress_of(cb)
  if not cb then return function() return nil end end
  local last = {}
  return function(i, entry)
    return function(e)
      last[i] = e
      local agg = { done = 0, total = 0, failed = 0, skipped = 0, region = entry.region,
                    project_id = entry.project_id }
      for _, x in pairs(last) do
        agg.done = agg.done + (x.done or 0)
        agg.total = agg.total + (x.total or 0)
        agg.failed = agg.failed + (x.failed or 0)
        agg.skipped = agg.skipped + (x.skipped or 0)
        if not agg.phase or (ORDER[x.phase] or 0) < (ORDER[agg.phase] or 0) then agg.phase = x.phase end
      end
      return cb(agg)
    end
  end
end

-- Opens the fleet's one record file for `path` (nil: none). Returns the writer, or nil,
-- nil when there is none to write, or nil, err.
local function open_record(path, where, field)
  if path == nil then return nil end
  if type(path) ~= "string" or path == "" then errors.argument(where, field, "must be a file path") end
  return record.open(path)
end

-- Writes, for each target that has no client, a line saying why it did nothing.
local function record_unreached(self, writer, action)
  if not writer then return end
  for _, entry in ipairs(self.targets) do
    if entry.err then
      local rec = writer:recorder({ region = entry.region, project_id = entry.project_id }, action, "none")
      rec:finish(nil, entry.err)
    end
  end
end

local function interrupted(self, e, done, writer)
  if writer then writer:close() end
  local err = errors.new("cloud.interrupted", "interrupted; calls already accepted may still complete",
    nil, nil, "interrupted")
  local ok, partial = pcall(merge, self, e.outcomes, done)
  err.result = ok and partial or nil
  error(err, 0)
end

-- stop_* and start_* across the fleet. opts: the client method's, but `ids` is a map from
-- project id to that project's ids (a target with none left out of it gets none), and
-- `record` is one file for the fleet, every line naming its target.
function Fleet:_act(service, action, opts)
  local where = ("fleet:%s_%s"):format(action.name, service)
  if type(opts) ~= "table" then errors.argument(where, nil, "expected an options table") end
  if opts.ids ~= nil then
    if type(opts.ids) ~= "table" then errors.argument(where, "ids", "must map project ids to arrays of server ids") end
    for k in pairs(opts.ids) do
      if type(k) ~= "string" then
        errors.argument(where, "ids", "must map project ids to arrays of server ids (found key " .. tostring(k) .. ")")
      end
    end
  end
  -- Every target's options checked before anything is sent (or a file made).
  local checked, progress = {}, progress_of(opts.on_progress)
  local probe = {}
  for k, v in pairs(opts) do if k ~= "record" then probe[k] = v end end
  if probe.ids then probe.ids = {} end
  stop.check(service, probe, action) -- raises on a mistake, with the fleet's options as given
  local writer, err = open_record(opts.record, where, "record")
  if opts.record and not writer then return nil, err end
  for i, entry in ipairs(self.targets) do
    if entry.client then
      local topts = {}
      for k, v in pairs(opts) do topts[k] = v end
      if opts.ids then topts.ids = opts.ids[entry.project_id] or {} end
      topts.record = writer
      topts.on_progress = opts.on_progress and progress(i, entry) or nil
      checked[i] = stop.check(service, topts, action)
    end
  end
  local distinct, rerr = self:_distinct(where)
  if not distinct then
    if writer then writer:close() end
    return nil, rerr
  end
  record_unreached(self, writer, action)
  local ok, by = pcall(self._run, self, function(entry, i)
    return function() return entry.client:operation(where, stop.checked, service, checked[i]) end
  end)
  if not ok then
    if type(by) == "table" and by.interrupted then interrupted(self, by, action.done, writer) end
    if writer then writer:close() end
    error(by, 0)
  end
  if writer then writer:close() end
  return merge(self, by, action.done, opts.dry_run)
end

function Fleet:stop_ecs(opts) return self:_act("ecs", actions.stop, opts) end
function Fleet:stop_bms(opts) return self:_act("bms", actions.stop, opts) end
function Fleet:start_ecs(opts) return self:_act("ecs", actions.start, opts) end
function Fleet:start_bms(opts) return self:_act("bms", actions.start, opts) end

--- Restores a record across the fleet: each target starts what the record shows this tool
-- stopped in its project (a fleet's record holds every target). `write_record` is one file
-- for the fleet's restore. Targets of the record the fleet does not have are left alone.
function Fleet:restore(opts)
  if type(opts) ~= "table" then errors.argument("fleet:restore", nil, "expected an options table") end
  local path, start_opts = restore.check(opts)
  local probe = {}
  for k, v in pairs(start_opts) do if k ~= "record" then probe[k] = v end end
  probe.ids = {}
  stop.check("ecs", probe, actions.start) -- the start's options, checked once
  local rd, rerr = record_read.read(path)
  if not rd then return nil, rerr end
  local distinct, derr = self:_distinct("fleet:restore")
  if not distinct then return nil, derr end
  local writer, err = open_record(start_opts.record, "fleet:restore", "write_record")
  if start_opts.record and not writer then return nil, err end
  record_unreached(self, writer, actions.start)
  local progress = progress_of(opts.on_progress)
  local ok, by = pcall(self._run, self, function(entry, i)
    local so = {}
    for k, v in pairs(start_opts) do so[k] = v end
    so.record = writer
    so.on_progress = opts.on_progress and progress(i, entry) or nil
    return function() return entry.client:operation("fleet:restore", restore.run, rd, path, so) end
  end)
  if not ok then
    if type(by) == "table" and by.interrupted then interrupted(self, by, actions.start.done, writer) end
    if writer then writer:close() end
    error(by, 0)
  end
  if writer then writer:close() end
  local res = merge(self, by, actions.start.done, opts.dry_run)
  res.record = { path = path, lines = rd.lines, bad_lines = rd.bad_lines, truncated = rd.truncated }
  return res
end

-- A schedule's run (or plan) across the fleet: each target runs the schedules that apply
-- to it (cloud.schedule.engine), the targets at once; one result per schedule, target and
-- service, in target order. A target that could not be set up reports its error in each.
function Fleet:_schedule(where, opts, plan)
  local engine = require "cloud.schedule.engine"
  local o = engine.check(where, opts, plan)
  if not plan then
    local prepared, perr = require("cloud.schedule.state").prepare(o.state_dir)
    if not prepared then return nil, perr end
  end
  local distinct, derr = self:_distinct(where)
  if not distinct then return nil, derr end
  local ok, by = pcall(self._run, self, function(entry)
    return function()
      if plan then return engine.plan_client(entry.client, o) end
      return engine.run_client(entry.client, o)
    end
  end)
  if not ok then
    if type(by) == "table" and by.interrupted then
      error(errors.new("cloud.interrupted", "interrupted; calls already accepted may still complete; the state "
        .. "says so, and the next run resumes", nil, nil, "interrupted"), 0)
    end
    error(by, 0)
  end
  local results = {}
  for i, entry in ipairs(self.targets) do
    local o_ = by[i]
    local list
    if entry.err or (o_ and o_.ok and o_.res == nil) then
      list = engine.failed_results(o, entry.region, entry.project_id, entry.err or o_.err)
    elseif o_ and not o_.ok then
      error(o_.res, 0)
    else
      list = o_ and o_.res or {}
    end
    for _, e in ipairs(list) do results[#results + 1] = e end
  end
  return engine.result(results, o.at)
end

--- Runs schedules across the fleet, as `client:run_schedule` on each target.
function Fleet:run_schedule(opts) return self:_schedule("fleet:run_schedule", opts, false) end
--- What run_schedule would do across the fleet, as `client:plan_schedule` on each target.
function Fleet:plan_schedule(opts) return self:_schedule("fleet:plan_schedule", opts, true) end

-- list_* across the fleet: targets[i].result is that target's array of servers.
function Fleet:_list(service, query)
  local by = self:_run(function(entry)
    return function() return servers.list(entry.client, service, query) end
  end)
  local res = { ok = true, count = 0, targets = {} }
  for i, entry in ipairs(self.targets) do
    local t = { region = entry.region, project_id = entry.project_id }
    local o = by[i]
    if entry.err then t.err = entry.err
    elseif not o.ok then error(o.res, 0)
    elseif o.res == nil then t.err = o.err
    else t.result = o.res end
    if t.err then res.ok = false else res.count = res.count + #t.result end
    res.targets[i] = t
  end
  return res
end

function Fleet:list_ecs(query) return self:_list("ecs", query) end
function Fleet:list_bms(query) return self:_list("bms", query) end

--- Closes every target's client and the shared engine.
function Fleet:close()
  for _, entry in ipairs(self.targets) do
    if entry.client then entry.client:close() end
  end
  if self.engine then self.engine:close() end
  self.engine = nil
end

return M
