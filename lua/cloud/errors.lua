--- One error model. A caller's mistake is raised, through `argument` only, as an error
-- object whose text starts with the caller's `file:line`; a failure of the world is
-- returned as `nil, err`. Both are `Error` objects: `code`, `message`, `status`,
-- `request_id` and a `kind`, so that a program (the CLI among them) decides by kind and
-- field, never by the wording of a message.
-- @module cloud.errors
local M = {}

--- The kinds of error:
-- `argument` (raised: the caller passed something wrong, `field` names it),
-- `config` (credentials, project, region or endpoint missing or unusable),
-- `refused` (the library would not act, e.g. more servers than `max_servers`),
-- `transport` (no HTTP answer: connect, TLS, timeout, dropped),
-- `cloud` (the cloud answered with an error, or an answer that cannot be trusted),
-- `interrupted` (raised: Ctrl-C during a stop; `result` holds what is known so far).
M.KINDS = { argument = true, config = true, refused = true, transport = true, cloud = true,
            interrupted = true }

-- The library's own codes and their kinds; any other code is the cloud's.
local KIND_OF_CODE = {
  ["cloud.argument"] = "argument",
  ["cloud.no_credentials"] = "config", ["cloud.no_project_id"] = "config", ["cloud.no_region"] = "config",
  ["cloud.no_endpoint"] = "config", ["cloud.unknown_region"] = "config", ["cloud.bad_environment"] = "config",
  ["cloud.max_servers"] = "refused", ["cloud.interrupted"] = "interrupted",
  ["cloud.record_exists"] = "refused", ["cloud.record"] = "config", ["cloud.record_target"] = "refused",
  ["cloud.connect"] = "transport", ["cloud.dns"] = "transport", ["cloud.timeout"] = "transport",
  ["cloud.connection_dropped"] = "transport", ["cloud.response_too_large"] = "transport",
  ["cloud.tls"] = "transport", ["cloud.transport"] = "transport",
}

local Error = {}
Error.__index = Error
M.Error = Error

--- "code: message (HTTP status) [request id]" for any table with those fields: an error
-- from M.new, or a failure in a result (a plain table, without the metatable).
function M.format(e)
  local s = tostring(e.code) .. ": " .. tostring(e.message)
  if e.status then s = s .. " (HTTP " .. tostring(e.status) .. ")" end
  if e.request_id then s = s .. " [request " .. tostring(e.request_id) .. "]" end
  return s
end

function Error:__tostring()
  if self.kind == "argument" then return self.position .. self.message end
  return M.format(self)
end

--- A failure of the world, returned as `nil, err`. `kind` defaults from the code: the
-- library's own codes have theirs; any other code is the cloud's.
function M.new(code, message, status, request_id, kind)
  return setmetatable({ code = code, message = message, status = status, request_id = request_id,
                        kind = kind or KIND_OF_CODE[code] or "cloud" }, Error)
end

--- The kind of any raised or returned value: an Error's kind, or nil for anything else
-- (a plain string raised by other code is not one of ours).
function M.kind(e)
  if getmetatable(e) == Error then return e.kind end
  return nil
end

-- The folder this file was loaded from: frames from files directly in it are the
-- library's own, and an argument error points past them, at the caller.
local LIBRARY_DIR = (debug.getinfo(1, "S").source:match("^@(.*[/\\])[^/\\]+$"))

local function is_library(info)
  if info.what == "C" then return true end
  local src = info.source:match("^@(.*)$")
  if not src or not LIBRARY_DIR then return false end
  return src:sub(1, #LIBRARY_DIR) == LIBRARY_DIR and not src:find("[/\\]", #LIBRARY_DIR + 1)
end

-- "file:line: " of the first frame outside the library, or "" when there is none.
local function caller_position()
  local level = 3 -- above caller_position and argument
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then return "" end
    if not is_library(info) then
      if info.currentline and info.currentline > 0 then
        return ("%s:%d: "):format(info.short_src, info.currentline)
      end
      return ""
    end
    level = level + 1
  end
end

--- Raises a caller's mistake: `where` names the function ("client:stop_ecs"), `field` the
-- option ("type", "filter.name", "ids[3]"; nil when the whole call is wrong), `problem`
-- what is wrong with it. The text reads "file:line: where: option 'field' problem".
function M.argument(where, field, problem)
  local message = field and ("%s: option '%s' %s"):format(where, field, problem)
    or ("%s: %s"):format(where, problem)
  error(setmetatable({ code = "cloud.argument", kind = "argument", where = where, field = field,
                       problem = problem, message = message, position = caller_position() }, Error), 0)
end

return M
