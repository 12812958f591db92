--- One stop operation: batches of at most 1000 ids, submitted at the operation's pace
-- (flow control sends a batch again, later; cloud.pace); jobs polled as cloud.poll_plan
-- says until they end; every doubt (a lost answer, a missing sub-job) resolved by looking
-- the servers up before anything is sent again. What an answer or a sub-job means is
-- cloud.classify's; a server the cloud says is already in the wanted state is looked up,
-- and found there it is "already", neither stopped nor failed. Every outcome goes into the
-- ledger it is given, which alone records outcomes; the operation holds no set and no
-- batch number.
-- @module cloud.stop_op
local core = require "cloud.core"
local classify = require "cloud.classify"
local errors = require "cloud.errors"
local poll_plan = require "cloud.poll_plan"
local retry = require "cloud.retry"
local servers = require "cloud.servers"

local M = {}

local MAX_IDS = 1000
local unpack = table.unpack or unpack
-- The job statuses of the reference ("Jobs"); any other is reported as the cloud gave it
-- and counts as not ended (the ledger's rule decides what ends a job).
local JOB_STATUS = { INIT = true, RUNNING = true, SUCCESS = true, FAIL = true }

--- The os-stop body for `ids`, as a string. Stop calls themselves keep theirs in C
-- memory (core.stop_body): at 40 KB a call, a million servers would otherwise leave
-- 40 MB of strings for the collector.
function M.stop_body(ids, kind)
  local body = core.stop_body(ids, kind)
  local text = body:string()
  body:close()
  return text
end

local function str(v)
  if type(v) == "string" and v ~= "" then return v end
end

local Op = {}
Op.__index = Op

local function progress(op, phase)
  local cb = op.on_progress
  if not cb then return end
  local settled, failed = op.ledger:settled()
  local done = phase == "submit" and op.accepted or settled
  local ok, e = pcall(cb, { phase = phase, done = done, total = op.ledger:size(), failed = failed })
  if not ok then op.log("on_progress raised: " .. tostring(e)) end
end

--- Queues stop calls for `ids`. `again`: each of them was sent before (a resend, counted;
-- the first submission skips that bookkeeping, a map entry per server).
function Op:submit(ids, again)
  for i = 1, #ids, MAX_IDS do
    local last = math.min(i + MAX_IDS - 1, #ids)
    if again then
      -- Sends are counted from the second on (a first send is implied): a map entry per
      -- server would cost memory at scale.
      for j = i, last do self.sends[ids[j]] = (self.sends[ids[j]] or 1) + 1 end
    end
    local kind, l, batch = self.kind, self.ledger, nil
    self.sched:request({
      service = self.service, method = "POST", idempotent = false,
      -- At the operation's pace, sent again after flow control until the deadline; a 2xx
      -- answer is acceptance only with a job_id.
      servers = last - i + 1, expects_job = true, deadline = self.deadline,
      -- The batch and its body are made when first sent, not all up front: the first
      -- calls go out at once, and a large stop does not hold every body at the same time.
      -- The batch tells this call's servers apart in its job's answer.
      body_fn = function()
        if again then batch = l:batch_of({ unpack(ids, i, last) })
        else batch = l:batch(i, last) end -- ids is the ledger's own array
        return core.stop_body(batch.ids, kind)
      end,
      path = ("/v1/%s/%s/action"):format(self.project_id, servers.RESOURCE[self.service]),
      label = ("%s %d %s servers"):format(self.action, last - i + 1, self.service),
    }, function(r) self:submitted(batch, r) end)
  end
end

function Op:submitted(batch, r)
  local job_id = r.ok and str(r.data.job_id)
  if job_id and job_id:match("^[%w%-_.]+$") then
    local job = self.ledger:job(batch, job_id)
    self.accepted = self.accepted + #batch.ids
    progress(self, "submit")
    if self.wait then
      self:watch(job, batch)
    else
      self.ledger:stopped_batch(batch)
    end
  elseif r.ok or r.ambiguous then
    -- The stop may have been accepted even though we cannot tell: look before resending.
    -- After a timeout the cloud may still be working on it, so give it as long again.
    local err = r.err or errors.new("cloud.bad_response", "the answer has no valid job_id", r.status, r.request_id)
    local grace = err.code == "cloud.timeout" and self.timeout or 0
    self.sched:after(grace, function() self:resolve(batch.ids, err, true) end)
  elseif r.scope == "server" and (r.class == "done" or r.class == "permanent") then
    -- The call was refused for some of its servers (Ecs.0100, Ecs.0114, ...): nothing was
    -- accepted; which ones, a lookup tells, before the others are sent again.
    local errs = {}
    for _, id in ipairs(batch.ids) do errs[id] = r.err end
    self:look_up_refused(batch.ids, errs, r.class, true)
  else
    -- Refused as a whole (permanent, or retried and throttled to the end): never
    -- accepted, so the refusal is each server's outcome.
    self.ledger:fail(batch.ids, r.err)
    progress(self, "submit")
  end
end

function Op:expired()
  return core.now() >= self.deadline
end

-- An accepted job: polled as the operation's plan says.
function Op:watch(job, batch)
  self.plan:add({ job = job, batch = batch }, core.now())
  self:schedule_polls()
end

-- One timer for the plan, set for the next time a poll may be due: moved when that time
-- changes, taken back when no poll is to come (a timer left waiting would keep the
-- operation running until it came due).
function Op:schedule_polls()
  local now = core.now()
  local at = self.plan:next_time(now)
  if self.tick and self.tick_at == at then return end
  if self.tick then self.sched:cancel(self.tick) end
  self.tick, self.tick_at = nil, at
  if not at then return end
  self.tick = self.sched:after(math.max(0, at - now), function()
    self.tick, self.tick_at = nil, nil
    for _, j in ipairs(self.plan:due(core.now())) do self:poll(j) end
    self:schedule_polls()
  end)
end

function Op:poll(j)
  local l, job, batch = self.ledger, j.state.job, j.state.batch
  self.sched:request({
    service = self.service, method = "GET", idempotent = true,
    path = ("/v1/%s/jobs/%s"):format(self.project_id, job.job_id),
    label = "job " .. job.job_id,
    -- Job answers run to 1000 sub-jobs: the ledger has the C scanner read only the fields
    -- it needs and record the servers an ended job stopped; the rest comes back.
    decode = function(body) return l:apply_job(body, batch) end,
    raw_body = true, -- read in place, never copied into a Lua string
  }, function(r) self:polled(j, r) end)
end

function Op:polled(j, r)
  local job = j.state.job
  local now = core.now()
  if r.ok then
    local status = r.data.status or "UNKNOWN"
    if status ~= job.status and not JOB_STATUS[status] then
      self.log(("job %s reports status %s, which the API reference does not list; it counts as not ended")
        :format(job.job_id, status))
    end
    job.status, job.poll_failures = status, nil
    self.plan:polled(j, r.data.ended, now)
    if r.data.ended then
      self:settle(job, r.data, r.request_id)
      return self:schedule_polls()
    end
    if not self:expired() then
      progress(self, "wait") -- a heartbeat, so progress displays keep moving
      return self:schedule_polls()
    end
    self.plan:drop(j)
    local err = errors.new("cloud.wait_timeout", ("job %s still %s after %gs; the server may yet stop")
      :format(job.job_id, status, self.wait_timeout))
    return self:resolve(self:open_ids(job.ids), err, false)
  end
  -- No such job (Common.0011, 404), or a refusal that will not change: what became of its
  -- servers, a lookup tells.
  if r.class == "permanent" or r.status == 404 or self:expired() then
    self.plan:drop(j)
    if r.class == "permanent" or r.status == 404 then job.status = "UNKNOWN" end
    return self:resolve(self:open_ids(job.ids), r.err, false)
  end
  -- Polling itself failed after its retries: the job is still there, try again later,
  -- backing off while the failures go on (to 64 intervals at most, and a minute).
  job.poll_failures = (job.poll_failures or 0) + 1
  local interval = math.max(self.poll_interval, 0.05)
  self.plan:failed(j, now + retry.backoff(job.poll_failures, interval, math.min(64 * interval, 60)))
  self:schedule_polls()
end

function Op:open_ids(ids)
  local open = {}
  for _, id in ipairs(ids) do
    if self.ledger:pending(id) then open[#open + 1] = id end
  end
  return open
end

-- The least wait the cloud asked for before sending again (Ecs.0603's minute), or the
-- policy's `later` in its place.
function Op:least_wait(v)
  if v.min_delay > 0 then return self.later or v.min_delay end
  return 0
end

-- An ended job, as the ledger read it (Ledger:apply_job): the servers it stopped are
-- recorded; `v.failed` failed, `v.unknown` have no outcome in it. Each failure is judged by
-- cloud.classify: already in the wanted state (Ecs.0100) is looked up; worth another try
-- is sent again, `retry_failed` times, not sooner than the code asks; the rest stands with
-- the cloud's code, message and errorcode_message. request_id: of that answer, for support.
function Op:settle(job, v, request_id)
  local again, missing, wait = {}, v.unknown, 0
  local done, done_errs = {}, {}
  for _, f in ipairs(v.failed) do
    local id = f.id
    local err = errors.new(f.code, f.message, nil, request_id)
    err.errorcode_message = f.errorcode_message
    local verdict = classify.sub_job(f.code, self.action, f.errorcode_message or f.message)
    if self.doubted[id] then
      -- Sent again after a lost answer: the first send may be what stopped it. Look it up.
      missing[#missing + 1] = id
    elseif verdict.class == "done" then
      done[#done + 1] = id
      done_errs[id] = err
    elseif retry.again(verdict) and (self.resent[id] or 0) < self.retry_failed
      and core.now() + self:least_wait(verdict) < self.deadline then
      self.resent[id] = (self.resent[id] or 0) + 1
      again[#again + 1] = id
      wait = math.max(wait, self:least_wait(verdict))
    else
      self.ledger:failed(id, err)
    end
  end
  if #missing > 0 then
    local err = errors.new(v.error_code or "cloud.no_sub_job",
      v.fail_reason or ("job %s ended %s without an outcome for this server"):format(job.job_id, job.status),
      nil, request_id)
    self:resolve(missing, err, false)
  end
  if #done > 0 then self:look_up_refused(done, done_errs, "done", false) end
  if #again > 0 then
    if wait > 0 then self.sched:after(wait, function() self:submit(again, true) end)
    else self:submit(again, true) end
  end
  progress(self, "wait")
end

local function task_of(s)
  local t = s and s["OS-EXT-STS:task_state"]
  if type(t) == "string" and t ~= "" then return t end
end

--- Settles servers the cloud refused (`errs`: id -> the refusal, with the cloud's code) by
-- looking them up. `class` is the refusal's: "done" (the state does not allow the action,
-- Ecs.0100) ends a server found in the wanted state with no task on it as already there;
-- a server with a task under way is looked at again; with `resend` (the call was refused as
-- a whole, so nothing of it was accepted) a server neither there nor busy is sent again
-- while attempts remain. Otherwise the refusal stands: a server in ERROR, or not found.
function Op:look_up_refused(ids, errs, class, resend)
  local verdict = { class = "done", confirm = self.wanted }
  servers.lookup(self.sched, self.project_id, self.service, ids, function(found)
    local recheck, again = {}, {}
    for _, id in ipairs(ids) do
      local s = found and found[id]
      local c
      if not s then c = "permanent"
      elseif class == "done" and self.wanted then c = classify.confirm(verdict, s)
      else c = task_of(s) and "wait" or "permanent" end
      if c == "done" then
        self.ledger:already(id, self.wanted)
      elseif c == "wait" and not self:expired() then
        recheck[#recheck + 1] = id
      elseif c == "permanent" and s and resend and not task_of(s) and s.status ~= self.wanted
        and (self.sends[id] or 1) < self.attempts and not self:expired() then
        again[#again + 1] = id
      else
        self.ledger:failed(id, errs[id])
      end
    end
    if #recheck > 0 then
      self.sched:after(math.max(self.poll_interval, 0.05), function()
        self:look_up_refused(recheck, errs, class, resend)
      end)
    end
    if #again > 0 then self:submit(again, true) end
    progress(self, "wait")
  end)
end

-- When neither the answer nor a lookup can tell: say so, rather than report the
-- transfer's error as if the stop had not happened.
local function unconfirmed(err, lookup_err, maybe)
  local what = maybe and "the stop may have been accepted" or "the stop was accepted"
  return errors.new("cloud.unconfirmed", ("%s but its outcome is unknown (%s); looking the server up failed too (%s)")
    :format(what, tostring(err), tostring(lookup_err)), err and err.status, err and err.request_id)
end

--- Settles ids whose fate is unknown by looking the servers up: SHUTOFF is stopped;
-- a stop in progress is looked at again; otherwise the stop is sent again when
-- `resendable` (it was never confirmed accepted) and attempts remain, else `err` stands.
function Op:resolve(ids, err, resendable)
  if #ids == 0 then return end
  servers.lookup(self.sched, self.project_id, self.service, ids, function(found, lookup_err)
    local recheck, resend = {}, {}
    local unknown = not found and unconfirmed(err, lookup_err, resendable)
    for _, id in ipairs(ids) do
      local s = found and found[id]
      local stopping = s and s["OS-EXT-STS:task_state"] == "powering-off"
      if not found then
        self.ledger:failed(id, unknown)
      elseif s and s.status == "SHUTOFF" then
        self.ledger:stopped(id)
      elseif stopping and not self.wait then
        self.ledger:stopped(id) -- accepted by a job we did not see
      elseif stopping and not self:expired() then
        recheck[#recheck + 1] = id
      elseif s and resendable and (self.sends[id] or 1) < self.attempts and not self:expired() then
        resend[#resend + 1] = id
        self.doubted[id] = true
      elseif not s then
        self.ledger:failed(id, errors.new("Ecs.0114", "the server was not found"))
      else
        self.ledger:failed(id, err)
      end
    end
    if #recheck > 0 then
      self.sched:after(math.max(self.poll_interval, 0.05), function() self:resolve(recheck, err, resendable) end)
    end
    if #resend > 0 then self:submit(resend, true) end
    progress(self, "wait")
  end)
end

--- Stops every id of ledger `l` and records each outcome in it.
-- @tparam table c sched (a scheduler), ledger, project_id, service ("ecs" or "bms"),
--   action ("stop", the default: what cloud.classify's wanted state is looked up for),
--   policy (the client's: attempts, timeout, later), log (function(line)), and `o`, the
--   checked stop options (type, wait, poll_interval, wait_timeout, retry_failed, on_progress)
function M.run(c)
  local o = c.options
  local action = c.action or "stop"
  local now = core.now()
  local op = setmetatable({
    sched = c.sched, ledger = c.ledger, project_id = c.project_id, service = c.service, log = c.log,
    action = action, wanted = classify.wanted[action],
    attempts = c.policy.attempts, timeout = c.policy.timeout, later = c.policy.later,
    kind = o.type, wait = o.wait, poll_interval = o.poll_interval, wait_timeout = o.wait_timeout,
    deadline = now + o.wait_timeout, retry_failed = o.retry_failed, on_progress = o.on_progress,
    plan = poll_plan.new(o.poll_interval, now + o.wait_timeout, now),
    accepted = 0, sends = {}, resent = {}, doubted = {},
  }, Op)
  op:submit(op.ledger:ids())
  op.sched:run()
end

return M
