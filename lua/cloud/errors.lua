--- Errors: world failures as tables, programmer mistakes as raised messages.
-- @module cloud.errors
local M = {}

local Error = {}
Error.__index = Error

--- "code: message (HTTP status) [request id]" for any table with those fields: an error
-- from M.new, or a failure in a result (a plain table, without the metatable).
function M.format(e)
  local s = tostring(e.code) .. ": " .. tostring(e.message)
  if e.status then s = s .. " (HTTP " .. tostring(e.status) .. ")" end
  if e.request_id then s = s .. " [request " .. tostring(e.request_id) .. "]" end
  return s
end

Error.__tostring = M.format

--- A failure of the world (network, server, credentials): `{code, message, status, request_id}`
-- with a `__tostring`, returned as `nil, err`.
function M.new(code, message, status, request_id)
  return setmetatable({ code = code, message = message, status = status, request_id = request_id }, Error)
end

--- Raises a programmer's mistake, naming the function and the field.
function M.argument(where, field, problem)
  error(("%s: %s %s"):format(where, field, problem), 3)
end

return M
