-- What a list call may see: how its `server_id` values are read, and which enterprise
-- projects (EPS) the caller may list. Both differ between the readings of the reference
-- (docs/reference/ECS-BMS.md, "Listing"), so each reading is a configuration:
--   server_id_form = "both" (default) | "repeated" | "comma"
--     "repeated": only the ECS reference's `server_id=a&server_id=b`; a value is one whole
--       id ("a,b" is an id no server has); "comma": only the Python SDK's `server_id=a,b`,
--       of the last value given (a repeated key keeps one value, as most web stacks do);
--       "both": every value, each split at commas.
--   unknown_ids = "omit" (default) | "stub": an id no server has is left out of the answer,
--     or (the reference's words) answered by a server object whose fields are all null
--     but `id` and `fault`.
--   enterprise_projects = { granted = { eps, ... }, unnamed = "empty" | "forbidden" }: the
--     caller's rights come through those EPSs only. A list naming `all_granted_eps` sees
--     their servers; one naming a granted EPS, that EPS's; one naming another EPS is
--     refused (403 Pdp.0001); one naming none sees no server ("empty", what the project's
--     issue saw) or is refused ("forbidden", the ECS reference: "otherwise the query fails
--     for want of permission"). Absent: rights on the whole project, as before.
-- A list by `server_id` ignores every other filter, enterprise_project_id included (the
-- reference: "other filters are ignored").
local config = require "fakecloud.config"

local M = {}

local FORMS = { both = true, repeated = true, comma = true }
local UNKNOWN = { omit = true, stub = true }
local UNNAMED = { empty = true, forbidden = true }

local function split_commas(values, out)
  for _, v in ipairs(values) do
    for item in v:gmatch("[^,]+") do out[#out + 1] = item end
  end
  return out
end

--- Raises (a configure error) when a key of this file is malformed.
function M.check(cfg)
  local form = config.val(cfg.server_id_form)
  if form ~= nil and not FORMS[form] then error("server_id_form must be both, repeated or comma", 0) end
  local unknown = config.val(cfg.unknown_ids)
  if unknown ~= nil and not UNKNOWN[unknown] then error("unknown_ids must be omit or stub", 0) end
  local eps = config.val(cfg.enterprise_projects)
  if eps == nil then return end
  local granted, unnamed = config.val(eps.granted), config.val(eps.unnamed)
  if type(granted) ~= "table" then error("enterprise_projects.granted must be an array of EPS ids", 0) end
  for _, g in ipairs(granted) do
    if type(g) ~= "string" or g == "" then error("enterprise_projects.granted must hold EPS ids", 0) end
  end
  if unnamed ~= nil and not UNNAMED[unnamed] then
    error("enterprise_projects.unnamed must be empty or forbidden", 0)
  end
end

--- The ids a list's `server_id` values ask for (`values`: every value given, in order), as
-- this cloud reads them; nil when none.
function M.server_ids(cfg, values)
  if not values or #values == 0 then return nil end
  local form = config.val(cfg.server_id_form) or "both"
  local ids
  if form == "repeated" then
    ids = {}
    for _, v in ipairs(values) do if v ~= "" then ids[#ids + 1] = v end end
  elseif form == "comma" then
    ids = split_commas({ values[#values] }, {})
  else
    ids = split_commas(values, {})
  end
  if #ids == 0 then return nil end
  return ids
end

--- Whether ids no server has are answered by stubs.
function M.stubs(cfg)
  return config.val(cfg.unknown_ids) == "stub"
end

--- Which EPSs a list naming `named` (nil: none) may show: nil for any, a set otherwise
-- (empty: no server); or false, status, answer when it is refused.
function M.visible(cfg, kind, named)
  local eps = config.val(cfg.enterprise_projects)
  if eps == nil then
    if named == nil or named == "all_granted_eps" then return nil end
    return { [named] = true }
  end
  local granted = {}
  for _, g in ipairs(config.val(eps.granted)) do granted[g] = true end
  local action = kind == "bms" and "bms:servers:list" or "ecs:cloudServers:list"
  local refused = { error = { code = "Pdp.0001",
                              message = ("Policy doesn't allow %s to be performed."):format(action) } }
  if named == "all_granted_eps" then return granted end
  if named == nil then
    if config.val(eps.unnamed) == "forbidden" then return false, 403, refused end
    return {}
  end
  if not granted[named] then return false, 403, refused end
  return { [named] = true }
end

return M
