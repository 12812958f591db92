-- The ECS metadata service's two calls for temporary keys (docs/reference/ECS-BMS.md,
-- "Credentials, project and region like the official SDKs"), unsigned as on an instance:
--   PUT /meta-data/latest/api/token  (X-Metadata-Token-Ttl-Seconds) -> a session token
--   GET /openstack/latest/securitykey (X-Metadata-Token)             -> {"credential": {...}}
-- Every key fetch issues new keys that live `ttl` seconds; the signed API refuses them
-- after that (auth.lua). Config key `metadata`, each part switchable:
--   enabled = false   both calls answer 404, as where there is no metadata service
--   token = "optional" | "required" | 404 | 405 | 503   the token call: issued and checked
--                       when sent / needed / answered with that status (no token service)
--   ttl = seconds      the keys' life (default 3600)
--   agency = false     the key call answers "Please configure Cloud Service Agency first"
--   hang = seconds     both calls wait that long first (a service that does not answer)
--   expires_early = s  the signed API refuses the keys this long before the expires_at
--                       announced (keys revoked early, or clocks that differ)
local config = require "fakecloud.config"
local json = require "fakecloud.json"
local respond = require "fakecloud.respond"
local state = require "fakecloud.state"

local M = {}

local AGENCY_MISSING = "Please configure Cloud Service Agency first"
local TOKEN_MAX_TTL = 21600

local function settings(S)
  local m = config.val(S.cfg.metadata) or {}
  local v = config.val
  return {
    enabled = v(m.enabled) ~= false,
    token = v(m.token) or "optional",
    ttl = tonumber(v(m.ttl)) or 3600,
    agency = v(m.agency) ~= false,
    hang = tonumber(v(m.hang)) or 0,
    expires_early = tonumber(v(m.expires_early)) or 0,
  }
end

local function hex(n)
  local t = {}
  for i = 1, n do t[i] = string.format("%02x", math.random(0, 255)) end
  return table.concat(t)
end

local function send(status, body, content_type)
  ngx.status = status
  ngx.header["Content-Type"] = content_type or "text/plain"
  ngx.print(body)
  return ngx.exit(status)
end

-- "2026-11-29T12:00:00.123456Z" (the cloud's own form, with microseconds).
local function iso(t)
  local whole = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", whole) .. string.format(".%06dZ", math.floor((t - whole) * 1e6))
end

local function token_call(S, cfg)
  local st = S.stats.metadata
  st.token_calls = st.token_calls + 1
  if type(cfg.token) == "number" then return send(cfg.token, "no token service here") end
  local ttl = tonumber(ngx.req.get_headers()["x-metadata-token-ttl-seconds"])
  if not ttl or ttl < 1 or ttl > TOKEN_MAX_TTL or ttl % 1 ~= 0 then
    return send(400, "X-Metadata-Token-Ttl-Seconds must be a whole number from 1 to " .. TOKEN_MAX_TTL)
  end
  local token = hex(8) .. "-" .. hex(8) .. "-" .. hex(8)
  S.meta_tokens[token] = ngx.now() + ttl
  return send(200, token)
end

local function key_call(S, cfg)
  local st = S.stats.metadata
  st.key_calls = st.key_calls + 1
  local token = ngx.req.get_headers()["x-metadata-token"]
  if token ~= nil or cfg.token == "required" then
    local until_ = type(token) == "string" and S.meta_tokens[token]
    if not until_ or until_ < ngx.now() then return send(401, "the metadata token is missing, wrong or expired") end
  end
  if not cfg.agency then return send(401, AGENCY_MISSING) end
  local now = respond.now(S)
  -- Keys long expired are forgotten; the others stay so an expired one is told apart.
  local keep = {}
  for _, c in ipairs(S.creds) do
    if not c.expires_at or c.expires_at > now - 60 then keep[#keep + 1] = c end
  end
  S.creds = keep
  st.issued = st.issued + 1
  local cred = { ak = ("TMPAK%06d%s"):format(st.issued, hex(4):upper()), sk = hex(20),
                 security_token = hex(300), expires_at = now + cfg.ttl - cfg.expires_early }
  S.creds[#S.creds + 1] = cred
  return send(200, json.encode({ credential = { access = cred.ak, secret = cred.sk,
    securitytoken = cred.security_token, expires_at = iso(now + cfg.ttl) } }), "application/json")
end

function M.handle()
  local S = state.get()
  local cfg = settings(S)
  if cfg.hang > 0 then ngx.sleep(cfg.hang) end
  if not cfg.enabled then return send(404, "Not Found") end
  local method, uri = ngx.req.get_method(), ngx.var.uri
  if uri == "/meta-data/latest/api/token" then
    if method ~= "PUT" then return send(405, "Method Not Allowed") end
    return token_call(S, cfg)
  elseif uri == "/openstack/latest/securitykey" then
    if method ~= "GET" then return send(405, "Method Not Allowed") end
    return key_call(S, cfg)
  end
  return send(404, "Not Found")
end

return M
