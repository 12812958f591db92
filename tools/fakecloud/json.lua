-- JSON via lua-cjson 2.1.0, which has no way to mark an empty table as an array:
-- callers put json.empty_array where "[]" must appear, and encode() rewrites it.
local cjson = require "cjson"

local M = { null = cjson.null }

local SENTINEL = "\1fakecloud-empty-array\1"
M.empty_array = SENTINEL
local ENCODED = cjson.encode(SENTINEL)

function M.encode(v)
  local s = cjson.encode(v)
  if s:find(ENCODED, 1, true) then
    s = s:gsub(ENCODED:gsub("%p", "%%%0"), "[]")
  end
  return s
end

-- An array that may be empty: returns the sentinel for an empty list.
function M.array(t)
  if t == nil or t[1] == nil then return SENTINEL end
  return t
end

-- Decode without raising: returns value or nil, err.
function M.decode(s)
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  return nil, tostring(v)
end

return M
