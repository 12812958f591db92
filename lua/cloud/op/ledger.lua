--- The per-server ledger of one stop: every distinct id ends in exactly one outcome, and
-- the ledger is the only thing that records one. The outcomes live in a C set
-- (core.idset), not in a Lua table: a million servers then cost a few bytes each beyond
-- their ids. The ledger creates its set and is the only thing that closes it; nothing
-- else sees it, nor a batch number. Failures keep their details here. An id ends stopped,
-- failed, or already (found in the state the action wants, which this operation did not
-- bring about: reported in the result's `skipped`); all three live in the C set. With a
-- recorder (cloud.record.write), every batch and every outcome also goes into the record as it
-- happens.
-- @module cloud.op.ledger
local core = require "cloud.core"
local classify = require "cloud.classify"
local errors = require "cloud.errors"

local M = {}
local Ledger = {}
Ledger.__index = Ledger

-- What a job answer means (cloud.classify's job rows), handed to the C scanner that
-- applies it (core.job_outcomes): sub-jobs count once their job has ended, and a sub-job
-- with status `stopped` did its server's action.
local JOB_RULE = { ended = classify.job.ended, stopped = classify.job.sub_done }
-- The sub-job status that says its server's action failed; any other status left in an
-- ended job is no outcome.
local SUB_FAILED = classify.job.sub_failed

local function wrap(set)
  return setmetatable({ set = set, failure = {}, jobs = {} }, Ledger)
end

--- A ledger of the distinct ids of `ids`, any array of strings (ids read from the cloud);
-- anything else raises the argument error (core.idset).
function M.new(ids)
  return wrap(core.idset(ids, "cloud.op.ledger"))
end

--- A ledger of a caller's ids, checked in one pass in C (a million in milliseconds): non-
-- empty strings without control characters, in an array without holes. A refusal raises,
-- from C, the argument error of `where`, the call they were given to ("client:stop_ecs"),
-- naming the field ("ids" or "ids[3]"); `where` also names that call in the error should
-- the caller change them meanwhile.
function M.checked(ids, where)
  local l = wrap(core.checked_idset(ids, where))
  l.where = where
  return l
end

-- The set reads the ids where the caller keeps them; C noticed they were changed (`why`).
-- That is the caller's mistake, and no result could be true: raised, with the jobs the
-- cloud accepted so far (their ids are the ledger's own copies), and the set closed.
local function changed(self, why)
  local jobs = self.jobs
  self:close()
  local ok, err = pcall(errors.argument, self.where or "cloud.op.ledger", "ids", why
    .. "; leave the array unchanged until the call returns. Stops the cloud accepted so far may still"
    .. " complete: this error's jobs list them")
  assert(not ok)
  err.jobs = jobs
  error(err, 0)
end

-- set:list(outcome), or raised as changed.
local function list(self, outcome)
  local ids, why = self.set:list(outcome)
  if not ids then changed(self, why) end
  return ids
end

--- Sends every batch and outcome from now on to `recorder` (a cloud.record.write recorder).
function Ledger:record_to(recorder)
  self.recorder = recorder
end

--- Calls `fn(id, state, failure)` as each id gets its outcome from now on: state "done",
-- "already" or "failed" (failure: its code and message). Stops that overlap this one wait
-- for these (cloud.op.inflight).
function Ledger:observe(fn)
  self.observer = fn
end

-- What the ids C may settle in one go need looked at before: with a recorder or observer.
local function watched(self)
  return self.recorder or self.observer
end

-- Tells the observer the outcome of each of `open` (ids open before) that has one now.
local function observe_done(self, open)
  local fn, set = self.observer, self.set
  if not fn then return end
  for _, id in ipairs(open) do
    local state = set:state(id)
    if state ~= "open" then fn(id, state == "stopped" and "done" or state, self.failure[id]) end
  end
end

-- The ids of `ids` still open: what an outcome applied in C may settle (with a recorder or
-- an observer only).
local function open_of(self, ids)
  local set, open = self.set, {}
  for _, id in ipairs(ids) do
    if set:state(id) == "open" then open[#open + 1] = id end
  end
  return open
end

-- Tells the recorder which of `open` (ids open before) are now done, if any.
local function record_done(self, open, how, job_id)
  local set, done = self.set, {}
  for _, id in ipairs(open) do
    if set:state(id) == "stopped" then done[#done + 1] = id end
  end
  if #done > 0 then self.recorder:done(done, how, job_id) end
end

--- The distinct ids, in order: the caller's own array when it had no repeats.
function Ledger:ids()
  return self.set:ids()
end

function Ledger:size()
  return self.set:size()
end

--- A ledger of `ids` alone: this one when `ids` is its own array (nothing left out),
-- else a new one, and this one's set is closed.
function Ledger:narrow(ids)
  if ids == self:ids() then return self end
  self:close()
  return M.new(ids)
end

-- A batch: the ids of one stop call and the set's number for them, kept together so
-- that a job's answer is always read against the ids its call sent.
local Batch = {}
Batch.__index = Batch

local function batch(self, ids, number)
  return setmetatable({ ids = ids, number = number, ledger = self }, Batch)
end

--- The batch of the ids at positions i..j of :ids() (a first submission).
function Ledger:batch(i, j)
  local ids, number = self.set:batch(i, j)
  if not ids then changed(self, number) end
  return batch(self, ids, number)
end

--- The batch of `ids`, an array of this ledger's ids (a resend).
function Ledger:batch_of(ids)
  return batch(self, self.set:batch(ids))
end

local function check_batch(self, b)
  if getmetatable(b) ~= Batch or b.ledger ~= self then
    error("cloud.op.ledger: not a batch of this ledger", 3)
  end
end

--- A job the cloud accepted for batch `b`, listed in the result; its status is
-- "SUBMITTED" until a poll tells more (with wait = false, nobody polls it).
-- `request_id`: of the answer that carried the job id (for the record).
function Ledger:job(b, job_id, request_id)
  check_batch(self, b)
  local job = { job_id = job_id, ids = b.ids, status = "SUBMITTED" }
  self.jobs[#self.jobs + 1] = job
  b.job_id = job_id
  if self.recorder then self.recorder:batch(job_id, request_id, b.ids, b.call) end
  return job
end

--- Batch `b` is about to be sent: with a recorder, its intent line goes to disk first.
-- Returns true, or nil and the record's error, and then the call must not be sent.
function Ledger:sending(b)
  check_batch(self, b)
  if not self.recorder then return true end
  local call, err = self.recorder:intent(b.ids)
  if not call then return nil, err end
  b.call = call
  return true
end

function Ledger:pending(id)
  return self.set:state(id) == "open"
end

--- The ids with no outcome yet, in order.
function Ledger:open()
  return list(self, "open")
end

--- Records `id` as done, as a lookup showed it.
function Ledger:stopped(id)
  if not self.set:mark(id, "stopped") then return end
  if self.recorder then self.recorder:done({ id }, "lookup") end
  if self.observer then self.observer(id, "done") end
end

--- Records that `id` was found already in `state`, the state the action wants (a stop of a
-- server that was SHUTOFF): no failure, and nothing this operation changed.
function Ledger:already(id, state)
  if self.wanted and self.wanted ~= state then
    error("cloud.op.ledger: one operation wants one state, not " .. tostring(state), 2)
  end
  self.wanted = state
  if not self.set:mark(id, "already") then return end
  if self.recorder then self.recorder:skipped({ { id = id, reason = "already " .. state, status = state } }) end
  if self.observer then self.observer(id, "already") end
end

--- Records every id of batch `b` as stopped (by position for a first submission: no lookups).
function Ledger:stopped_batch(b)
  check_batch(self, b)
  local open = watched(self) and open_of(self, b.ids)
  self.set:mark_all(b.ids, "stopped", b.number)
  if open and self.recorder then record_done(self, open, "accepted", b.job_id) end
  if open then observe_done(self, open) end
end

--- Records a failure: `err` carries code, message, status, request_id, and the sub-job's
-- errorcode_message and the error's details when the cloud gave them.
function Ledger:failed(id, err)
  if not self.set:mark(id, "failed") then return end
  self.failure[id] = { id = id, code = err.code, message = err.message, status = err.status,
                       request_id = err.request_id, errorcode_message = err.errorcode_message,
                       details = err.details }
  if self.recorder then self.recorder:failed(self.failure[id]) end
  if self.observer then self.observer(id, "failed", self.failure[id]) end
end

--- Records the same failure for each of `ids`.
function Ledger:fail(ids, err)
  for _, id in ipairs(ids) do self:failed(id, err) end
end

local function str(v)
  if type(v) == "string" and v ~= "" then return v end
end

--- Applies a job answer (`body`: a string or a cloud.core.body, read in place) for batch
-- `b`. The servers its sub-jobs say stopped are recorded (in C); the rest is handed back
-- for the stop to decide on, as `{ status =, ended =, error_code =, fail_reason =,
-- failed = { {id =, code =, message =, errorcode_message =} ... }, unknown = { id ... } }`:
-- `failed`, the servers whose sub-job failed (its code, its message, and its
-- entities.errorcode_message when there is one); `unknown`, the open servers of an
-- ended job with no outcome in it (no sub-job, or one that did not end). Returns nil and
-- why when the answer is not a job answer.
function Ledger:apply_job(body, b)
  check_batch(self, b)
  local open = watched(self) and open_of(self, b.ids)
  local data, why = core.job_outcomes(body, self.set, b.number, b.ids, JOB_RULE)
  if not data then return nil, why end
  if open and self.recorder then record_done(self, open, "job", b.job_id) end
  if open then observe_done(self, open) end
  local status = str(data.status)
  local v = { status = status, ended = JOB_RULE.ended[status] == true, error_code = str(data.error_code),
              fail_reason = str(data.fail_reason), failed = {}, unknown = data.missing }
  local server_id, sub_status, unknown, failed = data.server_id, data.sub_status, v.unknown, v.failed
  -- data holds the first sub-job of each open server of the batch that did not stop it.
  for i = 1, data.sub_jobs do
    if sub_status[i] == SUB_FAILED then
      local ecm, reason = str(data.sub_errorcode_message[i]), str(data.sub_fail_reason[i])
      failed[#failed + 1] = {
        id = server_id[i],
        -- The sub-job's own code; else the one its messages name; else the job's.
        code = str(data.sub_error_code[i]) or classify.code_in(ecm) or classify.code_in(reason) or v.error_code
          or "cloud.sub_job_failed",
        message = reason or ecm or v.fail_reason or "the cloud reported this server's stop as failed",
        errorcode_message = ecm,
      }
    else
      unknown[#unknown + 1] = server_id[i]
    end
  end
  return v
end

--- How many ids have an outcome, how many of those failed, and how many were found
-- already in the wanted state (the result's skipped, not its stopped).
function Ledger:settled()
  local _, stopped, failed, already = self.set:counts()
  return stopped + failed + already, failed, already
end

--- Gives the set's C memory back now (the collector does not see it); idempotent.
function Ledger:close()
  self.set:close()
end

--- The public result table. Anything still open is reported as unconfirmed, so no id is lost.
-- `asked`: `requested` (how many servers the call asked for, skipped ones included; default:
-- the ledger's size) and `by_ids` (the servers were named, not chosen by a filter).
-- `done`: the result's name for the servers done ("stopped", the default, or the action's,
-- e.g. "started"). The ids found already in the wanted state join `extra.skipped` (the
-- plan's skips), with reason "already <state>" as a filter's skip says it. The ledger is
-- closed afterwards.
function Ledger:finish(extra, done, asked)
  asked = asked or {}
  local set = self.set
  local open = list(self, "open")
  if #open > 0 then
    local err = errors.new("cloud.unconfirmed", "no outcome was confirmed for this server")
    for _, id in ipairs(open) do self:failed(id, err) end
  end
  local stopped, failed = list(self, "stopped"), list(self, "failed")
  for i, id in ipairs(failed) do failed[i] = self.failure[id] end
  local res = { requested = asked.requested or set:size(), [done or "stopped"] = stopped, failed = failed,
                jobs = self.jobs }
  for k, v in pairs(extra or {}) do res[k] = v end
  -- The one place `ok` is decided: nothing failed, nothing cancelled, no skip carries an
  -- error (a restore that could not tell), asked by id, no server was skipped as
  -- protected (it was asked for and not acted on), and no stop this call joined failed.
  local ok = #failed == 0 and not res.cancelled
  for _, j in ipairs(res.joined or {}) do
    if j.outcome == "failed" then ok = false end
  end
  for _, s in ipairs(res.skipped or {}) do
    if s.error or (asked.by_ids and s.reason == "protected") then ok = false end
  end
  res.ok = ok
  local already = list(self, "already")
  if #already > 0 then
    local skipped, reason = {}, "already " .. self.wanted
    for i, s in ipairs(res.skipped or {}) do skipped[i] = s end
    for _, id in ipairs(already) do
      skipped[#skipped + 1] = { id = id, status = self.wanted, reason = reason }
    end
    res.skipped = skipped
  end
  self:close()
  return res
end

return M
