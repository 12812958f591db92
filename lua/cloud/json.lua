--- lua-cjson set up once for the cloud's answers: no error on deep or odd input (decode
-- returns nil instead of raising).
-- @module cloud.json
local cjson = require("cjson").new()
cjson.decode_max_depth(64)

local M = {}

function M.decode(s)
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  return nil
end

--- A JSON string literal for s (used to write request bodies byte for byte).
function M.quote(s)
  return cjson.encode(s)
end

return M
