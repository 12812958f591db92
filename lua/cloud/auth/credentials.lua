--- Where credentials come from, in the official SDKs' order: explicit options, then
-- HUAWEICLOUD_SDK_* environment variables, then the credentials file
-- (~/.huaweicloud/credentials, or HUAWEICLOUD_SDK_CREDENTIALS_FILE); the ECS metadata
-- service (cloud.auth.keys, cloud.auth.metadata) is the last resort when none of them has keys.
-- Every source that did not serve says why, so that "no credentials" can tell the user
-- where we looked.
-- @module cloud.auth.credentials
local core = require "cloud.core"

local M = {}

local ENV = {
  ak = "HUAWEICLOUD_SDK_AK",
  sk = "HUAWEICLOUD_SDK_SK",
  security_token = "HUAWEICLOUD_SDK_SECURITY_TOKEN",
  project_id = "HUAWEICLOUD_SDK_PROJECT_ID",
  region = "HUAWEICLOUD_SDK_REGION",
  file = "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
  -- This library's own (the SDKs read [basic] only): the section for operators who hold
  -- several accounts in one file.
  profile = "HUAWEICLOUD_SDK_PROFILE",
}
M.ENV = ENV
-- This library's own variable (the SDKs have none): "off" keeps a client without keys from
-- asking the metadata service at 169.254.169.254, off an ECS instance a request into the void.
M.FALLBACK_ENV = "CLOUD_METADATA_FALLBACK"

local SWITCH = { on = true, ["true"] = true, yes = true, ["1"] = true,
                 off = false, ["false"] = false, no = false, ["0"] = false }

--- A credentials file larger than this is refused unread (a path to /dev/zero or a log
-- must not fill the memory).
M.FILE_LIMIT = 64 * 1024

--- The section read when no profile is named, as in the official SDKs.
M.DEFAULT_PROFILE = "basic"

local function nonempty(s)
  if s ~= nil and s ~= "" then return s end
end

-- The [`want`] section of an INI text: its values, and whether it was there.
local function parse(text, want)
  local values, section, seen = {}, nil, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    local name = line:match("^%[(.-)%]$")
    if name then
      section = name:gsub("^%s+", ""):gsub("%s+$", "")
      seen = seen or section == want
    elseif section == want and line ~= "" and not line:match("^[#;]") then
      local k, v = line:match("^([%w_]+)%s*=%s*(.-)$")
      if k then values[k:lower()] = v end
    end
  end
  return values, seen
end

--- Reads the [`profile`] section (default [basic]) of an INI credentials file. Returns its
-- values (a table, with `has_section`) and the file's permission bits, or nil and why it
-- cannot be used.
function M.read_file(path, profile)
  local mode, kind, size = core.file_mode(path)
  if not mode then
    if kind == "No such file or directory" then return nil, "not found" end
    return nil, "not readable (" .. tostring(kind) .. ")"
  end
  if kind == "directory" then return nil, "is a directory" end
  if kind == "file" and size > M.FILE_LIMIT then return nil, "is larger than 64 KiB" end
  local f, err = io.open(path, "rb")
  if not f then return nil, "not readable (" .. tostring(err):gsub("^.*: ", "") .. ")" end
  -- At most one byte past the limit, whatever the file is (a device has no size).
  local text, rerr = f:read(M.FILE_LIMIT + 1)
  f:close()
  if not text and rerr then return nil, "not readable (" .. tostring(rerr):gsub("^.*: ", "") .. ")" end
  text = text or ""
  if #text > M.FILE_LIMIT then return nil, "is larger than 64 KiB" end
  local values, seen = parse(text, profile or M.DEFAULT_PROFILE)
  values.has_section = seen
  return values, mode
end

--- The credentials file's path and where that path came from ("HUAWEICLOUD_SDK_CREDENTIALS_FILE"
-- or "HOME"); nil when neither is set.
function M.file_path(getenv)
  local path = nonempty(getenv(ENV.file))
  if path then return path, ENV.file end
  local home = nonempty(getenv("HOME"))
  if home then return home .. "/.huaweicloud/credentials", "HOME" end
