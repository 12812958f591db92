-- Loads spec/fixtures/sign-vectors.json and turns each vector into core.sign options.
local cjson = require "cjson"
local fixtures = require "support.fixtures"

local M = {}

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

function M.load()
  return cjson.decode(fixtures.read("sign-vectors.json"))
end

-- core.sign options for vector v: host from the URL unless a host header overrides it.
function M.options(v)
  local host, path = v.url:match("^https?://([^/]+)(/[^?]*)")
  local headers = {}
  for name, value in pairs(v.headers) do
    if name:lower() == "host" then host = value else headers[name] = value end
  end
  local query = nil
  if next(v.query) then query = v.query end
  return {
    method = v.method,
    host = host,
    path = unescape(path),
    query = query,
    headers = headers,
    body = v.body ~= cjson.null and v.body or nil,
    ak = v.ak,
    sk = v.sk,
    date = v.sdk_date,
  }
end

return M
