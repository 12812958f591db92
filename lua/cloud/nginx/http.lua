--- One HTTP/1.1 exchange over an nginx cosocket: a connection (pooled, or dialled by
-- cloud.nginx.connect, TLS included), request, status line, headers, body by Content-Length, chunked or
-- close. Never retries: the caller decides, knowing whether the request went out.
-- @module cloud.nginx.http
local connect = require "cloud.nginx.connect"
local reader = require "cloud.nginx.reader"

local M = {}

local LINE_LIMIT = 16384   -- one status or header line
local HEADER_LIMIT = 65536 -- the whole header section
local KEEPALIVE_MS = 30000 -- idle pooled connections; below common server timeouts

--- Splits an http(s) URL; nil when it is not one.
-- @return scheme, host (no brackets), port, host as written (for Host:), target
function M.parse_url(url)
  local scheme, authority, target = url:match("^(https?)://([^/?#]+)([^#]*)")
  if not scheme or authority:find("@", 1, true) then return nil end
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  if port < 1 or port > 65535 then return nil end
  if target == "" then target = "/" elseif target:sub(1, 1) == "?" then target = "/" .. target end
  return scheme, host:lower(), port, authority, target
end

--- Raises unless method, url and headers can go on the wire as they are (no CR/LF
-- smuggling through a header).
function M.check(method, url, headers, body)
  assert(type(method) == "string" and method:match("^%u+$"), "cloud.nginx.http: bad method")
  if not M.parse_url(url) then error("cloud.nginx.http: url must look like http(s)://host[:port]/path", 3) end
  if type(headers) ~= "table" then error("cloud.nginx.http: headers must be a table", 3) end
  for k, v in pairs(headers) do
    -- A value may be a cloud.core.secret (a security token), checked when it was made.
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "userdata") then
      error("cloud.nginx.http: header names and values must be strings", 3)
    end
    if not k:match("^[%w!#$%%&'*+%-.^_`|~]+$") or (type(v) == "string" and v:find("[%z\r\n]")) then
      error("cloud.nginx.http: a header is malformed", 3)
    end
  end
  if body ~= nil and type(body) ~= "string" then error("cloud.nginx.http: body must be a string", 3) end
end

