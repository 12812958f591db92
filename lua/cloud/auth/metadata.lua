--- Temporary keys from the ECS metadata service, for code running on an instance with an
-- agency (docs/reference/ECS-BMS.md, "Credentials, project and region like the official SDKs"):
-- a session token (PUT /meta-data/latest/api/token; 404, 405 or 503 there means the
-- service has none, and we go on without), then the keys (GET
-- /openstack/latest/securitykey). The answer is read in C (core.security_key): the
-- secret key and the security token become cloud.core.secret values, never Lua strings.
-- The calls go through a small transport of their own: short timeouts, never a proxy
-- (the service is link-local), and usable while an operation's calls are in flight.
-- @module cloud.auth.metadata
local core = require "cloud.core"
local sync = require "cloud.net.sync"
local transport = require "cloud.net.transport"
local utc = require "cloud.base.utc"

local M = {}
local Source = {}
Source.__index = Source

M.DEFAULT_ENDPOINT = "http://169.254.169.254"
M.TIMEOUT = 3 -- seconds, connect and whole call, as the SDKs
M.AGENCY_MISSING = "Please configure Cloud Service Agency first"
local TOKEN_TTL = 21600 -- the session token's life we ask for (the SDKs' six hours)
local TOKEN_PATH = "/meta-data/latest/api/token"
local KEY_PATH = "/openstack/latest/securitykey"
local NO_TOKEN_SERVICE = { [404] = true, [405] = true, [503] = true }

--- A source of keys at `endpoint` (a parsed endpoint: origin and path). `kind`: the
-- client's transport kind ("curl", "nginx" or nil for the default).
function M.new(endpoint, kind)
  return setmetatable({ base = endpoint.origin .. endpoint.path, kind = kind, seq = 0 }, Source)
end

--- Where the keys come from, for messages.
function Source:where()
  return "metadata service (" .. self.base .. ")"
end

function Source:_engine()
  if not self.engine then
    self.engine = transport.new{ concurrency = 1, timeout = M.TIMEOUT, connect_timeout = M.TIMEOUT,
                                 verify_tls = true, max_response = 64 * 1024, transport = self.kind }
  end
  return self.engine
end

function Source:_call(method, path, headers, raw)
  self.seq = self.seq + 1
  return sync.exchange(self:_engine(), self.seq, method, self.base .. path, headers,
    method == "PUT" and "" or nil, raw)
end

-- Why a call got no HTTP answer.
local function no_answer(r)
  if r.error == "timeout" then return ("no answer in %g s"):format(M.TIMEOUT) end
  return ("no answer (%s)"):format(r.message or r.error)
end

local function text_of(r)
  return type(r.body) == "string" and r.body or ""
end

-- The session token, asked for once for its whole life; false when the service has
-- no token service; nil, why when it failed.
function Source:_session_token()
  if self.token ~= nil and core.now() < self.token_until then return self.token end
  local r = self:_call("PUT", TOKEN_PATH, { ["X-Metadata-Token-Ttl-Seconds"] = tostring(TOKEN_TTL) })
  if r.error then return nil, no_answer(r) end
  if NO_TOKEN_SERVICE[r.status] then
    self.token, self.token_until = false, core.now() + TOKEN_TTL
    return false
  end
  local token = text_of(r):gsub("^%s+", ""):gsub("%s+$", "")
  if r.status ~= 200 or token == "" or token:find("[%c ]") then
    return nil, ("PUT %s answered HTTP %d without a token"):format(TOKEN_PATH, r.status)
  end
  self.token, self.token_until = token, core.now() + TOKEN_TTL - 60
  return token
end

function Source:_get_key(token)
  return self:_call("GET", KEY_PATH, token and { ["X-Metadata-Token"] = token } or {}, true)
end

--- Fetches the keys. Returns `{ ak, sk = secret, token = secret, expires_at = epoch }`, or
-- nil and why (in the service's own words when the instance has no agency). Never
-- raises for what the service answers.
function Source:fetch()
  local token, why = self:_session_token()
  if token == nil then return nil, why end
  local r = self:_get_key(token or nil)
  if r.status == 401 and token and not text_of(r):find(M.AGENCY_MISSING, 1, true) then
    -- The session token expired or was revoked: a new one, once.
    self.token = nil
    token, why = self:_session_token()
    if token == nil then return nil, why end
    r = self:_get_key(token or nil)
  end
  if r.error then return nil, no_answer(r) end
  if r.status < 200 or r.status >= 300 then
    if text_of(r):find(M.AGENCY_MISSING, 1, true) then return nil, M.AGENCY_MISSING end
    return nil, ("GET %s answered HTTP %d"):format(KEY_PATH, r.status)
  end
  local key, bad = core.security_key(r.body)
  if type(r.body) == "userdata" then r.body:wipe() end
  if not key then return nil, "its answer is unusable: " .. bad end
  local expires = utc.from_iso8601(key.expires_at)
  if not expires then
    key.secret:close()
    key.security_token:close()
    return nil, "its answer's credential.expires_at is not a UTC time"
  end
  return { ak = key.access, sk = key.secret, token = key.security_token, expires_at = expires }
end

function Source:close()
  if self.engine then self.engine:close() end
  self.engine = nil
end

return M
