--- Undoing a stop from its record: `client:restore{ record = "path", ... }` starts exactly
-- the servers the record shows this tool stopped, and reports every other server of the
-- record as skipped, with why: it was already off before the stop, the stop failed, it
-- has been started or deleted since. A record cut short by a crash still shows every call
-- that may have left (its intent line, written ahead): the call's job says which servers
-- it stopped, and for a call whose answer never came, a lookup and the state the record
-- shows before the call do. Nothing is started on a guess: a server whose change the
-- record and the cloud cannot show is skipped, and when that leaves its fate unknown the
-- result is not ok.
-- @module cloud.record.restore
local actions = require "cloud.op.actions"
local check = require "cloud.base.check"
local classify = require "cloud.classify"
local core = require "cloud.core"
local errors = require "cloud.errors"
local record_read = require "cloud.record.read"
local servers = require "cloud.op.servers"
local stop = require "cloud.op.act"
local run = require "cloud.op.run"

local M = {}

local WHERE = "client:restore"
-- The options of a restore: the record to undo, and those of the start it runs (its own
-- record is `write_record`; `exclude`, ids never to start, reported skipped as "excluded").
local OPTIONS = {
  record = true, write_record = true, dry_run = true, wait = true, poll_interval = true, wait_timeout = true,
  retry_failed = true, on_progress = true, confirm = true, max_servers = true, force = true,
  servers_per_minute = true, exclude = true,
}
local OFF = actions.stop.wanted

local function skip(id, reason, extra)
  local s = { id = id, reason = reason }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

-- A server whose fate neither the record nor the cloud can tell: skipped, and the result
-- is not ok (an `error` on a skip makes it so).
local function unknown(id, reason, err)
  return skip(id, reason, { error = err or errors.new("cloud.unconfirmed", reason) })
end

-- Why a recorded outcome means "not stopped by this tool", or nil when it does not say.
local function not_ours(s)
  if s.outcome == "skipped" then
    if s.reason == actions.stop.skip_reason then return "already SHUTOFF before the stop" end
    return "not stopped: " .. tostring(s.reason)
  end
  if s.outcome == "failed" and s.changed == false then
    if s.code == "Ecs.0100" then return "already SHUTOFF before the stop (Ecs.0100)" end
    return ("the stop failed (%s): not stopped by this tool"):format(tostring(s.code))
  end
  if s.outcome == actions.stop.done and s.changed == false then return "already SHUTOFF before the stop" end
end

