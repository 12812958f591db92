--- The account's projects, as IAM lists those the credentials may use
-- (`GET {iam}/v3/auth/projects`, signed with the same AK/SK): the targets of a fleet over
-- every project (`cloud-stop --all-projects`). A project's name is its region
-- ("cn-north-4") or the region and a sub-project ("cn-north-4_dev"); names that are no
-- region (IAM's global "MOS") and disabled projects are left out. Finding one region's
-- project by name (GET /v3/projects?name=) is another matter (issue 12).
-- @module cloud.auth.account
local client_mod = require "cloud.client"
local errors = require "cloud.errors"

local M = {}

-- The region a project's name stands for, or nil: lower-case letters, digits and dashes
-- before an optional "_sub-project".
local function region_of(name)
  if type(name) ~= "string" then return nil end
  local region = name:match("^([a-z0-9][a-z0-9%-]*[a-z0-9])_") or name:match("^([a-z0-9][a-z0-9%-]*[a-z0-9])$")
  if region and region:find("-", 1, true) then return region end
end
M.region_of = region_of

--- Lists the account's projects. `opts`: the client options of cloud.new (ak, sk,
-- security_token, region, endpoints.iam, timeout, ...); no project id is needed.
-- `regions`: an array of regions to keep (nil: all). Returns an array of
-- `{ id =, name =, region = }` in IAM's order, or nil and an error.
function M.projects(opts, regions)
  local c, err = client_mod.for_account(opts)
  if not c then return nil, err end
  local keep
  if regions then
    keep = {}
    for _, r in ipairs(regions) do keep[r] = true end
  end
  local out, lerr
  local ok, e = pcall(c.operation, c, "cloud.projects", function(op)
    local sched = op:scheduler()
    sched:request({ service = "iam", method = "GET", path = "/v3/auth/projects", idempotent = true,
                    label = "list the account's projects" }, function(r)
      if not r.ok then lerr = r.err return end
      if type(r.data.projects) ~= "table" then
        lerr = errors.new("cloud.bad_response", "the IAM answer has no 'projects' array", r.status, r.request_id)
        return
      end
      out = {}
      for _, p in ipairs(r.data.projects) do
        local region = type(p) == "table" and p.enabled ~= false and type(p.id) == "string" and region_of(p.name)
        if region and (not keep or keep[region]) then
          out[#out + 1] = { id = p.id, name = p.name, region = region }
        end
      end
    end)
    sched:run()
  end)
  c:close()
  if not ok then error(e, 0) end
  if not out then return nil, lerr end
  return out
end

return M
