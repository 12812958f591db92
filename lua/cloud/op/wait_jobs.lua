--- Waiting on jobs accepted earlier: `client:wait_jobs{ service =, jobs = {...} }` follows
-- the jobs a stop (or start) run with `wait = false` returned, and reports their servers
-- as a waiting run would. A job names its servers in its sub-jobs (entities.server_id):
-- each job is read until it lists them all (or ends), then every job is polled as the
-- operation polls its own (cloud.op.run's watch) until it ends or the deadline comes. A
-- sub-job refused because its server was already in the wanted state (Ecs.0100) is looked
-- up, and found there it is skipped, as a waiting run reports it.
-- @module cloud.op.wait_jobs
local actions = require "cloud.op.actions"
local check = require "cloud.base.check"
local classify = require "cloud.classify"
local core = require "cloud.core"
local defaults = require "cloud.base.defaults".stop
local errors = require "cloud.errors"
local run = require "cloud.op.run"
local servers = require "cloud.op.servers"

local M = {}

local WHERE = "client:wait_jobs"
local OPTIONS = { service = true, jobs = true, action = true, poll_interval = true, wait_timeout = true,
                  on_progress = true }

--- Checks the options; returns them checked, the job ids without repeats.
function M.check(opts)
  check.known(WHERE, opts, OPTIONS)
  if opts.service == nil then errors.argument(WHERE, "service", "is required: \"ecs\" or \"bms\"") end
  local o = {
    service = check.oneof(WHERE, opts, "service", nil, { "ecs", "bms" }),
    action = actions[check.oneof(WHERE, opts, "action", "stop", { "stop", "start" })],
    poll_interval = check.number(WHERE, opts, "poll_interval", defaults.poll_interval, 0),
    wait_timeout = check.number(WHERE, opts, "wait_timeout", defaults.wait_timeout, 0),
    on_progress = check.func(WHERE, opts, "on_progress"),
    jobs = {},
  }
  local jobs = opts.jobs
  if type(jobs) ~= "table" or jobs[1] == nil then
    errors.argument(WHERE, "jobs", "must be a non-empty array of job ids")
  end
  local seen = {}
  for i, id in ipairs(jobs) do
    -- The id goes into the job's URL path: only the plain form the cloud gives.
    if type(id) ~= "string" or not run.plain_job_id(id) then
      errors.argument(WHERE, ("jobs[%d]"):format(i), "is not a job id (letters, digits, '-', '_' and inner"
        .. " dots, up to 128)")
    end
    if not seen[id] then seen[id] = true o.jobs[#o.jobs + 1] = id end
  end
  return o
end

local function str(v)
  if type(v) == "string" and v ~= "" then return v end
end

--- The servers a job answer (decoded) names, in sub-job order; nil while the job may still
-- add sub-jobs (not ended, and fewer listed than sub_jobs_total, or none yet). A sub-job's
-- entities are one object, or (the BMS table) an array of one.
function M.servers_of(data)
  local ent = type(data.entities) == "table" and data.entities or {}
  local list, ids, seen = type(ent.sub_jobs) == "table" and ent.sub_jobs or {}, {}, {}
  for _, sub in ipairs(list) do
    local e = type(sub) == "table" and sub.entities
    if type(e) == "table" and e.server_id == nil then e = e[1] end
    local id = type(e) == "table" and str(e.server_id)
    if id and not seen[id] then seen[id] = true ids[#ids + 1] = id end
  end
  if classify.job.ended[data.status] then return ids end
  local total = tonumber(ent.sub_jobs_total)
  if #ids > 0 and (not total or #ids >= total) then return ids end
  return nil
end

-- The other action's job (a start's job given to a stop): its servers are not this one's.
local function other_action(job_type, action)
  local other = action.name == "stop" and "start" or "stop"
  return type(job_type) == "string" and job_type:lower():find(other, 1, true) ~= nil
end

-- Reads each job until it names its servers: `job.ids` set, or `job.error` (no such job,
-- another action's, or not listing them by the deadline).
local function discover(sched, op, o, jobs, deadline)
  local function ask(job)
    if not sched:can_send() then return end
    sched:request({
      service = o.service, method = "GET", idempotent = true,
      path = ("/v1/%s/jobs/%s"):format(op.project_id, job.job_id), label = "job " .. job.job_id,
    }, function(r)
      if r.ok and type(r.data) == "table" then
        job.status, job.job_type = str(r.data.status) or "UNKNOWN", str(r.data.job_type)
        if other_action(job.job_type, o.action) then
          job.error = errors.new("cloud.job_type", ("job %s is a %s job, not a %s's"):format(job.job_id,
            job.job_type, o.action.name), nil, r.request_id)
          return
        end
        job.ids = M.servers_of(r.data)
        if job.ids then return end
      elseif r.class == "permanent" or r.status == 404 or r.unsent then
        job.status, job.error = "UNKNOWN", r.err -- no such job (Common.0011), or refused
        return
      end
      if core.now() + o.poll_interval >= deadline then
        job.error = r.err or errors.new("cloud.wait_timeout", ("job %s had not listed its servers within %gs")
          :format(job.job_id, o.wait_timeout))
        return
      end
      sched:after(math.max(o.poll_interval, 0.05), function() ask(job) end)
    end)
  end
  for _, job in ipairs(jobs) do ask(job) end
  sched:run()
  for _, job in ipairs(jobs) do
    if not job.ids and not job.error then
      job.error = errors.new("cloud.wait_timeout", ("job %s had not listed its servers within %gs")
        :format(job.job_id, o.wait_timeout))
    end
  end
end

-- Failures whose code means "already in the wanted state" (Ecs.0100), looked up: found
-- there with nothing under way, they are skipped as a waiting run skips them.
local function confirm_already(op, o, failed, deadline)
  local judged, ids = {}, {}
  for _, f in ipairs(failed) do
    local v = classify.sub_job(f.code, o.action.name, f.errorcode_message)
    if v.class == "done" then judged[f.id] = v ids[#ids + 1] = f.id end
  end
  if #ids == 0 then return failed, {} end
  local sched, found = op:scheduler(deadline), nil
  servers.lookup(sched, op.project_id, o.service, ids, function(f) found = f end)
  sched:run()
  local still, skipped = {}, {}
  for _, f in ipairs(failed) do
    local v = judged[f.id]
    if v and found and classify.confirm(v, found[f.id]) == "done" then
      skipped[#skipped + 1] = { id = f.id, status = o.action.wanted, reason = o.action.skip_reason }
    else
      still[#still + 1] = f
    end
  end
  return still, skipped
end

-- The result: the shape of a waiting run's, with `jobs` each { job_id, ids, status,
-- job_type, error } (error: the job could not be read; its servers are unknown).
local function result(o, jobs, w, skipped)
  local failed, job_of = {}, {}
  for _, job in ipairs(jobs) do
    for _, id in ipairs(job.ids or {}) do job_of[id] = job.job_id end
  end
  for _, f in ipairs(w.failed) do
    local e = {}
    for k, v in pairs(f) do e[k] = v end
    e.job_id = job_of[f.id]
    failed[#failed + 1] = e
  end
  for _, u in ipairs(w.unknown) do
    failed[#failed + 1] = { id = u.id, job_id = job_of[u.id], code = u.err and u.err.code or "cloud.no_sub_job",
                            message = u.why, request_id = u.err and u.err.request_id }
  end
  local ok, requested, listed = #failed == 0, #w.done + #failed + #skipped, {}
  for i, job in ipairs(jobs) do
    local e = job.error
    listed[i] = { job_id = job.job_id, ids = job.ids or {}, status = job.status or "UNKNOWN", job_type = job.job_type,
                  error = e and { code = e.code, message = e.message, status = e.status, request_id = e.request_id } }
    if e then ok = false end
  end
  return { ok = ok, requested = requested, [o.action.done] = w.done, failed = failed, skipped = skipped,
           selected = {}, jobs = listed, dry_run = false }
end

--- Follows the jobs to their end; see the module's text. Returns the result, or nil and
-- the error when nothing could be asked (credentials, project, endpoint).
function M.run(op, o)
  local ok, err = op:ready()
  if not ok then return nil, err end
  if not op:has_service(o.service) then
    return nil, errors.new("cloud.no_endpoint", "no endpoint for " .. o.service)
  end
  local deadline = core.now() + o.wait_timeout
  local jobs = {}
  for i, id in ipairs(o.jobs) do jobs[i] = { job_id = id } end
  discover(op:scheduler(deadline), op, o, jobs, deadline)
  -- A server named by two jobs (a stop sent again) is followed in the first only.
  local watch, owner, total = {}, {}, 0
  for _, job in ipairs(jobs) do
    local mine = {}
    for _, id in ipairs(job.ids or {}) do
      if not owner[id] then owner[id] = job mine[#mine + 1] = id end
    end
    if #mine > 0 then watch[job.job_id] = mine total = total + #mine end
  end
  -- Their servers were submitted (by the run that got the jobs): progress goes on from there.
  if o.on_progress then pcall(o.on_progress, { phase = "submit", done = total, total = total, failed = 0 }) end
  local w = run.watch{ sched = op:scheduler(deadline), project_id = op.project_id, service = o.service,
    action = o.action, poll_interval = o.poll_interval, wait_timeout = o.wait_timeout, deadline = deadline,
    jobs = watch, on_progress = o.on_progress, log = function(line) op:log(line) end }
  for _, job in ipairs(jobs) do
    job.status = w.status and w.status[job.job_id] or job.status
  end
  local still, skipped = confirm_already(op, o, w.failed, deadline + op.policy.timeout)
  w.failed = still
  return result(o, jobs, w, skipped)
end

--- client:wait_jobs (cloud.lua binds it).
function M.call(client, opts)
  if getmetatable(client) ~= require("cloud.client").Client then
    errors.argument(WHERE, nil, "call it with ':' on a client from cloud.new")
  end
  local o = M.check(opts or {})
  return client:operation(WHERE, M.run, o)
end

return M
