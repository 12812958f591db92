--- The per-server ledger of one stop: every distinct id ends in exactly one outcome, and
-- the ledger is the only thing that records one. The outcomes live in a C set
-- (core.idset), not in a Lua table: a million servers then cost a few bytes each beyond
-- their ids. The ledger creates its set and is the only thing that closes it; nothing
-- else sees it, nor a batch number. Failures keep their details here. An id ends stopped,
-- failed, or already (found in the state the action wants, which this operation did not
-- bring about: reported in the result's `skipped`); all three live in the C set.
-- @module cloud.ledger
local core = require "cloud.core"
local classify = require "cloud.classify"
local errors = require "cloud.errors"

local M = {}
local Ledger = {}
Ledger.__index = Ledger

-- What a job answer means, decided here and handed to the C scanner that applies it
-- (core.job_outcomes): sub-jobs count once their job has ended, and a sub-job with
-- status `stopped` stopped its server.
local JOB_RULE = { ended = { SUCCESS = true, FAIL = true }, stopped = "SUCCESS" }
-- The sub-job status that says the stop of its server failed; any other status left in
-- an ended job is no outcome.
local SUB_FAILED = "FAIL"

local function wrap(set)
  return setmetatable({ set = set, failure = {}, jobs = {} }, Ledger)
end

--- A ledger of the distinct ids of `ids`, any array of strings (ids read from the cloud).
function M.new(ids)
  local set, why = core.idset(ids)
  if not set then error("cloud.ledger: " .. why, 2) end
  return wrap(set)
end

--- A ledger of a caller's ids, checked in one pass in C (a million in milliseconds): non-
-- empty strings without control characters, in an array without holes. Returns the
-- ledger, or nil and what is wrong with the ids.
function M.checked(ids)
  local set, why = core.idset(ids, true)
  if not set then return nil, why end
  return wrap(set)
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
  return batch(self, self.set:batch(i, j))
end

--- The batch of `ids`, an array of this ledger's ids (a resend).
function Ledger:batch_of(ids)
  return batch(self, self.set:batch(ids))
end

local function check_batch(self, b)
  if getmetatable(b) ~= Batch or b.ledger ~= self then
    error("cloud.ledger: not a batch of this ledger", 3)
  end
end

--- A job the cloud accepted for batch `b`, listed in the result; its status is
-- "SUBMITTED" until a poll tells more (with wait = false, nobody polls it).
function Ledger:job(b, job_id)
  check_batch(self, b)
  local job = { job_id = job_id, ids = b.ids, status = "SUBMITTED" }
  self.jobs[#self.jobs + 1] = job
  return job
end

function Ledger:pending(id)
  return self.set:state(id) == "open"
end

function Ledger:stopped(id)
  self.set:mark(id, "stopped")
end

--- Records that `id` was found already in `state`, the state the action wants (a stop of a
-- server that was SHUTOFF): no failure, and nothing this operation changed.
function Ledger:already(id, state)
  if self.wanted and self.wanted ~= state then
    error("cloud.ledger: one operation wants one state, not " .. tostring(state), 2)
  end
  self.wanted = state
  self.set:mark(id, "already")
end

--- Records every id of batch `b` as stopped (by position for a first submission: no lookups).
function Ledger:stopped_batch(b)
  check_batch(self, b)
  self.set:mark_all(b.ids, "stopped", b.number)
end

--- Records a failure: `err` carries code, message, status, request_id, and the sub-job's
-- errorcode_message when the cloud gave one.
function Ledger:failed(id, err)
  if not self.set:mark(id, "failed") then return end
  self.failure[id] = { id = id, code = err.code, message = err.message, status = err.status,
                       request_id = err.request_id, errorcode_message = err.errorcode_message }
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
  local data, why = core.job_outcomes(body, self.set, b.number, b.ids, JOB_RULE)
  if not data then return nil, why end
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

--- How many ids have an outcome, and how many of those failed.
function Ledger:settled()
  local _, stopped, failed, already = self.set:counts()
  return stopped + failed + already, failed
end

--- Gives the set's C memory back now (the collector does not see it); idempotent.
function Ledger:close()
  self.set:close()
end

--- The public result table. Anything still open is reported as unconfirmed, so no id is lost.
-- The ids found already in the wanted state join `extra.skipped` (the plan's skips), with
-- reason "already <state>" as a filter's skip says it. The ledger is closed afterwards.
function Ledger:finish(extra)
  local set = self.set
  local open = set:list("open")
  if #open > 0 then
    local err = errors.new("cloud.unconfirmed", "no outcome was confirmed for this server")
    for _, id in ipairs(open) do self:failed(id, err) end
  end
  local failed = set:list("failed")
  for i, id in ipairs(failed) do failed[i] = self.failure[id] end
  local res = { ok = #failed == 0, requested = set:size(), stopped = set:list("stopped"), failed = failed,
                jobs = self.jobs }
  for k, v in pairs(extra or {}) do res[k] = v end
  local already = set:list("already")
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
