--- One stop (or start) operation: batches of at most 1000 ids, submitted at the
-- operation's pace (flow control sends a batch again, later: cloud.net.pace in the scheduler);
-- jobs polled as cloud.op.poll_plan says until they end; the servers of a call whose answer
-- was lost looked up at the same plan's pace until they show what became of it; every doubt
-- (a lost answer, a missing sub-job) resolved by looking the servers up before anything is
-- sent again. What an answer or a sub-job means is cloud.classify's; a server the cloud
-- says is already in the wanted state is looked up, and found there it is "already",
-- neither done nor failed. Every outcome goes into the ledger it is given, which alone
-- records outcomes; the operation holds no set and no batch number.
-- @module cloud.op.run
local actions = require "cloud.op.actions"
local classify = require "cloud.classify"
local core = require "cloud.core"
local errors = require "cloud.errors"
local ledger = require "cloud.op.ledger"
local poll_plan = require "cloud.op.poll_plan"
local retry = require "cloud.net.retry"
local servers = require "cloud.op.servers"

local M = {}

local MAX_IDS = 1000
local unpack = table.unpack or unpack

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

--- True when a job id from the cloud is a plain token that can go into a URL path as it
-- is: letters, digits, '-', '_' and inner dots, up to 128 bytes. Never a dot segment
-- ("." or ".."; curl would resolve it into another path, signed), a '/' or a '%'.
function M.plain_job_id(id)
  return #id <= 128 and id:match("^[%w%-_][%w%-_.]*$") ~= nil and not id:find("..", 1, true)
end

local Op = {}
Op.__index = Op

local function progress(op, phase)
  local cb = op.on_progress
  if not cb then return end
  local settled, failed, already = op.ledger:settled()
  local done = phase == "submit" and op.accepted or settled
  local ok, e = pcall(cb, { phase = phase, done = done, total = op.ledger:size(), failed = failed,
                            skipped = already })
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
      -- At the operation's pace, sent again after flow control until the deadline; a 2xx
      -- answer is acceptance only with a job_id.
      servers = last - i + 1, expects_job = true,
      -- The batch and its body are made when first sent, not all up front: the first
      -- calls go out at once, and a large stop does not hold every body at the same time.
      -- The batch tells this call's servers apart in its job's answer. A call about to be
      -- sent is in the record first (write ahead); one the record cannot take is not sent.
      body_fn = function(sending)
        if again then batch = l:batch_of({ unpack(ids, i, last) })
        else batch = l:batch(i, last) end -- ids is the ledger's own array
        if sending then
          local ok, err = l:sending(batch)
          if not ok then return nil, err end
        end
        return action.body(batch.ids, kind)
      end,
      path = ("/v1/%s/%s/action"):format(self.project_id, servers.RESOURCE[self.service]),
      label = ("%s %d %s servers"):format(action.name, last - i + 1, self.service),
    }, function(r) self:submitted(batch, r) end)
  end
end

function Op:submitted(batch, r)
  local job_id = r.ok and str(r.data.job_id)
  if job_id and M.plain_job_id(job_id) then
    local job = self.ledger:job(batch, job_id, r.request_id)
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
    self:doubt(batch.ids, err)
  elseif r.scope == "server" and (r.class == "done" or r.class == "permanent") and not r.unsent then
    -- The call was refused for some of its servers (Ecs.0100, Ecs.0114, ...): nothing was
    -- accepted; which ones, a lookup tells, before the others are sent again.
    local refused = {}
    for i, id in ipairs(batch.ids) do refused[i] = { id = id, err = r.err } end
    self:look_up_refused(refused, r.class, true)
  else
    -- Refused as a whole (permanent, or flow control to the end): never accepted, so the
    -- refusal is each server's outcome.
    self.ledger:fail(batch.ids, r.err)
    progress(self, "submit")
  end
end

function Op:expired()
  return core.now() >= self.deadline
end