--- Sorts the record's servers of one target: `ours` (stopped by this tool, per the record),
-- `ask` (job id -> ids whose fate their job can tell), `look` (ids of calls that may have
-- left, with no answer: a lookup and the state before tell) and `skipped`.
function M.classify(t)
  local ours, ask, look, skipped = {}, {}, {}, {}
  for _, id in ipairs(t.order) do
    local s = t.servers[id]
    local why = not_ours(s)
    if why then
      skipped[#skipped + 1] = skip(id, why)
    elseif s.outcome == actions.stop.done and s.changed == true then
      ours[#ours + 1] = id
    elseif s.job_id and run.plain_job_id(s.job_id) then
      -- Accepted, and then: not waited for, a crash, a lookup that cannot say who changed
      -- it, or a doubt. The job's sub-job says.
      ask[s.job_id] = ask[s.job_id] or {}
      table.insert(ask[s.job_id], id)
    elseif s.sent then
      look[#look + 1] = id -- sent (or about to be), and no job known for it
    else
      skipped[#skipped + 1] = skip(id, "never sent: the stop ended before a call named it")
    end
  end
  return ours, ask, look, skipped
end

-- Asks each job what it did to its servers, as an operation polls its jobs (cloud.op.run's
-- watch); returns ours (SUCCESS sub-jobs), look (no word from the job: it is gone or has no
-- sub-job for the server) and skipped (a FAIL sub-job, or a job not ended in time).
local function ask_jobs(op, ask, o)
  local deadline = core.now() + o.wait_timeout
  local w = run.watch{ sched = op:scheduler(deadline), project_id = op.project_id, service = o.service,
    poll_interval = o.poll_interval, wait_timeout = o.wait_timeout, deadline = deadline, jobs = ask,
    log = function(line) op:log(line) end }
  local ours, look, skipped = w.done, {}, {}
  for _, f in ipairs(w.failed) do
    skipped[#skipped + 1] = skip(f.id, not_ours({ outcome = "failed", changed = false, code = f.code }))
  end
  for _, u in ipairs(w.unknown) do
    if u.ended then look[#look + 1] = u.id
    else skipped[#skipped + 1] = unknown(u.id, u.why, u.err) end
  end
  return ours, look, skipped
end

local task_of = classify.task_of

-- What to do now with a server the record shows this tool stopped (`s`: as looked up):
-- start it when it is still SHUTOFF with nothing under way; else why not.
local function judge_ours(id, s)
  local task = task_of(s)
  if not s then return skip(id, "deleted since the stop") end
  if s.status == actions.start.wanted or task == actions.start.under_way then
    return skip(id, "started since the stop", { status = s.status })
  end
  if s.status ~= OFF or task then
    return skip(id, ("now %s%s, not SHUTOFF"):format(tostring(s.status), task and (" (" .. task .. ")") or ""),
      { status = s.status })
  end
end

-- A server of a call that may have left, whose answer never came (`rec`: the record's
-- view of it; `s`: as looked up): it is ours when it is off now and the record shows it
-- was running before the call. Returns nil to start it, or the skip.
local function judge_sent(id, rec, s)
  local task = task_of(s)
  if not s then return skip(id, "deleted since the stop") end
  if task == actions.stop.under_way then
    local u = unknown(id, ("still being stopped (%s): restore again once its stop has ended"):format(task))
    u.under_way = true -- a later look can tell (cloud.nginx.job looks again)
    return u
  end
  if s.status == OFF and not task then
    if rec.before == nil then
      return unknown(id, "SHUTOFF now, but the record cannot show it was running before its stop call, whose answer"
        .. " never came: start it yourself if it should run")
    end
    if rec.before == OFF then return skip(id, "already SHUTOFF before the stop") end
    return nil
  end
  return skip(id, ("not stopped: its stop call did not reach it (now %s%s)"):format(tostring(s.status),
    task and (" (" .. task .. ")") or ""), { status = s.status, not_reached = true })
end

-- Looks the servers up now: those this tool stopped (`ours`) and those of calls without
-- an answer (`look`) that are off and were running before are started, when still SHUTOFF
-- with nothing under way; the rest are skipped with what happened since.
local function decide(sched, project_id, service, t, ours, look, on_done)
  local to_start, skipped = {}, {}
  local all = {}
  for _, id in ipairs(ours) do all[#all + 1] = id end
  for _, id in ipairs(look) do all[#all + 1] = id end
  if #all == 0 then return on_done(to_start, skipped) end
  servers.lookup(sched, project_id, service, all, function(found, err, missed)
    local unseen = {}
    for _, id in ipairs(missed or {}) do unseen[id] = true end
    local function judge(id, verdict)
      if (not found or unseen[id]) and err and err.project_not_found then
        -- The whole project is not there: no word on this server, least of all "deleted".
        skipped[#skipped + 1] = unknown(id, "not looked up, the record's project is not found here: restore "
          .. "against the cloud and region of the record (" .. tostring(err) .. ")", err)
      elseif not found or unseen[id] then
        skipped[#skipped + 1] = unknown(id, "could not look the server up: " .. tostring(err), err)
      elseif verdict then
        skipped[#skipped + 1] = verdict
      else
        to_start[#to_start + 1] = id
      end
    end
    for _, id in ipairs(ours) do judge(id, found and judge_ours(id, found[id])) end
    for _, id in ipairs(look) do judge(id, found and judge_sent(id, t.servers[id], found[id])) end
    on_done(to_start, skipped)
  end)
end

--- What the stop of a record's target `t` did, as the record and the cloud tell it now:
-- the ids it stopped that are still SHUTOFF with nothing under way (its jobs say so, or a
-- lookup shows that a call without an answer took a running server off), and every other
-- server of the record, skipped with why (an `error` on those whose fate is unknown, and
-- `under_way` on those still being stopped, which a later look can settle).
-- Nothing is sent. `o`: service, poll_interval, wait_timeout. Restore starts the first;
-- cloud.nginx's job reports them when it resumes a stop whose worker died.
function M.settle(op, t, o)
  local ours, ask, look, skipped = M.classify(t)
  local more, look_more, skipped_jobs = ask_jobs(op, ask, o)
  for _, id in ipairs(more) do ours[#ours + 1] = id end
  for _, id in ipairs(look_more) do look[#look + 1] = id end
  for _, s in ipairs(skipped_jobs) do skipped[#skipped + 1] = s end
  local sched, settled = op:scheduler(), nil
  decide(sched, op.project_id, o.service, t, ours, look, function(ids, skipped_now)
    settled = ids
    for _, s in ipairs(skipped_now) do skipped[#skipped + 1] = s end
  end)
  sched:run()
  return settled, skipped
end

-- The record's target for the operation: its project, and its region when both say one.
function M.target_for(op, rd)
  local found
  for _, t in ipairs(rd.targets) do
    if t.project_id == op.project_id and (not t.region or not op.region or t.region == op.region) then
      if found then
        return nil, errors.new("cloud.record_target", ("the record has several targets of project %s; give the "
          .. "client a region"):format(op.project_id), nil, nil, "refused")
      end
      found = t
    end
  end
  if not found then
    return nil, errors.new("cloud.record_target", ("the record has no servers of project %s%s")
      :format(op.project_id, op.region and (" in " .. op.region) or ""), nil, nil, "refused")
  end
  if found.action ~= "stop" or not found.header then
    return nil, errors.new("cloud.record_target", ("the record is of a %s, not a stop: a restore starts what a "
      .. "stop stopped"):format(tostring(found.action)), nil, nil, "refused")
  end
  return found
end

local function check_restore(opts, where)
  where = where or WHERE
  check.known(where, opts, OPTIONS)
  local path = check.string(where, opts, "record", true)
  local start_opts = {}
  for k, v in pairs(opts) do
    if k == "write_record" then start_opts.record = v elseif k ~= "record" then start_opts[k] = v end
  end
  return path, start_opts
end

-- The restore of one target once its record is read (`rd`); cloud.fleet calls it with
-- the record it read once for every target. The client's project (found through IAM when
-- none was given, as for the stop) says which of the record's targets is its own.
function M.run(op, rd, path, start_opts)
  local is_ready, not_ready = op:ready()
  if not is_ready then return nil, not_ready end
  local t, terr = M.target_for(op, rd)
  if not t then return nil, terr end
  local service = t.service
  if service ~= "ecs" and service ~= "bms" then
    return nil, errors.new("cloud.record", "the record names no service (ecs or bms)")
  end
  -- Checked as a start by ids would be: the start's own options (a record of its own among them).
  local probe = {}
  for k, v in pairs(start_opts) do probe[k] = v end
  probe.ids = {}
  local o = stop.check(service, probe, actions.start)
  o.service = service
  if not op:has_service(service) then
    return nil, errors.new("cloud.no_endpoint", "no endpoint for " .. service)
  end
  local to_start, skipped = M.settle(op, t, o)
  -- The start itself, by id, as client:start_* runs it; the record's skips come with it.
  local opts = {}
  for k, v in pairs(start_opts) do opts[k] = v end
  opts.ids = to_start
  local so = stop.check(service, opts, actions.start)
  so.from_record, so.skipped_before = path, skipped
  -- Each was just seen SHUTOFF: its own record can say the start changed it.
  so.states = {}
  for _, id in ipairs(to_start) do so.states[id] = OFF end
  local res, err = stop.checked(op, service, so)
  if res then
    res.record = { path = path, lines = rd.lines, bad_lines = rd.bad_lines, truncated = rd.truncated,
                   complete = t.ended }
  end
  return res, err
end

--- client:restore (cloud/init.lua binds it).
function M.call(client, opts)
  if getmetatable(client) ~= require("cloud.client").Client then
    errors.argument(WHERE, nil, "call it with ':' on a client from cloud.new")
  end
  local path, start_opts = check_restore(opts or {})
  return client:operation(WHERE, function(op)
    local rd, err = record_read.read(path)
    if not rd then return nil, err end
    return M.run(op, rd, path, start_opts)
  end)
end

M.check = check_restore

--- cloud.restore{...}: a client from the environment and the client options of `opts`,
-- the restore with the rest, then the client closed.
function M.one_shot(opts)
  local where = "cloud.restore"
  if type(opts) ~= "table" then errors.argument(where, nil, "expected an options table") end
  local client_mod = require "cloud.client"
  local client_opts, restore_opts = {}, {}
  for k, v in pairs(opts) do
    if client_mod.OPTIONS[k] then client_opts[k] = v else restore_opts[k] = v end
  end
  -- Argument mistakes raise before a client is built, so even without credentials: the
  -- restore's own keys, then the start's options as a start by ids checks them (the
  -- service is the record's, unknown yet; a start's options are the same for both).
  local path, start_opts = check_restore(restore_opts, where)
  local probe = { ids = {} }
  for k, v in pairs(start_opts) do probe[k] = v end
  local checked, e = pcall(stop.check, "ecs", probe, actions.start)
  if not checked then
    if type(e) == "table" and e.kind == "argument" then errors.argument(where, e.field, e.problem) end
    error(e, 0)
  end
  local client, err = client_mod.new(client_opts)
  if not client then return nil, err end
  local ok, res, rerr = pcall(client.operation, client, where, function(op)
    local rd, why = record_read.read(path)
    if not rd then return nil, why end
    return M.run(op, rd, path, start_opts)
  end)
  client:close()
  if not ok then error(res, 0) end -- as raised: it already names the call and field
  return res, rerr
end

return M