end

-- The file, read once: { values = {...} } or { why = "..." }, with `label` naming it.
local function file_source(getenv, warnings, profile)
  local path, from = M.file_path(getenv)
  if not path then
    return { why = "no path to look at (HOME and " .. ENV.file .. " are not set)", label = "credentials file" }
  end
  local label = "credentials file " .. path
  local values, mode_or_why = M.read_file(path, profile)
  if not values then
    local why = mode_or_why
    if from == ENV.file then
      -- A path the user set on purpose that cannot be used is worth a warning even when
      -- the keys come from elsewhere; a missing default file is the normal case.
      warnings[#warnings + 1] = ("credentials: %s names %s, which %s; it is ignored"):format(ENV.file, path,
        why == "not found" and "does not exist" or why)
      if why == "not found" then why = "not found (the path " .. ENV.file .. " gives)" end
    elseif why == "not found" then
      why = "none there"
    else
      warnings[#warnings + 1] = ("credentials: %s %s; it is ignored"):format(path, why)
    end
    return { why = why, label = label }
  end
  -- As ssh does for keys: a secret readable by others is worth saying so.
  if math.floor(mode_or_why / 4) % 2 == 1 or math.floor(mode_or_why / 32) % 2 == 1 then
    warnings[#warnings + 1] = ("credentials: %s is readable by group or others (mode %03o); "
      .. "restrict it with chmod 600"):format(path, mode_or_why % 512)
  end
  return { values = values, label = label, path = path }
end

local function keys_from_file(file, profile)
  if not file.values then return nil, file.why end
  local v = file.values
  local section = "[" .. profile .. "]"
  if not v.has_section then return nil, "has no " .. section .. " section" end
  local ak, sk, token = nonempty(v.ak), nonempty(v.sk), nonempty(v.security_token)
  if ak and sk then return { ak = ak, sk = sk, security_token = token } end
  if ak then return nil, section .. " has ak but no sk" end
  if sk then return nil, section .. " has sk but no ak" end
  if token then return nil, section .. " has security_token but no ak and sk" end
  return nil, section .. " has no ak and sk"
end

--- What is wrong with a profile name (a section of the credentials file), or nil.
function M.profile_problem(name)
  if name == "" or #name > 64 or name:find("[%c%[%]]") or name:match("^%s") or name:match("%s$") then
    return "must be a section name of the credentials file: 1 to 64 characters, no brackets, control "
      .. "characters or outer spaces"
  end
end

-- The profile to read, and whether it was named (option, then environment); nil and a
-- setup error text for a malformed one from the environment.
local function profile_of(opts, getenv)
  if opts.profile ~= nil then return opts.profile, "option" end
  local p = nonempty(getenv(ENV.profile))
  if not p then return M.DEFAULT_PROFILE end
  local problem = M.profile_problem(p)
  if problem then return nil, ("%s %s"):format(ENV.profile, problem) end
  return p, ENV.profile
end

--- Whether the metadata service is the last resort for keys: option `metadata_fallback`
-- (a boolean, already checked), else CLOUD_METADATA_FALLBACK (on/off, true/false, yes/no,
-- 1/0), else true as in the official SDKs. Returns the answer and where it came from, or
-- nil and what is wrong with the variable.
function M.metadata_fallback(opts, getenv)
  if opts.metadata_fallback ~= nil then
    return opts.metadata_fallback, "metadata_fallback = " .. tostring(opts.metadata_fallback)
  end
  local v = nonempty((getenv or os.getenv)(M.FALLBACK_ENV))
  if not v then return true end
  local on = SWITCH[v:lower()]
  if on == nil then
    return nil, ("%s is '%s'; give on or off"):format(M.FALLBACK_ENV, (v:sub(1, 20):gsub("%c", "?")))
  end
  return on, M.FALLBACK_ENV .. "=" .. v
end

--- Fills ak, sk, security_token, project_id and region of `opts` (a copy is returned)
-- where the caller left them out. The key triple (ak, sk, security_token) comes whole
-- from the first source that has both AK and SK, so keys from two places are never
-- mixed. Also returned: `source` (where keys, project id and region came from),
-- `tried` (`keys` and `project_id`: a line per source that did not serve, and why) and
-- `warnings` (lines for the logger). `getenv` defaults to os.getenv (tests pass their own).
function M.resolve(opts, getenv)
  getenv = getenv or os.getenv
  local out = {}
  for k, v in pairs(opts) do out[k] = v end
  local warnings, tried = {}, { keys = {}, project_id = {} }
  out.warnings, out.tried = warnings, tried
  local profile, named = profile_of(opts, getenv)
  if not profile then
    out.problem, out.problem_code = named, "cloud.bad_environment"
    return out
  end
  out.profile = profile
  local file
  local function the_file()
    file = file or file_source(getenv, warnings, profile)
    return file
  end

  out.source = { project_id = out.project_id ~= nil and "option" or nil,
                 region = out.region ~= nil and "option" or nil }
  if out.ak ~= nil or out.sk ~= nil then
    out.source.keys = "options"
  elseif named == "option" then
    -- A profile asked for by name is where the keys come from, whatever the environment
    -- holds (as an operator running --profile staging means).
    tried.keys[#tried.keys + 1] = "options: not given (profile = \"" .. profile .. "\" names the file)"
    local f = the_file()
    local k, why = keys_from_file(f, profile)
    if not k then
      out.problem, out.problem_code = ("profile '%s': %s %s"):format(profile, f.label, why), "cloud.no_credentials"
      return out
    end
    out.ak, out.sk, out.security_token = k.ak, k.sk, k.security_token
    out.source.keys = "file"
  else
    tried.keys[#tried.keys + 1] = "options: not given"
    local eak, esk = nonempty(getenv(ENV.ak)), nonempty(getenv(ENV.sk))
    local half
    if eak and esk then
      out.ak, out.sk = eak, esk
      if out.security_token == nil then out.security_token = nonempty(getenv(ENV.security_token)) end
      out.source.keys = "environment"
    else
      half = eak and (ENV.ak .. " set, " .. ENV.sk .. " missing")
        or esk and (ENV.sk .. " set, " .. ENV.ak .. " missing")
        -- A token alone is half a set too: it is never paired with keys from elsewhere.
        or nonempty(getenv(ENV.security_token)) and (ENV.security_token .. " set without " .. ENV.ak
          .. " and " .. ENV.sk)
      tried.keys[#tried.keys + 1] = "environment: " .. (half or (ENV.ak .. " and " .. ENV.sk .. " not set"))
      local f = the_file()
      local k, why = keys_from_file(f, profile)
      if k then
        out.ak, out.sk = k.ak, k.sk
        if out.security_token == nil then out.security_token = k.security_token end
        out.source.keys = "file"
      else
        tried.keys[#tried.keys + 1] = f.label .. ": " .. why
        if named then
          out.problem = ("profile '%s' (from %s): %s %s"):format(profile, named, f.label, why)
          out.problem_code = "cloud.no_credentials"
          return out
        end
      end
    end
    if half and out.source.keys then
      warnings[#warnings + 1] = ("credentials: %s; using the keys of the %s"):format(half, out.source.keys)
    end
  end

  -- Where project id and region came from: a bad value the caller passed is their mistake
  -- (raised); one from the environment or a file is the setup's (returned as an error).
  if out.project_id == nil then
    tried.project_id[#tried.project_id + 1] = "options: not given"
    out.project_id = nonempty(getenv(ENV.project_id))
    if out.project_id then
      out.source.project_id = ENV.project_id
    else
      tried.project_id[#tried.project_id + 1] = ENV.project_id .. ": not set"
      local f = the_file()
      out.project_id = f.values and nonempty(f.values.project_id)
      if out.project_id then
        out.source.project_id = "the credentials file"
      else
        tried.project_id[#tried.project_id + 1] = f.label .. ": "
          .. (f.why or ("no project_id in [" .. profile .. "]"))
      end
    end
  end
  if out.region == nil then
    out.region = nonempty(getenv(ENV.region))
    out.source.region = out.region and ENV.region or nil
  end
  return out
end

return M
