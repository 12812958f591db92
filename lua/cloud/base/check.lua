--- Option-table checks that raise at the caller with the function and field named
-- (through errors.argument, which finds the caller's frame itself).
-- @module cloud.base.check
local errors = require "cloud.errors"

local M = {}

local function fail(where, field, problem)
  return errors.argument(where, field, problem)
end

--- Raises for any key of `opts` not in `known` (a set).
function M.known(where, opts, known)
  if type(opts) ~= "table" then
    errors.argument(where, nil, "expected an options table, got " .. type(opts))
  end
  for k in pairs(opts) do
    if not known[k] then fail(where, tostring(k), "is unknown") end
  end
end

function M.string(where, opts, field, required)
  local v = opts[field]
  if v == nil then
    if required then fail(where, field, "is required") end
    return nil
  end
  if type(v) ~= "string" or v == "" then fail(where, field, "must be a non-empty string") end
  return v
end

function M.number(where, opts, field, default, min, max)
  local v = opts[field]
  if v == nil then return default end
  -- Finite only: numbers go on into C, where NaN or infinity has no integer to become.
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
    fail(where, field, "must be a finite number")
  end
  if min and v < min then fail(where, field, "must be at least " .. min) end
  if max and v > max then fail(where, field, "must be at most " .. max) end
  return v
end

function M.integer(where, opts, field, default, min, max)
  local v = M.number(where, opts, field, default, min, max)
  if v ~= nil and v % 1 ~= 0 then fail(where, field, "must be a whole number") end
  return v
end

function M.boolean(where, opts, field, default)
  local v = opts[field]
  if v == nil then return default end
  if type(v) ~= "boolean" then fail(where, field, "must be true or false") end
  return v
end

function M.func(where, opts, field)
  local v = opts[field]
  if v ~= nil and type(v) ~= "function" then fail(where, field, "must be a function") end
  return v
end

function M.table(where, opts, field)
  local v = opts[field]
  if v ~= nil and type(v) ~= "table" then fail(where, field, "must be a table") end
  return v
end

function M.oneof(where, opts, field, default, allowed)
  local v = opts[field]
  if v == nil then return default end
  for _, a in ipairs(allowed) do
    if v == a then return v end
  end
  fail(where, field, "must be one of " .. table.concat(allowed, ", ") .. " (got " .. tostring(v) .. ")")
end

return M
