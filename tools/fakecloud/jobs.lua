-- Stop and start jobs. No timers: a job's end is computed from its start when anyone
-- asks (settle runs at the top of every request), which is when servers turn SHUTOFF
-- (or ACTIVE).
local ids = require "fakecloud.ids"
local json = require "fakecloud.json"
local fleet = require "fakecloud.fleet"

local M = {}

local function iso_ms(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) ..
    string.format(".%03dZ", math.floor((t % 1) * 1000))
end

-- subs: { K = fleet kind, ids = {...}, index = {...}, code = {...}, reason = {...} },
-- parallel arrays, one entry a server; code false = will succeed.
-- real: monotonic-ish real time (due-ness); now: emulator clock (shown times).
-- init: seconds the job reads INIT before RUNNING (default: the first fifth of duration).
-- action: "stop" (the default) or "start".
-- hold: { status =, seconds = } or nil: the job first reads that status (one the reference's
-- list does not name, such as PENDING_PAYMENT) for that long, then goes on as above.
-- What each action shows while under way, leaves behind, and calls its jobs.
local ACTION = {
  stop = { task = "powering-off", final = "SHUTOFF", sub = "stopServer", batch = "batchStopServer" },
  start = { task = "powering-on", final = "ACTIVE", sub = "startServer", batch = "batchStartServer" },
}

function M.create(S, kind, subs, real, now, duration, init, action, hold)
  local held = hold and hold.seconds or 0
  init = math.min(init or duration / 5, duration)
  action = action or "stop"
  real = real + held
  local job = { id = ids.uuid(), kind = kind, subs = subs, t0 = real, due = real + duration,
                running_at = real + init, begin = now, finish = now + held + duration, done = false,
                action = action, held_until = hold and real or nil, held_status = hold and hold.status }
  local task = ACTION[action].task
  for i = 1, #subs.ids do
    if not subs.code[i] then
      local st = fleet.state(subs.K, subs.index[i])
      st.task, st.job = task, job
    end
  end
  S.jobs[job.id] = job
  S.njobs = S.njobs + 1
  S.pending[#S.pending + 1] = job
  S.version = S.version + 1
  return job
end

local function finish(job)
  job.done = true
  local subs, final = job.subs, ACTION[job.action].final
  for i = 1, #subs.ids do
    if not subs.code[i] then
      local st = fleet.state(subs.K, subs.index[i])
      if st.job == job then
        st.status, st.task, st.job, st.updated = final, nil, nil, job.finish
        st.ended_at = job.due -- real time, for the admin view (benchmarks time confirmations by it)
      end
    end
  end
end

-- Finish every job whose time has come.
function M.settle(S, real)
  local keep, changed = {}, false
  for _, job in ipairs(S.pending) do
    if real >= job.due then finish(job) changed = true
    else keep[#keep + 1] = job end
  end
  if changed then
    S.pending = keep
    S.version = S.version + 1
  end
end

local function status_of(job, real)
  if job.done then return nil end
  if job.held_until and real < job.held_until then return job.held_status end
  if real < job.running_at then return "INIT" end
  return "RUNNING"
end

-- entities_form: "array" answers a BMS job's sub-job entities as an array of one object,
-- as the BMS job table documents them; anything else, one object, as the examples and the
-- SDKs show (ECS jobs always so).
function M.render(job, real, entities_form)
  local as_array = entities_form == "array" and job.kind == "bms"
  local running = status_of(job, real)
  local subs, first_fail = {}, nil
  -- Sub-job ids derive from the job's: made when shown, not for every server stopped.
  local prefix = job.id:sub(1, 24)
  local s, names = job.subs, ACTION[job.action]
  for i = 1, #s.ids do
    local code, reason = s.code[i], s.reason[i]
    local st = running or (code and "FAIL" or "SUCCESS")
    if st == "FAIL" and not first_fail then first_fail = i end
    local failed = st == "FAIL"
    subs[i] = {
      status = st, job_id = prefix .. string.format("%012x", i), job_type = names.sub,
      begin_time = iso_ms(job.begin),
      end_time = running and json.null or iso_ms(job.finish),
      error_code = failed and code or json.null,
      fail_reason = failed and reason or json.null,
      entities = { server_id = s.ids[i],
                   errorcode_message = failed and (code .. ": " .. reason) or json.null },
    }
    if as_array then subs[i].entities = json.array({ subs[i].entities }) end
  end
  return {
    status = running or (first_fail and "FAIL" or "SUCCESS"),
    job_id = job.id, job_type = names.batch,
    begin_time = iso_ms(job.begin),
    end_time = running and json.null or iso_ms(job.finish),
    error_code = first_fail and s.code[first_fail] or json.null,
    fail_reason = first_fail and s.reason[first_fail] or json.null,
    entities = { sub_jobs_total = #s.ids, sub_jobs = json.array(subs) },
  }
end

return M
