--- Where credentials come from, in the official SDKs' order: explicit options,
-- then HUAWEICLOUD_SDK_* environment variables, then ~/.huaweicloud/credentials.
-- @module cloud.credentials
local M = {}

local ENV = {
  ak = "HUAWEICLOUD_SDK_AK",
  sk = "HUAWEICLOUD_SDK_SK",
  security_token = "HUAWEICLOUD_SDK_SECURITY_TOKEN",
  project_id = "HUAWEICLOUD_SDK_PROJECT_ID",
  region = "HUAWEICLOUD_SDK_REGION",
}

local function nonempty(s)
  if s ~= nil and s ~= "" then return s end
end

--- Parses the [basic] section of an INI credentials file. Returns {} when absent.
function M.read_file(path)
  local f = io.open(path, "r")
  if not f then return {} end
  local values, section = {}, nil
  for line in f:lines() do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    local name = line:match("^%[(.-)%]$")
    if name then
      section = name:gsub("^%s+", ""):gsub("%s+$", "")
    elseif section == "basic" and line ~= "" and not line:match("^[#;]") then
      local k, v = line:match("^([%w_]+)%s*=%s*(.-)$")
      if k then values[k:lower()] = v end
    end
  end
  f:close()
  return values
end

function M.file_path(getenv)
  local path = nonempty(getenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE"))
  if path then return path end
  local home = nonempty(getenv("HOME"))
  return home and (home .. "/.huaweicloud/credentials") or nil
end

--- Fills ak, sk, security_token, project_id and region of `opts` (a copy is returned)
-- where the caller left them out. The key triple (ak, sk, security_token) comes whole from
-- the first source that has an AK, so keys from two places are never mixed.
-- `getenv` defaults to os.getenv (tests pass their own).
function M.resolve(opts, getenv)
  getenv = getenv or os.getenv
  local out = {}
  for k, v in pairs(opts) do out[k] = v end
  local file_values
  local function file()
    if not file_values then
      local path = M.file_path(getenv)
      file_values = path and M.read_file(path) or {}
    end
    return file_values
  end
  if out.ak == nil and out.sk == nil then
    local source
    if nonempty(getenv(ENV.ak)) then
      source = { ak = getenv(ENV.ak), sk = getenv(ENV.sk), security_token = getenv(ENV.security_token) }
    else
      source = file()
    end
    out.ak, out.sk = nonempty(source.ak), nonempty(source.sk)
    if out.security_token == nil then out.security_token = nonempty(source.security_token) end
  end
  -- Where project id and region came from: a bad value the caller passed is their mistake
  -- (raised); one from the environment or a file is the setup's (returned as an error).
  out.source = { project_id = out.project_id ~= nil and "option" or nil,
                 region = out.region ~= nil and "option" or nil }
  if out.project_id == nil then
    out.project_id = nonempty(getenv(ENV.project_id))
    if out.project_id then
      out.source.project_id = ENV.project_id
    else
      out.project_id = nonempty(file().project_id)
      out.source.project_id = out.project_id and "the credentials file" or nil
    end
  end
  if out.region == nil then
    out.region = nonempty(getenv(ENV.region))
    out.source.region = out.region and ENV.region or nil
  end
  return out
end

return M
