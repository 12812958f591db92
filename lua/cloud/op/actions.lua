--- The power actions as data: what the body is, which state means done, what a server
-- shows while the action is under way, and what the result calls the servers it moved.
-- The operation (cloud.op.run), the selection and the ledger read these fields; none of
-- them knows which action it runs. Reboot is not here: a rebooted server is ACTIVE before
-- and after, so no lookup can tell a reboot that happened from one that did not, and the
-- operation settles every doubt by a lookup (docs/architecture.md).
-- @module cloud.op.actions
local core = require "cloud.core"

local M = {}

--- Stopping: `{"os-stop":{"type":...,"servers":[...]}}`.
M.stop = {
  name = "stop",                 -- the verb: in method names (stop_ecs), labels and messages
  key = "os-stop",               -- the body's key
  -- The stop types each service takes, the default first (BMS ignores SOFT: the reference).
  types = { ecs = { "SOFT", "HARD" }, bms = { "HARD" } },
  wanted = "SHUTOFF",            -- the state that means done (classify.wanted.stop)
  under_way = "powering-off",    -- OS-EXT-STS:task_state while a job works on it
  done = "stopped",              -- the result's array of servers done
  skip_reason = "already SHUTOFF", -- a server chosen by filter that is already there
  undo = "start",                -- what a restore of its record runs
  body = function(ids, kind) return core.stop_body(ids, kind) end,
}

--- Starting: `{"os-start":{"servers":[...]}}`, no type.
M.start = {
  name = "start",
  key = "os-start",
  types = nil,
  wanted = "ACTIVE",
  under_way = "powering-on",
  done = "started",
  skip_reason = "already ACTIVE",
  body = function(ids) return core.start_body(ids) end,
}

return M
