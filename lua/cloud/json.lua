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

return M
