--- One stop operation: batches of at most 1000 ids, submitted concurrently; jobs polled
-- until they end; every doubt (a lost answer, a missing sub-job) resolved by looking the
-- servers up before anything is sent again. Every outcome goes into the ledger it is
-- given, which alone records outcomes; the operation holds no set and no batch number.
-- @module cloud.stop_op
local actions = require "cloud.actions"
local core = require "cloud.core"
local errors = require "cloud.errors"
local retry = require "cloud.retry"
local servers = require "cloud.servers"

local M = {}

local MAX_IDS = 1000
local unpack = table.unpack or unpack
-- Sub-job failures that a second attempt may fix.
local TRANSIENT = { ["Ecs.0603"] = true, ["Ecs.0500"] = true, ["Common.0500"] = true }

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
    local kind, l, batch, action = self.kind, self.ledger, nil, self.action
    self.sched:request({
      service = self.service, method = "POST", idempotent = false,
      -- The batch and its body are made when first sent, not all up front: the first
      -- calls go out at once, and a large stop does not hold every body at the same time.
      -- The batch tells this call's servers apart in its job's answer.
      body_fn = function()
        if again then batch = l:batch_of({ unpack(ids, i, last) })
        else batch = l:batch(i, last) end -- ids is the ledger's own array
        return action.body(batch.ids, kind)
      end,
      path = ("/v1/%s/%s/action"):format(self.project_id, servers.RESOURCE[self.service]),
      label = ("%s %d %s servers"):format(action.name, last - i + 1, self.service),
    }, function(r) self:submitted(batch, r) end)
  end
end

function Op:submitted(batch, r)
  local job_id = r.ok and str(r.data.job_id)
  if job_id and job_id:match("^[%w%-_.]+$") then
    local job = self.ledger:job(batch, job_id, r.request_id)
    self.accepted = self.accepted + #batch.ids
    progress(self, "submit")
    if self.wait then
      self.sched:after(self.poll_interval, function() self:poll(job, batch) end)
    else
      self.ledger:stopped_batch(batch)
    end
  elseif r.ok or r.ambiguous then
    -- The stop may have been accepted even though we cannot tell: look before resending.
    -- After a timeout the cloud may still be working on it, so give it as long again.
    local err = r.err or errors.new("cloud.bad_response", "the answer has no valid job_id", r.status, r.request_id)
    local grace = err.code == "cloud.timeout" and self.timeout or 0
    self.sched:after(grace, function() self:resolve(batch.ids, err, true) end)
  else
    self.ledger:fail(batch.ids, r.err)
    progress(self, "submit")
  end
end

function Op:expired()
  return core.now() >= self.deadline
end

function Op:poll(job, batch)
  local l = self.ledger
  self.sched:request({
    service = self.service, method = "GET", idempotent = true,
    path = ("/v1/%s/jobs/%s"):format(self.project_id, job.job_id),
    label = "job " .. job.job_id,
    -- Job answers run to 1000 sub-jobs: the ledger has the C scanner read only the fields
    -- it needs and record the servers an ended job stopped; the rest comes back.
    decode = function(body) return l:apply_job(body, batch) end,
    raw_body = true, -- read in place, never copied into a Lua string
  }, function(r) self:polled(job, batch, r) end)
end

function Op:polled(job, batch, r)
  if r.ok then
    local status = r.data.status or "UNKNOWN"
    job.status, job.poll_failures = status, nil
    if r.data.ended then return self:settle(job, r.data, r.request_id) end
    if not self:expired() then
      progress(self, "wait") -- a heartbeat, so progress displays keep moving
      return self.sched:after(self.poll_interval, function() self:poll(job, batch) end)
    end
    local err = errors.new("cloud.wait_timeout", ("job %s still %s after %gs; the server may yet %s")
      :format(job.job_id, status, self.wait_timeout, self.action.name))
    return self:resolve(self:open_ids(job.ids), err, false)
  end
  if r.status == 404 or self:expired() then
    job.status = r.status == 404 and "UNKNOWN" or job.status
    return self:resolve(self:open_ids(job.ids), r.err, false)
  end
  -- Polling itself failed after its retries: the job is still there, try again later,
  -- backing off while the failures go on (to 64 intervals at most, and a minute).
  job.poll_failures = (job.poll_failures or 0) + 1
  local interval = math.max(self.poll_interval, 0.05)
  self.sched:after(retry.backoff(job.poll_failures, interval, math.min(64 * interval, 60)),
    function() self:poll(job, batch) end)
