--- The result as one JSON document. lua-cjson 2.1 writes an empty table as {}, which would
-- turn "no failures" into an object; this encoder knows which fields are arrays, and sorts
-- object keys so the output is stable.
-- @module cloud.cli.jsonout
local cjson = require "cjson"

local M = {}

local ARRAYS = { stopped = true, failed = true, jobs = true, selected = true, skipped = true,
                 ids = true }

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

local function encode(v, key, out)
  local tv = type(v)
  if tv == "table" then
    if is_array(v) or (next(v) == nil and ARRAYS[key]) then
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        encode(x, nil, out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        out[#out + 1] = cjson.encode(k) .. ":"
        encode(x, k, out)
      end
      out[#out + 1] = "}"
    end
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
    elseif v % 1 == 0 and math.abs(v) < 2 ^ 53 then out[#out + 1] = ("%d"):format(v)
    else out[#out + 1] = ("%.17g"):format(v) end
  elseif tv == "string" or tv == "boolean" then
    out[#out + 1] = cjson.encode(v)
  else
    out[#out + 1] = "null" -- functions, userdata (cjson.null)
  end
end

--- Encodes `v` (a result table) as JSON text.
function M.encode(v)
  local out = {}
  encode(v, nil, out)
  return table.concat(out)
end

return M