-- Adds an entry of `kind` to the operation's plan.
function Op:plan_add(state, kind)
  local now = core.now()
  self.plan:add(state, now, kind)
  -- A poll due before any the new entry can have needs no new timer: that one looks again.
  if self.tick and self.tick_at <= self.plan:earliest_new(now, kind) then return end
  self:schedule_polls()
end

-- An accepted job: polled as the operation's plan says.
function Op:watch(job, batch)
  self:plan_add({ job = job, batch = batch }, "job")
end

-- The plan changed with a poll's answer: its timer is set again a moment later, once for
-- the answers that came meanwhile (each look goes over every job waiting for a poll; polls
-- are half a second apart at the closest, so a hundredth of that changes nothing).
function Op:plan_changed()
  if self.replan then return end
  self.replan = true
  self.sched:after(math.min(0.02, self.plan.gap / 2), function()
    self.replan = false
    self:schedule_polls()
  end)
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
  if j.state.lost then return self:look(j) end
  local l, job, batch = self.ledger, j.state.job, j.state.batch
  if not self.sched:can_send() then return end -- the deadline's last look settles its servers
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
    if status ~= job.status and not classify.job.listed[status] then
      self.log(("job %s reports status %s, which the API reference does not list; it counts as not ended")
        :format(job.job_id, status))
    end
    job.status, job.poll_failures = status, nil
    self.plan:polled(j, r.data.ended, now)
    if r.data.ended then
      self:settle(job, r.data, r.request_id)
      return self:plan_changed()
    end
    if not self:expired() then
      progress(self, "wait") -- a heartbeat, so progress displays keep moving
      return self:plan_changed()
    end
    self.plan:drop(j)
    local err = self.cut_short and self:cut_short_error(("job %s still %s"):format(job.job_id, status))
      or errors.new("cloud.wait_timeout", ("job %s still %s after %gs; the server may yet %s")
      :format(job.job_id, status, self.wait_timeout, self.action.name))
    -- Cut short, nothing more is sent: the deadline's last look tells what it can.
    if self.cut_short then return self:give_up(self:open_ids(job.ids), err, false) end
    return self:resolve(self:open_ids(job.ids), err)
  end
  -- No such job (Common.0011, 404), or a refusal that will not change: what became of its
  -- servers, a lookup tells.
  local lasting = r.class == "permanent" or r.status == 404
  if lasting or self:expired() or r.unsent then
    self.plan:drop(j)
    if lasting then job.status = "UNKNOWN" end
    return self:resolve(self:open_ids(job.ids), r.err)
  end
  -- Polling itself failed after its retries: the job is still there, try again later,
  -- backing off while the failures go on (to 64 intervals at most, and a minute).
  job.poll_failures = (job.poll_failures or 0) + 1
  local interval = math.max(self.poll_interval, 0.05)
  self.plan:failed(j, now + retry.backoff(job.poll_failures, interval, math.min(64 * interval, 60)))
  self:plan_changed()
end

