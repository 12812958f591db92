-- IAM's two project listings, over one configured list of the account's projects (config
-- key `iam = { projects = { { id =, name =, enabled = } ... }, enabled = }`; absent: this
-- emulator's project, named "cn-north-4"). A project's name is its region ("cn-north-4"),
-- or the region and a sub-project ("cn-north-4_dev"); accounts also see global ones such
-- as "MOS". `iam = { enabled = false }` answers both as an API that does not exist.
--   GET /v3/projects?name=<region>  the project discovery of the official SDKs;
--   GET /v3/auth/projects           the projects the caller's credentials may use.
local config = require "fakecloud.config"
local json = require "fakecloud.json"

local M = {}

local DOMAIN = "d0000000000000000000000000000001"

local function configured(S)
  local cfg = config.val(S.cfg.iam) or {}
  if config.val(cfg.enabled) == false then return nil end
  return config.val(cfg.projects) or { { id = S.cfg.project_id, name = "cn-north-4" } }
end

local function project(p)
  return { id = p.id, name = p.name, domain_id = DOMAIN, enabled = p.enabled ~= false, is_domain = false,
           parent_id = DOMAIN, description = "", links = { self = "/v3/projects/" .. tostring(p.id) } }
end

--- GET /v3/projects?name=: the projects of that name (every one without a name), or nil
-- when IAM is switched off.
function M.by_name(S, args)
  local list = configured(S)
  if not list then return nil end
  local name = args.name and args.name[1]
  local out = {}
  for _, p in ipairs(list) do
    if name == nil or p.name == name then out[#out + 1] = project(p) end
  end
  return { projects = json.array(out), links = { self = "/v3/projects", previous = json.null, next = json.null } }
end

--- GET /v3/auth/projects: every project, or nil when IAM is switched off.
function M.list(S)
  local list = configured(S)
  if not list then return nil end
  local out = {}
  for i, p in ipairs(list) do out[i] = project(p) end
  return { projects = json.array(out), links = { self = "/v3/auth/projects" } }
end

return M
