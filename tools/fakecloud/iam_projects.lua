-- GET /v3/auth/projects (IAM): the projects the caller's credentials may use, as IAM lists
-- them: {"projects": [{"id", "name", "domain_id", "enabled", ...}], "links": {"self"}}. A
-- project's name is its region ("cn-north-4"), or the region and a sub-project
-- ("cn-north-4_dev"); accounts also see global ones such as "MOS". Config key
-- `iam_projects = { { id =, name =, enabled = } ... }`; absent: this emulator's project,
-- named "cn-north-4". (Project discovery by name, GET /v3/projects?name=, is issue 12's.)
local config = require "fakecloud.config"
local json = require "fakecloud.json"

local M = {}

local DOMAIN = "d0000000000000000000000000000001"

function M.list(S)
  local list = config.val(S.cfg.iam_projects) or { { id = S.cfg.project_id, name = "cn-north-4" } }
  local out = {}
  for i, p in ipairs(list) do
    out[i] = { id = p.id, name = p.name, domain_id = DOMAIN, enabled = p.enabled ~= false, is_domain = false,
               parent_id = DOMAIN, description = "", links = { self = "/v3/projects/" .. tostring(p.id) } }
  end
  return 200, { projects = json.array(out), links = { self = "/v3/auth/projects" } }
end

return M