end

function Op:open_ids(ids)
  local open = {}
  for _, id in ipairs(ids) do
    if self.ledger:pending(id) then open[#open + 1] = id end
  end
  return open
end

-- An ended job, as the ledger read it (Ledger:apply_job): the servers it stopped are
-- recorded; `v.failed` failed, `v.unknown` have no outcome in it. request_id: of that
-- answer, for support.
function Op:settle(job, v, request_id)
  local again, missing = {}, v.unknown
  for _, f in ipairs(v.failed) do
    local id = f.id
    if self.doubted[id] then
      -- Sent again after a lost answer: the first send may be what stopped it. Look it up.
      missing[#missing + 1] = id
    elseif TRANSIENT[f.code] and (self.resent[id] or 0) < self.retry_failed then
      self.resent[id] = (self.resent[id] or 0) + 1
      again[#again + 1] = id
    else
      self.ledger:failed(id, errors.new(f.code, f.message, nil, request_id))
    end
  end
  if #missing > 0 then
    local err = errors.new(v.error_code or "cloud.no_sub_job",
      v.fail_reason or ("job %s ended %s without an outcome for this server"):format(job.job_id, job.status),
      nil, request_id)
    self:resolve(missing, err, false)
  end
  if #again > 0 then self:submit(again, true) end
  progress(self, "wait")
end

-- When neither the answer nor a lookup can tell: say so, rather than report the
-- transfer's error as if the stop had not happened.
local function unconfirmed(err, lookup_err, maybe, name)
  local what = (maybe and "the %s may have been accepted" or "the %s was accepted"):format(name)
  return errors.new("cloud.unconfirmed", ("%s but its outcome is unknown (%s); looking the server up failed too (%s)")
    :format(what, tostring(err), tostring(lookup_err)), err and err.status, err and err.request_id)
end

--- Settles ids whose fate is unknown by looking the servers up: the action's wanted
-- state (SHUTOFF for a stop) is done; an action under way is looked at again; otherwise
-- it is sent again when `resendable` (it was never confirmed accepted) and attempts
-- remain, else `err` stands.
function Op:resolve(ids, err, resendable)
  if #ids == 0 then return end
  servers.lookup(self.sched, self.project_id, self.service, ids, function(found, lookup_err)
    local recheck, resend = {}, {}
    local action = self.action
    local unknown = not found and unconfirmed(err, lookup_err, resendable, action.name)
    for _, id in ipairs(ids) do
      local s = found and found[id]
      local stopping = s and s["OS-EXT-STS:task_state"] == action.under_way
      if not found then
        self.ledger:failed(id, unknown)
      elseif s and s.status == action.wanted then
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

--- Runs the action on every id of ledger `l` and records each outcome in it.
-- @tparam table c sched (a scheduler), ledger, project_id, service ("ecs" or "bms"),
--   policy (the client's: attempts, timeout), log (function(line)), action (a table of
--   cloud.actions; stop when nil), and `o`, the checked options (type, wait,
--   poll_interval, wait_timeout, retry_failed, on_progress)
function M.run(c)
  local o = c.options
  local op = setmetatable({
    action = c.action or actions.stop,
    sched = c.sched, ledger = c.ledger, project_id = c.project_id, service = c.service, log = c.log,
    attempts = c.policy.attempts, timeout = c.policy.timeout,
    kind = o.type, wait = o.wait, poll_interval = o.poll_interval, wait_timeout = o.wait_timeout,
    deadline = core.now() + o.wait_timeout, retry_failed = o.retry_failed, on_progress = o.on_progress,
    accepted = 0, sends = {}, resent = {}, doubted = {},
  }, Op)
  op:submit(op.ledger:ids())
  op.sched:run()
end

return M
