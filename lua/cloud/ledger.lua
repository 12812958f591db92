--- The per-server ledger of one stop: every distinct id ends in exactly one outcome.
-- The outcomes live in a C set (core.idset), not in a Lua table: a million servers then
-- cost a few bytes each beyond their ids. Failures keep their details here.
-- @module cloud.ledger
local core = require "cloud.core"
local errors = require "cloud.errors"

local M = {}
local Ledger = {}
Ledger.__index = Ledger

--- `set`: the core.idset of the distinct ids asked for (core.idset(ids, true) checked them);
-- or `ids`, any array of strings, from which one is made.
function M.new(ids, set)
  if not set then
    local why
    set, why = core.idset(ids)
    if not set then error("cloud.ledger: " .. why, 2) end
  end
  return setmetatable({ set = set, ids = set:ids(), failure = {}, jobs = {} }, Ledger)
end

function Ledger:pending(id)
  return self.set:state(id) == "open"
end

function Ledger:stopped(id)
  self.set:mark(id, "stopped")
end

--- Records a failure: `err` carries code, message, status, request_id.
function Ledger:failed(id, err)
  if not self.set:mark(id, "failed") then return end
  self.failure[id] = { id = id, code = err.code, message = err.message, status = err.status,
                       request_id = err.request_id }
end

--- Records the same failure for each of `ids`.
function Ledger:failed_all(ids, err)
  for _, id in ipairs(ids) do self:failed(id, err) end
end

--- How many ids have an outcome, and how many of those failed.
function Ledger:settled()
  local _, stopped, failed = self.set:counts()
  return stopped + failed, failed
end

--- The public result table. Anything still open is reported as unconfirmed, so no id is lost.
-- The ledger is done with afterwards.
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
  -- The set's memory is C memory the collector does not see: give it back now.
  set:close()
  return res
end

return M
