--- What the first call of a client needs before it can build a request: keys to sign
-- with (temporary ones are fetched from the metadata service then), and a project id
-- (looked up in IAM when none was configured). cloud.new does neither: it makes no I/O.
-- The public operations (stop, list) call `ensure` before anything else that sends.
-- @module cloud.auth.ready
local project = require "cloud.auth.project"

local M = {}

--- Returns true, or nil and a config error (cloud.no_credentials, cloud.no_project_id)
-- that names every place looked at.
function M.ensure(client)
  local ok, err = client._keys:ensure()
  if not ok then return nil, err end
  return project.ensure(client)
end

return M
