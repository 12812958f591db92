--- The reconciling engine of schedules: at time `at`, for each schedule, target and service
-- (a unit), compares the state the schedule wants (cloud.schedule.state_at) with the one the
-- engine last acted on (cloud.schedule.state) and acts on a change. Entering "stopped"
-- stops the tagged running servers, with a record under <state_dir>/records; entering
-- "running" restores exactly what those records show the engine stopped, so a server a
-- person stopped by hand stays stopped. A unit whose state says the same, with nothing
-- left unfinished, sends nothing. The state is written before the action (acting, the new
-- record named) and after it, so a crash in between is resumed by the next run.
-- @module cloud.schedule.engine
local check = require "cloud.base.check"
local errors = require "cloud.errors"
local filter = require "cloud.filter"
local record_write = require "cloud.record.write"
local schedule = require "cloud.schedule"
local state = require "cloud.schedule.state"

local M = {}

-- The stop's and restore's options the engine passes on.
local PASSED = { wait_timeout = true, poll_interval = true, on_progress = true, servers_per_minute = true }
local RUN_OPTIONS = { schedule = true, state_dir = true, at = true, on_unit = true }
for k in pairs(PASSED) do RUN_OPTIONS[k] = true end
local PLAN_OPTIONS = { schedule = true, state_dir = true, at = true }

--- The checked set of `v`: a schedule file's path (loaded), a table as the file holds
-- (checked), or a set cloud.schedule already checked (its `names` says so: a file has none).
function M.set_of(where, v)
  if type(v) == "string" then return schedule.load(v) end
  if type(v) == "table" then
    if type(v.names) == "table" and type(v.schedules) == "table" then return v end
    return schedule.check(v)
  end
  errors.argument(where, "schedule", "must be the path of a schedule file, or its table")
end

--- The options of run_schedule (`plan`: of plan_schedule), checked; raises on a mistake.
function M.check(where, opts, plan)
  if type(opts) ~= "table" then errors.argument(where, nil, "expected an options table") end
  check.known(where, opts, plan and PLAN_OPTIONS or RUN_OPTIONS)
  local o = { set = M.set_of(where, opts.schedule) }
  o.state_dir = check.string(where, opts, "state_dir", not plan)
  if o.state_dir == "" then errors.argument(where, "state_dir", "must be a directory path") end
  o.at = check.number(where, opts, "at", nil, 0)
  o.at = o.at or os.time()
  check.func(where, opts, "on_unit")
  o.on_unit = opts.on_unit
  o.passed = {}
  for k in pairs(PASSED) do o.passed[k] = opts[k] end
  return o
end

