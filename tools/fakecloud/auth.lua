-- SDK-HMAC-SHA256 verification, written from SIGNING.md. Everything here is pure
-- Lua (runs under lua5.4, luajit and nginx); hashing comes from fakecloud.crypto.
local crypto = require "fakecloud.crypto"

local M = {}

local function encode(s)
  return (s:gsub("[^A-Za-z0-9%-_%.~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end
M.encode = encode

local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end
M.decode = decode

-- Raw path as received -> canonical URI: decode and re-encode each segment.
function M.canonical_uri(raw_path)
  if raw_path == nil or raw_path == "" then return "/" end
  local uri = raw_path:gsub("[^/]+", function(seg) return encode(decode(seg)) end)
  if uri:sub(-1) ~= "/" then uri = uri .. "/" end
  return uri
end

-- Raw query string -> list of {key, value} decoded pairs, in wire order.
function M.parse_query(raw)
  local pairs_ = {}
  for part in (raw or ""):gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=(.*)$")
    if not k then k, v = part, "" end
    pairs_[#pairs_ + 1] = { decode(k), decode(v) }
  end
  return pairs_
end

function M.canonical_query(raw)
  local items = M.parse_query(raw)
  table.sort(items, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, kv in ipairs(items) do out[i] = encode(kv[1]) .. "=" .. encode(kv[2]) end
  return table.concat(out, "&")
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- headers: table with lowercased names -> value (string, or list of strings).
-- Returns canonical header block, or nil, err when a signed header is absent.
function M.canonical_headers(headers, signed_list)
  local lines = {}
  for i, name in ipairs(signed_list) do
    local v = headers[name]
    if v == nil then return nil, "signed header " .. name .. " missing" end
    if type(v) == "table" then v = table.concat(v, ",") end
    lines[i] = name .. ":" .. trim(v) .. "\n"
  end
  return table.concat(lines)
end

-- "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex"
function M.parse_authorization(value)
  if type(value) ~= "string" then return nil, "Authorization header missing" end
  local rest = value:match("^%s*SDK%-HMAC%-SHA256%s+(.*)$")
  if not rest then return nil, "Authorization is not SDK-HMAC-SHA256" end
  local f = {}
  for item in rest:gmatch("[^,]+") do
    local k, v = item:match("^%s*([%w]+)=(.-)%s*$")
    if k then f[k] = v end
  end
  if not (f.Access and f.SignedHeaders and f.Signature) then
    return nil, "Authorization lacks Access, SignedHeaders or Signature"
  end
  local list = {}
  for name in f.SignedHeaders:gmatch("[^;]+") do list[#list + 1] = name:lower() end
  return { ak = f.Access, signed_headers = f.SignedHeaders, signed_list = list,
           signature = f.Signature:lower() }
end

-- req = { method, path (raw), query (raw, no '?'), headers (lowercased), body }
-- Returns canonical_request, string_to_sign (or nil, err).
function M.build(req, signed_list, sdk_date)
  local ch, err = M.canonical_headers(req.headers, signed_list)
  if not ch then return nil, err end
  local payload_hash
  local content_sha = req.headers["x-sdk-content-sha256"]
  for _, n in ipairs(signed_list) do
    if n == "x-sdk-content-sha256" and type(content_sha) == "string" then
      payload_hash = trim(content_sha)
    end
  end
  payload_hash = payload_hash or crypto.sha256_hex(req.body or "")
  local cr = table.concat({
    req.method:upper(), M.canonical_uri(req.path), M.canonical_query(req.query),
    ch, table.concat(signed_list, ";"), payload_hash }, "\n")
  local sts = "SDK-HMAC-SHA256\n" .. sdk_date .. "\n" .. crypto.sha256_hex(cr)
  return cr, sts
end

function M.sign(sk, string_to_sign)
  return crypto.hmac_sha256_hex(sk, string_to_sign)
end

function M.format_sdk_date(t)
  return os.date("!%Y%m%dT%H%M%SZ", math.floor(t))
end

-- The emulator keeps no calendar arithmetic of its own: the client has one
-- (lua/cloud/base/utc.lua), and a bug shared by both would be invisible.
local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }

-- Outside nginx (specs calling verify directly): the second whose gmtime text is `s`,
-- found by bisection over 1970 to past 3000 (the text's fixed width orders it as time
-- is ordered), or nil when no second has that text (30 February, hour 24).
local function gmtime_search(s)
  local lo, hi = 0, 2 ^ 35
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if M.format_sdk_date(mid) < s then lo = mid + 1 else hi = mid end
  end
  if M.format_sdk_date(lo) == s then return lo end
end

-- YYYYMMDDTHHMMSSZ -> epoch seconds (UTC), or nil. Inside nginx, nginx's own HTTP date
-- parser reads the same parts written as an HTTP date; it checks the day against the
-- month (leap years too) and skips the weekday, so none is computed.
function M.parse_sdk_date(s)
  local Y, m, d, H, Mi, S = (s or ""):match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  if not Y then return nil end
  local ngx = rawget(_G, "ngx")
  if not (ngx and ngx.parse_http_time) then return gmtime_search(s) end
  local month = MONTHS[tonumber(m)]
  if not month then return nil end
  return ngx.parse_http_time(("Day, %s %s %s %s:%s:%s GMT"):format(d, month, Y, H, Mi, S))
end

-- Verify a received request. creds: list of {ak, sk, security_token}.
-- now: emulator clock (epoch seconds). Returns true, or false, reason, canonical_request.
function M.verify(req, creds, now)
  local h = req.headers
  local a, err = M.parse_authorization(h["authorization"])
  if not a then return false, err end
  local date = h["x-sdk-date"]
  if type(date) ~= "string" then return false, "X-Sdk-Date header missing" end
  local t = M.parse_sdk_date(date)
  if not t then return false, "X-Sdk-Date is not YYYYMMDDTHHMMSSZ" end
  local signed = {}
  for _, n in ipairs(a.signed_list) do signed[n] = true end
  if not (signed.host and signed["x-sdk-date"]) then
    return false, "SignedHeaders must include host and x-sdk-date"
  end
  local cred
  for _, c in ipairs(creds) do if c.ak == a.ak then cred = c break end end
  local cr, sts = M.build(req, a.signed_list, date)
  if not cr then return false, sts end
  if not cred then return false, "access key " .. a.ak .. " does not exist", cr end
  if math.abs(t - now) > 15 * 60 then
    return false, "signature expired: x-sdk-date " .. date .. ", server time " ..
      M.format_sdk_date(now), cr, "expired"
  end
  if cred.security_token then
    if not signed["x-security-token"] or h["x-security-token"] ~= cred.security_token then
      return false, "X-Security-Token missing, unsigned or wrong", cr
    end
  end
  -- Temporary keys (metadata.lua) are refused once expired, whatever the signature.
  if cred.expires_at and now >= cred.expires_at then
    return false, ("the temporary access key %s expired %.3f s ago"):format(a.ak, now - cred.expires_at), cr,
      "key_expired"
  end
  if M.sign(cred.sk, sts) ~= a.signature then
    return false, "signature mismatch", cr
  end
  return true
end

return M
