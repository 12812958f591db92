--- The per-server ledger of one stop: every distinct id ends in exactly one outcome.
-- @module cloud.result
local errors = require "cloud.errors"

local unpack = table.unpack or unpack

local M = {}
local Ledger = {}
Ledger.__index = Ledger

--- `ids`: the distinct ids asked for, in order. `set`: optionally, a table already mapping
-- each of them to true (see M.distinct), taken over as the ledger's state so that a large
-- stop keeps one map of its ids, not two.
function M.new(ids, set)
  if not set then
    set = {}
    for i = 1, #ids do set[ids[i]] = true end
  end
  return setmetatable({ ids = ids, state = set, failure = {}, jobs = {}, nstopped = 0, nfailed = 0 },
    Ledger)
end

--- The distinct ids of `ids` in order (`ids` itself when it has no repeats), and the set of them.
function M.distinct(ids)
  local set, out = {}, nil
  for i = 1, #ids do
    local id = ids[i]
    if set[id] then
      out = out or { unpack(ids, 1, i - 1) }
    else
      set[id] = true
      if out then out[#out + 1] = id end
    end
  end
  return out or ids, set
end

-- state[id]: true while open, then "stopped" or "failed".
function Ledger:pending(id)
  return self.state[id] == true
end

function Ledger:stopped(id)
  if self.state[id] ~= true then return end
  self.state[id] = "stopped"
  self.nstopped = self.nstopped + 1
end

--- Records a failure: `err` carries code, message, status, request_id.
function Ledger:failed(id, err)
  if self.state[id] ~= true then return end
  self.state[id] = "failed"
  self.nfailed = self.nfailed + 1
  self.failure[id] = { id = id, code = err.code, message = err.message, status = err.status,
                       request_id = err.request_id }
end

function Ledger:settled()
  return self.nstopped + self.nfailed
end

--- The public result table. Anything still open is reported as unconfirmed, so no id is lost.
function Ledger:finish(extra)
  local stopped, failed = {}, {}
  for _, id in ipairs(self.ids) do
    if self.state[id] == true then
      self:failed(id, errors.new("cloud.unconfirmed", "no outcome was confirmed for this server"))
    end
    if self.state[id] == "stopped" then stopped[#stopped + 1] = id
    else failed[#failed + 1] = self.failure[id] end
  end
  local res = { ok = #failed == 0, requested = #self.ids, stopped = stopped, failed = failed,
                jobs = self.jobs }
  for k, v in pairs(extra or {}) do res[k] = v end
  return res
end

return M