--- Whether a schedule acts on the target (`region`, `project_id`): its targets (or the
-- file's) name it, or none are named.
function M.applies(set, sched, region, project_id)
  local targets = sched.targets or set.targets
  if not targets then return true end
  for _, t in ipairs(targets) do
    if (t.region == nil or t.region == region) and (t.project_id == nil or t.project_id == project_id) then
      return true
    end
  end
  return false
end

-- A record's path as the state keeps it (relative to the state directory, which may move),
-- and as a file name.
local function rel_record(stem, at, kind, n)
  return ("records/%s.%s.%s%s.jsonl"):format(stem, os.date("!%Y%m%dT%H%M%SZ", math.floor(at)), kind,
    n > 1 and ("-" .. n) or "")
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- A new record's relative path for the unit: the first name no file has.
local function new_record(o, stem, kind)
  for n = 1, 1000 do
    local rel = rel_record(stem, o.at, kind, n)
    if not exists(o.state_dir .. "/" .. rel) then return rel end
  end
  return rel_record(stem, o.at, kind, 1) -- the stop then refuses it: cloud.record_exists
end

local function with(t, k, v)
  local c = {}
  for kk, vv in pairs(t) do c[kk] = vv end
  c[k] = v
  return c
end

-- Whether a stop's result shows nothing that could need starting again: nothing stopped,
-- and no failure whose server may have stopped all the same.
local function stopped_nothing(res)
  if #(res.stopped or {}) > 0 then return false end
  for _, f in ipairs(res.failed or {}) do
    if record_write.DOUBT[f.code] then return false end
  end
  return true
end

-- The stop of a unit: the tagged running servers, but those its override keeps running;
-- protected ones are the stop's own to skip. Returns the entry filled in.
local function do_stop(client, o, u, prev, e)
  local set, sched = o.set, u.sched
  local rel = new_record(o, u.stem, "stop")
  local records = {}
  for _, r in ipairs(prev and prev.records or {}) do records[#records + 1] = r end
  records[#records + 1] = rel
  local ok, werr = state.write(u.path, { wanted = "stopped", acting = true, at = o.at, records = records })
  if not ok then e.ok, e.error = false, werr return e end
  local path = o.state_dir .. "/" .. rel
  local opts = { filter = { tags = { [set.tag] = sched.name },
                            where = function(s) return not filter.has_tag(s, set.override_tag, "running") end },
                 record = path, max_servers = sched.max_servers }
  for k, v in pairs(o.passed) do opts[k] = v end
  local res, err = client["stop_" .. u.service](client, opts)
  e.result, e.record = res or (err and err.result), path
  -- Refused (max_servers) or failed before any call: err carries no result.
  local unsent = not res and not (err and err.result)
  if (res and stopped_nothing(res)) or unsent then
    -- Nothing to start again from it: the record is dropped from the state, and its file
    -- too when the stop chose no server or sent nothing (the result says why), else an
    -- enforced schedule, or one retrying a refusal, would leave one every run.
    records[#records] = nil
    if unsent or res.requested == 0 then os.remove(path) e.record = nil end
  end
  local done = res ~= nil and res.ok
  e.ok, e.error = done, err
  -- Not done: still acting, so the next run stops what is left.
  ok, werr = state.write(u.path, { wanted = "stopped", acting = not done, at = o.at, records = records })
  if not ok then e.ok, e.error = false, e.error or werr end
  return e
end

-- The ids of the service's servers tagged `<override_tag>=stopped`: a restore leaves them off.
local function kept_off(client, set, service)
  local list, err = client["list_" .. service](client, { tags = set.override_tag .. "=stopped" })
  if not list then return nil, err end
  local ids = {}
  for _, s in ipairs(list) do
    if filter.has_tag(s, set.override_tag, "stopped") then ids[#ids + 1] = s.id end
  end
  return ids
end

local function merge(into, res)
  if not into then return res end
  into.ok = into.ok and res.ok
  into.requested = (into.requested or 0) + (res.requested or 0)
  for _, key in ipairs({ "started", "failed", "skipped", "jobs" }) do
    into[key] = into[key] or {}
    for _, x in ipairs(res[key] or {}) do into[key][#into[key] + 1] = x end
  end
  return into
end

local function has_excluded(res)
  for _, s in ipairs(res.skipped or {}) do
    if s.reason == "excluded" then return true end
  end
  return false
end

-- The start of a unit: each record the state keeps restored, but servers whose override
-- keeps them off. A record stays in the state while a server of it is still to start.
local function do_start(client, o, u, prev, e)
  local records = prev and prev.records or {}
  if #records == 0 then
    local ok, werr = state.write(u.path, { wanted = "running", acting = false, at = o.at, records = {} })
    if not ok then e.ok, e.error = false, werr end
    return e
  end
  e.action = "start"
  local ok, werr = state.write(u.path, { wanted = "running", acting = true, at = o.at, records = records })
  if not ok then e.ok, e.error = false, werr return e end
  local exclude, lerr = kept_off(client, o.set, u.service)
  if not exclude then e.ok, e.error = false, lerr return e end
  local kept, all_ok, combined = {}, true, nil
  for _, rel in ipairs(records) do
    local path = o.state_dir .. "/" .. rel
    if exists(path) then
      local opts = { record = path, exclude = #exclude > 0 and exclude or nil, max_servers = u.sched.max_servers }
      for k, v in pairs(o.passed) do opts[k] = v end
      local res, err = client:restore(opts)
      if res then
        combined = merge(combined, res)
        if not res.ok or has_excluded(res) then kept[#kept + 1] = rel end
        all_ok = all_ok and res.ok
      elseif err.code ~= "cloud.record_target" then
        -- cloud.record_target: the record has no servers of this target, so nothing of it to start.
        kept[#kept + 1] = rel
        all_ok = false
        e.error = e.error or err
      end
    end
  end
  e.result, e.ok = combined, all_ok
  ok, werr = state.write(u.path, { wanted = "running", acting = not all_ok, at = o.at, records = kept })
  if not ok then e.ok, e.error = false, e.error or werr end
  return e
end

-- A unit's result entry, before any action.
local function entry_of(u)
  return { schedule = u.sched.name, target = { region = u.region, project_id = u.project_id }, service = u.service,
           wanted = u.st.wanted, action = "none", ok = true, state_file = u.path, local_time = u.st.local_time,
           next_change = u.st.next_change }
end

-- A unit's result entry before any action, its state (false: none yet), and whether the
-- run must act on it; nil state and the entry failed when the state cannot be read.
local function decide(u)
  local e = entry_of(u)
  local prev, rerr = state.read(u.path)
  if prev == nil then e.ok, e.error = false, rerr return e, nil, false end
  e.previous = prev and prev.wanted or nil
  e.resumed = prev and prev.acting or nil
  local must = not prev or prev.acting or prev.wanted ~= u.st.wanted or u.sched.enforce
  return e, prev, must
end

-- One unit, under its lock: reads its state and acts when it must.
local function unit(client, o, u)
  local e, prev, must = decide(u)
  if not must then return e end
  if o.on_unit then pcall(o.on_unit, with(e, "action", u.st.wanted == "stopped" and "stop" or "start")) end
  if u.st.wanted == "stopped" then
    e.action = "stop"
    return do_stop(client, o, u, prev, e)
  end
  return do_start(client, o, u, prev, e)
end

-- The units of a target (`region`, `project_id`), in the set's name order, each service
-- of a schedule that applies to it.
local function units_of(o, region, project_id)
  local out = {}
  for _, name in ipairs(o.set.names) do
    local sched = o.set.schedules[name]
    if M.applies(o.set, sched, region, project_id) then
      local st = schedule.state_at(sched, o.at)
      for _, service in ipairs(sched.services or { "ecs" }) do
        local stem = state.stem(name, region, project_id, service)
        out[#out + 1] = { sched = sched, st = st, service = service, stem = stem, region = region,
                          project_id = project_id,
                          path = o.state_dir and (o.state_dir .. "/" .. stem .. ".json") or nil }
      end
    end
  end
  return out
end

-- Where the client's project is to be found through IAM (keys, region, IAM's URL), as a
-- fingerprint; nil when the project was given (or the keys are not known yet).
local function lookup_fingerprint(client)
  if client.project_id then return nil end
  local endpoint, where = client:target_of("ecs")
  if not where then return nil end
  return state.fingerprint(tostring(endpoint) .. "\0" .. where)
end

-- The results of a run that needs no call: the project found through IAM by an earlier
-- run for the same keys, region and IAM endpoint names the state files, and no unit of
-- them has anything to do. nil when a unit must act (or nothing is remembered): the run
-- then makes the client ready, which checks the project with IAM.
local function quiet_run(client, o, fingerprint)
  local project_id = fingerprint and state.remembered_project(o.state_dir, fingerprint)
  if not project_id then return nil end
  local results = {}
  for _, u in ipairs(units_of(o, client.region, project_id)) do
    local e, prev, must = decide(u)
    if must or prev == nil then return nil end
    results[#results + 1] = e
  end
  return results
end

--- The results of a target (`region`, `project_id`) none of whose units could be
-- attempted: one per unit, not ok, with `err`.
function M.failed_results(o, region, project_id, err)
  local out = {}
  for _, u in ipairs(units_of(o, region, project_id)) do
    local e = entry_of(u)
    e.ok, e.error = false, err
    out[#out + 1] = e
  end
  return out
end

--- Runs the schedules on one client's target (`o`: M.check's). Returns the results, one
-- per schedule and service, in name order; nil, err when nothing could be attempted (the
-- state directory cannot be made).
function M.run_client(client, o)
  local ok, err = state.prepare(o.state_dir)
  if not ok then return nil, err end
  local fingerprint = lookup_fingerprint(client)
  local quiet = quiet_run(client, o, fingerprint)
  if quiet then return quiet end
  -- The project names the state files: found through IAM now when none was given.
  local ready, rerr = client:ready()
  if not ready then return M.failed_results(o, client.region, client.project_id, rerr) end
  if fingerprint and state.remembered_project(o.state_dir, fingerprint) ~= client.project_id then
    local remembered, werr = state.remember_project(o.state_dir, fingerprint, client.project_id)
    if not remembered then return M.failed_results(o, client.region, client.project_id, werr) end
  end
  local results = {}
  for _, u in ipairs(units_of(o, client.region, client.project_id)) do
    local lock, lerr = state.lock(u.path)
    if not lock then
      local e = entry_of(u)
      e.ok, e.error = false, lerr
      results[#results + 1] = e
    else
      local fine, e = pcall(unit, client, o, u)
      lock:release()
      if not fine then error(e, 0) end -- an interruption, or a bug: as raised; the state says acting
      results[#results + 1] = e
    end
  end
  return results
end

-- What a dry run says of the servers it would act on: id, name, status.
local function briefs(res)
  local out = {}
  for _, s in ipairs(res and res.selected or {}) do out[#out + 1] = { id = s.id, name = s.name, status = s.status } end
  return out
end

--- What run_client would do at `o.at`, sending no stop or start: per unit the wanted state,
-- the previous one (with a state directory), the action, and the servers it would stop
-- (a dry run of the stop) or start (a dry run of each record's restore).
function M.plan_client(client, o)
  local ready, rerr = client:ready()
  if not ready then return M.failed_results(o, client.region, client.project_id, rerr) end
  local results = {}
  for _, u in ipairs(units_of(o, client.region, client.project_id)) do
    local e = entry_of(u)
    e.period, e.since, e.skipped_date, e.would_stop, e.would_start = u.st.period, u.st.since, u.st.skipped, {}, {}
    local prev, perr = false, nil
    if u.path then prev, perr = state.read(u.path) end
    if prev == nil then
      e.ok, e.error = false, perr
    else
      e.previous = prev and prev.wanted or nil
      local must = not prev or prev.acting or prev.wanted ~= u.st.wanted or u.sched.enforce
      if must and u.st.wanted == "stopped" then
        e.action = "stop"
        local res, err = client["stop_" .. u.service](client, { dry_run = true,
          filter = { tags = { [o.set.tag] = u.sched.name },
                     where = function(s) return not filter.has_tag(s, o.set.override_tag, "running") end } })
        e.would_stop, e.ok, e.error = briefs(res), res ~= nil, err
      elseif must and prev and #prev.records > 0 then
        e.action = "start"
        for _, rel in ipairs(prev.records) do
          local path = o.state_dir .. "/" .. rel
          if exists(path) then
            local res, err = client:restore{ record = path, dry_run = true }
            for _, b in ipairs(briefs(res)) do e.would_start[#e.would_start + 1] = b end
            if not res and err.code ~= "cloud.record_target" then e.ok, e.error = false, err end
          end
        end
      elseif must and not prev and not o.state_dir then
        e.note = "no state directory given: what the schedule stopped, and would start, is not known"
      end
    end
    results[#results + 1] = e
  end
  return results
end

--- The result of a run or plan from its unit results: ok when every unit's is.
function M.result(results, at)
  local res = { ok = true, at = at, results = results }
  for _, e in ipairs(results) do res.ok = res.ok and e.ok end
  return res
end

return M