function Op:open_ids(ids)
  local open = {}
  for _, id in ipairs(ids) do
    if self.ledger:pending(id) then open[#open + 1] = id end
  end
  return open
end

-- An ended job, as the ledger read it (Ledger:apply_job): the servers it stopped are
-- recorded; `v.failed` failed, `v.unknown` have no outcome in it. Each failure is judged by
-- cloud.classify: already in the wanted state (Ecs.0100) is looked up; worth another try
-- is sent again, `retry_failed` times, not sooner than the code asks and only when that is
-- before the deadline; the rest stands with the cloud's code, message and
-- errorcode_message. request_id: of that answer, for support.
function Op:settle(job, v, request_id)
  if self.watching then return self:report(job, v) end
  local again, missing, wanted, wait = {}, v.unknown, {}, 0
  for _, f in ipairs(v.failed) do
    local id = f.id
    local err = errors.new(f.code, f.message, nil, request_id)
    err.errorcode_message = f.errorcode_message
    if self.doubted[id] then
      -- Sent again after a lost answer: the first send may be what stopped it. Look it up.
      missing[#missing + 1] = id
    else
      local verdict = classify.sub_job(f.code, self.action.name, f.errorcode_message or f.message)
      if verdict.class == "done" then
        -- Refused because of the server's state (Ecs.0100): the wanted one is no failure,
        -- once a lookup shows it there.
        wanted[#wanted + 1] = { id = id, err = err }
      elseif retry.again(verdict) and (self.resent[id] or 0) < self.retry_failed
        and core.now() + retry.least_wait(self, verdict) < self.deadline then
        self.resent[id] = (self.resent[id] or 0) + 1
        again[#again + 1] = id
        wait = math.max(wait, retry.least_wait(self, verdict))
      else
        self.ledger:failed(id, err)
      end
    end
  end
  if #wanted > 0 then self:look_up_refused(wanted, "done", false) end
  if #missing > 0 then
    local err = errors.new(v.error_code or "cloud.no_sub_job",
      v.fail_reason or ("job %s ended %s without an outcome for this server"):format(job.job_id, job.status),
      nil, request_id)
    self:resolve(missing, err)
  end
  if #again > 0 then
    if wait > 0 then self.sched:after(wait, function() self:submit(again, true) end)
    else self:submit(again, true) end
  end
  progress(self, "wait")
end

local task_of = classify.task_of

--- Settles servers the cloud refused (`list`: `{id =, err =}` each, err with the cloud's
-- code) by looking them up. `class` is the refusal's (cloud.classify): "done" (the state
-- does not allow the action, Ecs.0100) ends a server found in the state the action wants
-- with no task on it as "already" (the result's skipped: "already SHUTOFF"); so does any
-- refusal of a whole call for a server found there. A server with
-- a task under way is looked at again. With `resend` (the call was refused as a whole, so
-- nothing of it was accepted), a server neither there nor busy is sent again while
-- attempts remain. Any other keeps the cloud's refusal: a server in ERROR, or not found.
function Op:look_up_refused(list, class, resend)
  local l, action = self.ledger, self.action
  local verdict = { class = "done", confirm = action.wanted }
  local function refuse(items)
    for _, w in ipairs(items) do l:failed(w.id, w.err) end
  end
  if not self.sched:can_send() then return refuse(list) end
  local ids = {}
  for i, w in ipairs(list) do ids[i] = w.id end
  servers.lookup(self.sched, self.project_id, self.service, ids, function(found, _, missed)
    local unseen, recheck, again = {}, {}, {}
    for _, id in ipairs(missed or {}) do unseen[id] = true end
    for _, w in ipairs(list) do
      local s = found and not unseen[w.id] and found[w.id] or nil
      local seen
      if not s then seen = "permanent"
      -- In the wanted state already: no failure, whichever server the refusal was about.
      elseif class == "done" or s.status == action.wanted then seen = classify.confirm(verdict, s)
      else seen = task_of(s) and "wait" or "permanent" end
      if seen == "done" then
        l:already(w.id, action.wanted)
      elseif seen == "wait" and not self:expired() then
        recheck[#recheck + 1] = w
      elseif seen == "permanent" and s and resend and not task_of(s) and s.status ~= action.wanted
        and (self.sends[w.id] or 1) < self.attempts and not self:expired() then
        again[#again + 1] = w.id
      else
        l:failed(w.id, w.err)
      end
    end
    if #recheck > 0 then
      self.sched:after(math.max(self.poll_interval, 0.05), function()
        self:look_up_refused(recheck, class, resend)
      end)
    end
    if #again > 0 then self:submit(again, true) end
    progress(self, "wait")
  end)
end

-- When neither the answer nor a lookup can tell: say so, rather than report the
-- transfer's error as if the stop had not happened.
local function unconfirmed(err, lookup_err, maybe, name)
  local what = (maybe and "the %s may have been accepted" or "the %s was accepted"):format(name)
  return errors.new("cloud.unconfirmed", ("%s but its outcome is unknown (%s); looking the server up failed too (%s)")
    :format(what, tostring(err), tostring(lookup_err)), err and err.status, err and err.request_id)
end

-- A call whose answer was lost, for a server still untouched when wait_timeout ended,
-- before the cloud was given its time to show the action (resend_grace): it may yet happen.
local function untouched_at_deadline(err, grace, name)
  return errors.new("cloud.unconfirmed", ("the %s may have been accepted but its outcome is unknown (%s);"
    .. " the server was still untouched when wait_timeout ended, before the %gs the cloud is given to"
    .. " show a %s it took"):format(name, tostring(err), grace, name), err and err.status, err and err.request_id)
end

-- Whether task state `task` is the action's own (powering-off for a stop; some readings of
-- the reference spell it powering_off).
local function own_task(task, action)
  return task ~= nil and (task:gsub("_", "-")) == action.under_way
end

-- A server seen with a task on it (task_state powering-off for a stop, or `task`, another)
-- when wait_timeout ended.
local function still_under_way(wait_timeout, action, task)
  if task and not own_task(task, action) then
    return errors.new("cloud.wait_timeout", ("the server was still busy (task %s) after %gs; the %s may yet"
      .. " complete"):format(task, wait_timeout, action.name))
  end
  return errors.new("cloud.wait_timeout", ("the server's %s was still under way (%s) after %gs;"
    .. " it may yet complete"):format(action.name, action.under_way, wait_timeout))
end

-- What a looked-up server says about the action: "done" (in the wanted state, SHUTOFF for
-- a stop, with no other task on it), "under_way" (the action's task on it), "busy" (another
-- task: a SHUTOFF server being started is not stopped), or nil (untouched). Under way or
-- busy, it was touched: never to be sent again.
local function state_of(s, action)
  local task = task_of(s)
  local ours = own_task(task, action)
  if s.status == action.wanted and (ours or not task) then return "done" end
  if ours then return "under_way" end
  if task then return "busy" end
end

-- A server with a task on it when the wait ended (Op:cut_short_error when it ended with
-- the process's shutdown).
function Op:under_way_error(s)
  local task = task_of(s)
  if not self.cut_short then return still_under_way(self.wait_timeout, self.action, task) end
  return self:cut_short_error(("a task was under way on the server (%s)"):format(tostring(task or
    self.action.under_way)))
end

-- A lookup that failed is tried again (until the deadline) when another try may tell:
-- the network or the cloud's load, not a refusal that will stand (403, 401, TLS, DNS).
local LASTING = { ["cloud.dns"] = true, ["cloud.tls"] = true, ["cloud.response_too_large"] = true }
local function worth_looking_again(err)
  if not err then return true end
  if LASTING[err.code] then return false end
  if err.kind == "transport" or err.code == "cloud.bad_response" then return true end
  return retry.again(classify.answer{ status = err.status or 0, code = err.code })
end

--- A stop call whose answer was lost (a timeout, a dropped connection, an unreadable
-- answer) may have been accepted, now or later (a cloud may take a call after the client
-- gave up on it). Its servers are looked up soon after, then as the poll plan paces its
-- lookups (kind "lookup": the budget job polls share), until each shows what became of the
-- call (Op:looked). A server still untouched is sent again only once `resend_grace` has
-- passed, the time the cloud is given to show a stop it took (its documented processing
-- time; by default max(2 x timeout, 60 s)).
function Op:doubt(ids, err)
  local lost = { ids = ids, err = err, resend_at = core.now() + self.resend_grace, touched = {} }
  self:plan_add({ lost = lost }, "lookup")
end

-- A lost call's lookup, due by the plan. Past the deadline's last round nothing more is
-- sent: what the last look saw settles its servers.
function Op:look(j)
  local lost = j.state.lost
  lost.ids = self:open_ids(lost.ids) -- the deadline's last look, or a resent call's job, may settle some
  if #lost.ids == 0 then return self.plan:drop(j) end
  if not self.sched:can_send() then
    self.plan:drop(j)
    return self:give_up(lost.ids, lost.err, lost.resend_at)
  end
  local sent = core.now()
  servers.lookup(self.sched, self.project_id, self.service, lost.ids, function(found, lookup_err, missed)
    self:looked(j, lost, sent, found, lookup_err, missed)
  end)
end

--- What a lookup (sent at `sent`) showed of a lost call's servers. In the wanted state: done.
-- With a task on it (powering-off, or any other): the call reached it, or something else
-- holds it; either way it is never sent again, only looked at until its task ends (with
-- `wait` false, powering-off is done: accepted). Untouched: looked at again until
-- `resend_grace` has passed, then sent again while attempts remain; one seen with a task
-- before and untouched now is not (its task ended elsewhere than the wanted state: the
-- call's error stands). Not found: Ecs.0114. A server the lookup missed is looked up again
-- as the plan allows (backing off while lookups fail), unless another try cannot tell.
function Op:looked(j, lost, sent, found, lookup_err, missed)
  local l, action, err = self.ledger, self.action, lost.err
  local now, expired = core.now(), self:expired()
  local unseen, still, resend, unknown = {}, {}, {}, {}
  for _, id in ipairs(missed or {}) do unseen[id] = true end
  -- Those settled meanwhile (the deadline's last look) keep the first outcome.
  for _, id in ipairs(self:open_ids(lost.ids)) do
    local s = not unseen[id] and found[id] or nil
    local state = s and state_of(s, action)
    if unseen[id] then
      unknown[#unknown + 1] = id
    elseif state == "done" or (state == "under_way" and not self.wait) then
      l:stopped(id)
      lost.taken = true
    elseif state then
      lost.touched[id], lost.taken = true, true
      if expired then l:failed(id, self:under_way_error(s))
      else still[#still + 1] = id end
    elseif not s then
      l:failed(id, errors.new("Ecs.0114", "the server was not found"))
    elseif lost.touched[id] then
      l:failed(id, err)
    elseif now < lost.resend_at and not expired then
      still[#still + 1] = id
    elseif (self.sends[id] or 1) < self.attempts and not expired then
      resend[#resend + 1] = id
      self.doubted[id] = true
    elseif now < lost.resend_at then
      l:failed(id, self.cut_short and self:cut_short_error(("its answer was lost (%s), the server still untouched")
        :format(tostring(err))) or untouched_at_deadline(err, self.resend_grace, action.name))
    else
      l:failed(id, err)
    end
  end
  if #unknown > 0 and (expired or not worth_looking_again(lookup_err)) then
    local why = unconfirmed(err, lookup_err, true, action.name)
    for _, id in ipairs(unknown) do l:failed(id, why) end
    unknown = {}
  end
  for _, id in ipairs(unknown) do still[#still + 1] = id end
  lost.ids = still
  if #still == 0 then
    -- Seen taken and done: its age tells when the next lost call's servers will be (the
    -- plan's ending age for lookups). Else sent again or settled otherwise: it tells nothing.
    if lost.taken then self.plan:polled(j, true, sent) else self.plan:drop(j) end
  elseif #unknown > 0 then
    lost.failures = (lost.failures or 0) + 1
    local interval = math.max(self.poll_interval, 0.05)
    self.plan:failed(j, now + retry.backoff(lost.failures, interval, math.min(64 * interval, 60)))
  else
    lost.failures = nil
    self.plan:polled(j, false, sent)
  end
  self:plan_changed()
  if #resend > 0 then self:submit(resend, true) end
  progress(self, "wait")
end

--- The operation stops waiting because the process is shutting down (the scheduler's
-- at_shutdown): the deadline comes `shutdown_grace` after it began, and every server still
-- without an outcome then ends as Op:cut_short_error says.
function Op:shutting_down(deadline)
  self.cut_short = true
  if deadline < self.deadline then
    self.deadline = deadline
    self.plan.deadline = deadline
    self:schedule_polls()
  end
  self.log(("shutdown: waiting at most %gs more for the jobs already accepted"):format(
    math.max(0, self.deadline - core.now())))
end

--- A server the stop may have reached, still without an outcome when the shutdown's grace
-- ended (`what`: what was last known of it): unconfirmed, never "not sent".
function Op:cut_short_error(what)
  return errors.new("cloud.unconfirmed", ("%s when the process began shutting down and stopped waiting"
    .. " (shutdown_grace %gs); the %s was sent and may yet happen"):format(what, self.shutdown_grace,
    self.action.name))
end

-- An accepted call with no outcome when wait_timeout ended.
local function no_outcome(wait_timeout, name)
  return errors.new("cloud.wait_timeout", ("no outcome was confirmed within wait_timeout (%gs);"
    .. " the %s was accepted and may yet happen"):format(wait_timeout, name))
end

--- The deadline's last look: every server still without an outcome is looked up, at the
-- deadline, with whatever else is due then (scheduler: the last round). A stop it shows
-- done is recorded; the rest of what it saw settles the ids given up on afterwards,
-- when nothing more can be sent (Op:give_up).
function Op:last_look()
  local ids = self.ledger:open()
  self.last = false -- under way
  local function saw(found, lookup_err, missed)
    local seen = { found = found, looked = {}, err = lookup_err }
    for _, id in ipairs(ids) do seen.looked[id] = true end
    for _, id in ipairs(missed or {}) do seen.looked[id] = false end
    for _, id in ipairs(ids) do
      local s = seen.looked[id] and found[id]
      local state = s and state_of(s, self.action)
      if state == "done" or (state == "under_way" and not self.wait) then self.ledger:stopped(id) end
    end
    self.last = seen
    local deferred = self.deferred
    self.deferred = {}
    for _, d in ipairs(deferred) do self:give_up(d[1], d[2], d[3]) end
    progress(self, "wait")
  end
  if #ids == 0 then return saw({}) end
  servers.lookup(self.sched, self.project_id, self.service, ids, saw)
end

--- Past the deadline nothing more is sent, not even a lookup: each id gets what the
-- deadline's last look saw of it (waiting for that look's answer when it is under way).
-- `err` and `resend_at` as for Op:resolve.
function Op:give_up(ids, err, resend_at)
  if not self.last then -- the last look is yet to come, or under way
    self.deferred[#self.deferred + 1] = { ids, err, resend_at }
    return
  end
  local seen = self.last
  local l = self.ledger
  for _, id in ipairs(ids) do
    local s = seen.found[id]
    local state = s and state_of(s, self.action)
    if l:pending(id) then -- else settled meanwhile: the first outcome stands
      if not seen.looked[id] then
        local why = seen.err or errors.new("cloud.wait_timeout", (self.cut_short and "the shutdown's grace"
          or "wait_timeout") .. " ended before it could be looked up")
        l:failed(id, unconfirmed(err, why, resend_at and true, self.action.name))
      elseif state == "done" or (state == "under_way" and not self.wait) then
        l:stopped(id)
      elseif self.cut_short and (state or resend_at or err.unsent) then
        l:failed(id, state and self:under_way_error(s)
          or self:cut_short_error(("the server was still untouched (%s)"):format(tostring(err))))
      elseif state then -- under way, or busy with another task
        local timed_out = err.code == "cloud.wait_timeout" and not err.unsent
        l:failed(id, timed_out and err or still_under_way(self.wait_timeout, self.action, task_of(s)))
      elseif not s then
        l:failed(id, errors.new("Ecs.0114", "the server was not found"))
      elseif resend_at then
        l:failed(id, untouched_at_deadline(err, self.resend_grace, self.action.name))
      else
        l:failed(id, err.unsent and no_outcome(self.wait_timeout, self.action.name) or err)
      end
    end
  end
  progress(self, "wait")
end

--- Settles ids whose fate is unknown (a job that is gone, or ended without a word on them;
-- a server sent again after a lost answer whose second stop failed) by looking the servers
-- up: in the wanted state is done; with a task on it, looked at again until the task ends;
-- otherwise `err` stands (nothing here is sent again). A lookup that fails is tried again,
-- backing off, until the deadline (`failures`: how many times in a row it failed).
function Op:resolve(ids, err, failures)
  if #ids == 0 then return end
  if self.watching then return self:unanswered(ids, err) end
  -- A lookup due at the deadline still goes out; after it, none can.
  if not self.sched:can_send() then return self:give_up(ids, err, false) end
  servers.lookup(self.sched, self.project_id, self.service, ids, function(found, lookup_err, missed)
    local recheck, again = {}, {}
    local unseen = {}
    for _, id in ipairs(missed or {}) do unseen[id] = true end
    local expired = self:expired()
    for _, id in ipairs(ids) do
      local s = found[id]
      local state = s and state_of(s, self.action)
      if unseen[id] then
        again[#again + 1] = id
      elseif state == "done" then
        self.ledger:stopped(id)
      elseif state == "under_way" and not self.wait then
        self.ledger:stopped(id) -- accepted by a job we did not see
      elseif state then
        if expired then self.ledger:failed(id, self:under_way_error(s))
        else recheck[#recheck + 1] = id end
      elseif not s then
        self.ledger:failed(id, errors.new("Ecs.0114", "the server was not found"))
      else
        self.ledger:failed(id, err)
      end
    end
    if #again > 0 then
      if expired or not worth_looking_again(lookup_err) then
        local unknown = unconfirmed(err, lookup_err, false, self.action.name)
        for _, id in ipairs(again) do self.ledger:failed(id, unknown) end
      else
        local n = (failures or 0) + 1
        self.sched:after(retry.backoff(n, math.max(self.backoff_base, 0.05), math.max(self.backoff_cap, 0.05)),
          function() self:resolve(again, err, n) end)
      end
    end
    if #recheck > 0 then
      -- A task under way: never sent again, only watched until it ends.
      self.sched:after(math.max(self.poll_interval, 0.05), function() self:resolve(recheck, err) end)
    end
    progress(self, "wait")
  end)
end

--- The time a stop whose answer was lost is given to show before it is sent again, when
-- the caller sets none: at least twice the request timeout and a minute (the cloud takes
-- tens of seconds to act on a stop; ECS-BMS.md).
function M.resend_grace(policy)
  return math.max(2 * policy.timeout, 60)
end

-- Watching only (M.watch): an ended job's word on each of its servers.
function Op:report(job, v)
  local out, l = self.watching, self.ledger
  local failed = {}
  for _, f in ipairs(v.failed) do failed[f.id] = f end
  for _, id in ipairs(job.ids) do
    if failed[id] then
      out.failed[#out.failed + 1] = failed[id]
      l:failed(id, failed[id])
    elseif l:pending(id) then
      local why = ("job %s has no outcome for it"):format(job.job_id)
      out.unknown[#out.unknown + 1] = { id = id, why = why, ended = true }
      l:failed(id, errors.new("cloud.no_sub_job", why))
    else
      out.done[#out.done + 1] = id -- its sub-job did the action (the C reader marked it)
    end
  end
  progress(self, "wait")
end

-- Watching only: servers whose job could not tell (gone, refused, not ended in time).
function Op:unanswered(ids, err)
  local out, l = self.watching, self.ledger
  for _, id in ipairs(ids) do
    if l:pending(id) then
      out.unknown[#out.unknown + 1] = { id = id, why = tostring(err), err = err,
                                        ended = err.code ~= "cloud.wait_timeout" }
      l:failed(id, err)
    end
  end
end

--- Asks jobs accepted earlier what they did to their servers (a restore asks a stop's
-- jobs), with the operation's own machinery: each is polled as the poll plan says until it
-- ends or the deadline comes, and read by the ledger's C reader. `c`: sched (whose deadline
-- is `deadline`), project_id, service, poll_interval, wait_timeout, deadline, log, and
-- `jobs` (job id -> its servers' ids; a server in one job only), and optionally `action`
-- (whose jobs they are: stop when nil) and `on_progress`. Returns `{ done = {id...},
-- failed = { {id, code, message, errorcode_message}... }, unknown = { {id, why, err, ended}
-- ... }, status = { [job id] = its last status } }`: `ended` false when the job had not
-- ended by the deadline.
function M.watch(c)
  local out, ids = { done = {}, failed = {}, unknown = {}, status = {} }, {}
  for _, list in pairs(c.jobs) do
    for _, id in ipairs(list) do ids[#ids + 1] = id end
  end
  if #ids == 0 then return out end
  local op = setmetatable({
    action = c.action or actions.stop, sched = c.sched, ledger = ledger.new(ids), project_id = c.project_id,
    service = c.service, log = c.log, poll_interval = c.poll_interval, wait_timeout = c.wait_timeout,
    deadline = c.deadline, watching = out, on_progress = c.on_progress,
  }, Op)
  op.plan = poll_plan.new(c.poll_interval, op.deadline, core.now())
  for job_id, list in pairs(c.jobs) do
    local b = op.ledger:batch_of(list)
    op:watch(op.ledger:job(b, job_id), b)
  end
  op.sched:run()
  for _, job in ipairs(op.ledger.jobs) do out.status[job.job_id] = job.status end
  -- A job whose poll was never answered before the deadline has not told.
  op:unanswered(op.ledger:open(), errors.new("cloud.wait_timeout", ("the job had not ended within %gs")
    :format(c.wait_timeout)))
  op.ledger:close()
  return out
end

--- Runs the action on every id of ledger `l` and records each outcome in it.
-- @tparam table c sched (a scheduler, whose deadline is the operation's), ledger,
--   project_id, service ("ecs" or "bms"), policy (the client's: attempts, timeout, base,
--   cap), log (function(line)), action (a table of cloud.op.actions; stop when nil), and `o`,
--   the checked options (type, wait,
--   poll_interval, wait_timeout, deadline (core.now() time; default: wait_timeout from
--   now), retry_failed, resend_grace, shutdown_grace, on_progress)
function M.run(c)
  local o = c.options
  local op = setmetatable({
    action = c.action or actions.stop,
    sched = c.sched, ledger = c.ledger, project_id = c.project_id, service = c.service, log = c.log,
    attempts = c.policy.attempts, later = c.policy.later,
    backoff_base = c.policy.base, backoff_cap = c.policy.cap,
    resend_grace = o.resend_grace or M.resend_grace(c.policy), shutdown_grace = o.shutdown_grace,
    kind = o.type, wait = o.wait, poll_interval = o.poll_interval, wait_timeout = o.wait_timeout,
    deadline = o.deadline or core.now() + o.wait_timeout, retry_failed = o.retry_failed, on_progress = o.on_progress,
    accepted = 0, sends = {}, resent = {}, doubted = {},
    last = nil, deferred = {}, -- the deadline's last look: nil before it, false under way, then what it saw
  }, Op)
  op.plan = poll_plan.new(o.poll_interval, op.deadline, core.now())
  op.sched:at_deadline(function() op:last_look() end)
  op.sched:at_shutdown(o.shutdown_grace, function(deadline) op:shutting_down(deadline) end)
  op:submit(op.ledger:ids())
  op.sched:run()
end

return M
