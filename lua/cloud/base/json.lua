--- JSON in and out. Decoding uses lua-cjson set up once for the cloud's answers (no error
-- on deep or odd input: decode returns nil). Encoding writes a result so that any program
-- can read it: cjson writes an empty table as {}, which would turn "no failures" into an
-- object, so `encode` knows which fields are arrays, and sorts object keys so the output
-- is stable.
-- @module cloud.base.json
local cjson = require("cjson").new()
cjson.decode_max_depth(64)

local M = {}

--- Decodes `s`; nil when it is not JSON.
function M.decode(s)
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  return nil
end

-- Fields of a result that are arrays even when empty.
local ARRAYS = { stopped = true, started = true, failed = true, jobs = true, selected = true,
                 skipped = true, ids = true, hints = true, joined = true,
                 results = true, records = true, would_stop = true, would_start = true }

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

local function encode(v, key, out, depth)
  local tv = type(v)
  if tv == "table" then
    if depth > 32 then error("cloud.json.encode: nested deeper than 32 levels", 0) end
    if is_array(v) or (next(v) == nil and ARRAYS[key]) then
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        encode(x, nil, out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) == "string" or type(k) == "number" then keys[#keys + 1] = tostring(k) end
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        out[#out + 1] = cjson.encode(k) .. ":"
        encode(x, k, out, depth + 1)
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

--- Encodes `v` (a result table, or any table of plain values) as JSON text: the result's
-- array fields (stopped, failed, jobs, selected, skipped, ...) are arrays even when empty;
-- functions and userdata become null. Exposed as `cloud.to_json`.
function M.encode(v)
  local out = {}
  encode(v, nil, out, 0)
  return table.concat(out)
end

return M
