-- A small signed client for specs and benchmarks (http only, via luasocket).
-- It signs with fakecloud.auth's canonical forms, so the vectors vouch for both.
local auth = require "fakecloud.auth"
local cjson = require "cjson"

local M = {}
local C = {}
C.__index = C

-- opts: url, ak, sk, project_id, security_token, date (fixed X-Sdk-Date), clock_skew,
-- body_delay (seconds between the headers and the body: a slow client)
function M.new(opts)
  return setmetatable(opts, C)
end

-- From an emulator handle returned by launcher.start.
function M.for_emulator(fc, extra)
  local o = { url = fc.url, ak = fc.ak, sk = fc.sk, project_id = fc.project_id,
              security_token = fc.security_token }
  for k, v in pairs(extra or {}) do o[k] = v end
  return M.new(o)
end

-- query: table (name -> value or list) or raw string. Returns the canonical string,
-- which is also what goes on the wire.
local function query_string(q)
  if type(q) == "string" then return auth.canonical_query(q) end
  local parts = {}
  for k, v in pairs(q or {}) do
    local vals = type(v) == "table" and v or { v }
    for _, x in ipairs(vals) do
      if type(x) == "number" and x == math.floor(x) then x = string.format("%d", x) end
      parts[#parts + 1] = auth.encode(tostring(k)) .. "=" .. auth.encode(tostring(x))
    end
  end
  return auth.canonical_query(table.concat(parts, "&"))
end

-- Returns status, body text, response headers (or nil, err).
function C:request(method, path, query, body, extra_headers)
  local http = require "socket.http"
  local ltn12 = require "ltn12"
  local qs = query_string(query)
  local host = self.url:match("^%a+://([^/]+)")
  local date = self.date or auth.format_sdk_date(os.time() + (self.clock_skew or 0))
  local headers = { host = host, ["x-sdk-date"] = date, ["content-type"] = "application/json",
                    ["x-project-id"] = self.project_id }
  if self.security_token then headers["x-security-token"] = self.security_token end
  for k, v in pairs(extra_headers or {}) do headers[k:lower()] = v end
  local names = {}
  for k in pairs(headers) do names[#names + 1] = k end
  table.sort(names)
  local _, sts = auth.build({ method = method, path = path, query = qs, headers = headers,
                              body = body or "" }, names, date)
  headers.authorization = "SDK-HMAC-SHA256 Access=" .. self.ak .. ", SignedHeaders=" ..
    table.concat(names, ";") .. ", Signature=" .. auth.sign(self.sk, sts)
  if body then headers["content-length"] = tostring(#body) end
  local chunks = {}
  local ok, code, rh = http.request {
    url = self.url .. path .. (qs ~= "" and ("?" .. qs) or ""), method = method,
    headers = headers, sink = ltn12.sink.table(chunks),
    source = body and self:body_source(body) or nil,
  }
  if not ok then return nil, code end
  return code, table.concat(chunks), rh
end

-- The body as an ltn12 source, held back body_delay seconds after the headers went out.
function C:body_source(body)
  local src = require("ltn12").source.string(body)
  if not self.body_delay then return src end
  local waited = false
  return function()
    if not waited then
      waited = true
      require("socket").sleep(self.body_delay)
    end
    return src()
  end
end

-- Decoded JSON answer: status, table-or-text, headers.
function C:json(method, path, query, body)
  local code, text, h = self:request(method, path, query, body)
  if not code then return nil, text end
  local ok, v = pcall(cjson.decode, text)
  return code, ok and v or text, h
end

local SVC = { ecs = "cloudservers", bms = "baremetalservers" }

function C:stop(kind, ids, typ)
  local servers = {}
  for i, id in ipairs(ids) do servers[i] = { id = id } end
  local body = cjson.encode({ ["os-stop"] = { type = typ, servers = servers } })
  return self:json("POST", "/v1/" .. self.project_id .. "/" .. SVC[kind] .. "/action", nil, body)
end

function C:start(kind, ids)
  local servers = {}
  for i, id in ipairs(ids) do servers[i] = { id = id } end
  local body = cjson.encode({ ["os-start"] = { servers = servers } })
  return self:json("POST", "/v1/" .. self.project_id .. "/" .. SVC[kind] .. "/action", nil, body)
end

function C:job(id)
  return self:json("GET", "/v1/" .. self.project_id .. "/jobs/" .. id)
end

function C:list(kind, query)
  return self:json("GET", "/v1/" .. self.project_id .. "/" .. SVC[kind] .. "/detail", query)
end

return M