local function request_text(method, authority, target, headers, body)
  local out, has = { method, " ", target, " HTTP/1.1\r\n" }, {}
  for k, v in pairs(headers) do
    has[k:lower()] = true
    -- A secret's bytes become a string only here: cosockets send nothing else.
    out[#out + 1] = type(v) == "string" and (k .. ": " .. v .. "\r\n") or require("cloud.core").header_line(k, v)
  end
  if not has.host then out[#out + 1] = "Host: " .. authority .. "\r\n" end
  if not has["content-length"] and (body or method == "POST" or method == "PUT" or method == "PATCH") then
    out[#out + 1] = "Content-Length: " .. #(body or "") .. "\r\n"
  end
  out[#out + 1] = "\r\n"
  out[#out + 1] = body
  return out -- cosockets send tables of strings without joining them
end

-- Reads the status line and headers of one answer (skipping 1xx interim answers).
local function read_head(r)
  while true do
    local line, err = r:line(LINE_LIMIT)
    if not line then return nil, err end
    local version, status = line:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not version then return nil, "malformed", "bad status line" end
    local head = { status = tonumber(status), version = version, h = {} }
    local size = #line
    while true do
      line, err = r:line(LINE_LIMIT)
      if not line then return nil, err == "too_long" and "too_large" or err end
      size = size + #line
      if size > HEADER_LIMIT then return nil, "too_large", "response headers too large" end
      if line == "" then break end
      local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
      if not name then return nil, "malformed", "bad header line" end
      name = name:lower()
      -- Repeated fields join with a comma (RFC 9110); only a few are read anyway.
      head.h[name] = head.h[name] and (head.h[name] .. ", " .. value) or value
    end
    if head.status >= 200 or head.status == 101 then return head end
  end
end

local function read_chunked(r, limit)
  local parts, total = {}, 0
  while true do
    local line, err = r:line(LINE_LIMIT)
    if not line then return nil, err end
    local hex = line:match("^%s*(%x+)")
    local size = hex and tonumber(hex, 16)
    if not size then return nil, "malformed", "bad chunk size" end
    if size == 0 then break end
    total = total + size
    if total > limit then return nil, "too_large" end
    local data
    data, err = r:take(size)
    if not data then return nil, err end
    parts[#parts + 1] = data
    line, err = r:line(LINE_LIMIT)
    if line ~= "" then return nil, err or "malformed", "bad chunk end" end
  end
  repeat -- trailer fields, ignored
    local line, err = r:line(LINE_LIMIT)
    if not line then return nil, err end
  until line == ""
  return table.concat(parts)
end

-- The body as the head describes it; `reusable` is false when only closing ends it.
local function read_body(r, head, method, limit)
  local s, h = head.status, head.h
  if method == "HEAD" or s == 204 or s == 304 or (s >= 100 and s < 200) then return "", true end
  local te = h["transfer-encoding"]
  if te and te:lower():find("chunked", 1, true) then
    local body, err, msg = read_chunked(r, limit)
    return body, true, err, msg
  end
  local len = h["content-length"]
  if len then
    local n = len:match("^%d+$") and tonumber(len)
    if not n then return nil, false, "malformed", "bad Content-Length" end
    if n > limit then return nil, false, "too_large" end
    local body, err = r:take(n)
    return body, true, err
  end
  local body, err = r:rest(limit)
  return body, false, err
end

local function keep_alive(head)
  local conn = (head.h.connection or ""):lower()
  if head.version == "1.0" then return conn:find("keep-alive", 1, true) ~= nil end
  return not conn:find("close", 1, true)
end

-- A socket failure after the request went out, as the transport's error names (see
-- csrc/http.c).
local function failure(err)
  if err == "timeout" then return "timeout" end
  if err == "too_large" or err == "too_long" then return "too_large" end
  if err == "malformed" then return "transport" end
  return "dropped"
end

-- What went wrong with a read or send, for the message: a timeout says it is the call's
-- whole timeout that ran out (not a pause between bytes).
local function cause(o, err, msg)
  if err == "timeout" then return ("no whole answer within the call's timeout (%gs)"):format(o.timeout) end
  return msg or err
end

--- Performs one request. Never raises for network trouble.
-- @tparam table o connect_timeout, timeout (seconds), verify (bool), max_response (bytes),
--   pool_size (connections kept per endpoint), proxy (nginx_connect.parse_proxy's table, or nil)
-- @tparam table q method, url, headers, body, fresh (a call that must not go twice:
--   it gets a connection of its own, closed afterwards)
-- @treturn table `{status, body, sent, elapsed, error, message, request_id, retry_after, date}`
function M.request(o, q)
  ngx.update_time()
  local started = ngx.now()
  local res = { status = 0, body = "", sent = false }
  local function fail(kind, msg)
    ngx.update_time()
    res.error, res.message, res.status, res.elapsed = kind, msg, 0, ngx.now() - started
    return res
  end

  -- One deadline for the whole exchange: connect, send, head and body share `timeout`.
  local deadline = started + o.timeout
  local scheme, host, port, authority, target = M.parse_url(q.url)
  local sock, kind, msg = connect.open(o, { scheme = scheme, host = host, port = port, authority = authority,
                                            fresh = q.fresh, deadline = deadline })
  if not sock then return fail(kind, msg) end

  ngx.update_time()
  sock:settimeout(math.max(1, math.floor((deadline - ngx.now()) * 1000)))
  -- From here on the cloud may have received the call.
  res.sent = true
  local _, err = sock:send(request_text(q.method, authority, target, q.headers, q.body))
  if err then
    sock:close()
    return fail(failure(err), ("sending to %s: %s"):format(authority, err))
  end

  local r = reader.new(sock, deadline)
  local head
  head, err, msg = read_head(r)
  if not head then
    sock:close()
    return fail(failure(err), ("reading the answer of %s: %s"):format(authority, cause(o, err, msg)))
  end
  local body, reusable
  body, reusable, err, msg = read_body(r, head, q.method, o.max_response)
  if not body then
    sock:close()
    if err == "too_large" then return fail("too_large", ("response larger than %d bytes"):format(o.max_response)) end
    return fail(failure(err), ("reading the body from %s: %s"):format(authority, cause(o, err, msg)))
  end

  if q.fresh or not reusable or r:leftover() or not keep_alive(head) then
    sock:close()
  else
    sock:setkeepalive(KEEPALIVE_MS, o.pool_size)
  end
  ngx.update_time()
  res.status, res.body, res.elapsed = head.status, body, ngx.now() - started
  res.request_id = head.h["x-request-id"] or head.h["x-iam-trace-id"]
  res.retry_after = head.h["retry-after"]
  res.date = head.h["date"]
  return res
end

return M
