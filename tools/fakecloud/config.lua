-- Defaults and merging of the emulator's configuration table.
local M = {}

M.DEFAULT = {
  project_id = "0123456789abcdef0123456789abcdef",
  credentials = { { ak = "FAKECLOUDAK00000000", sk = "FAKECLOUDSK0000000000000000000000000000" } },
  job_duration = 0.05,
  clock_skew = 0,
  bms_in_ecs_list = false,
  fleet = { ecs = { { count = 10 } }, bms = { { count = 4 } } },
  transient_fail = { ids = {}, rate = 0 },
  faults = {},
  hostile = {}, -- off; see hostile.lua
  flow_control = {}, -- no budget; see flow.lua
  refusals = {}, -- none; see flow.lua
  -- tag_match (absent): "exact"; "key" or "contains" answer tag filters loosely, "whole"
  -- reads a bare key as the key with the empty value (list.lua)
  -- job_init (absent): seconds a job reads INIT; absent = the first fifth of job_duration
  -- job_hold (absent): { status = "PENDING_PAYMENT", seconds = S }: jobs read that status
  --   first, for S seconds, then go on as usual (see jobs.lua)
  -- bms_sub_job_entities (absent): "array" answers BMS sub-jobs' entities as an array of
  --   objects (the BMS job table's form); "object" or absent: one object (see jobs.lua)
  -- unknown_project (absent): { status =, code =, message = }: how every project-scoped
  --   route answers a project other than project_id (absent: 403 <prefix>.0403, as before)
  -- error_details (absent): a list of { code =, message = } sent as error.details in every
  --   answer of the service error shape (see respond.lua)
}

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end
M.copy = copy

-- Shallow per top-level key: a key given replaces the old value wholesale.
function M.merge(base, patch)
  local out = copy(base or M.DEFAULT)
  for k, v in pairs(patch or {}) do out[k] = copy(v) end
  return out
end

-- JSON null (lightuserdata) means "unset" wherever it appears.
function M.val(v)
  if type(v) == "userdata" then return nil end
  return v
end

return M
