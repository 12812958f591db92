--- A connection ready for a request inside nginx: from the keepalive pool, or dialled
-- anew, directly or through an HTTP proxy's CONNECT tunnel, then TLS for https.
-- DNS failures are told apart: a name that does not exist, no resolver at all, or a
-- resolver that refuses or fails the lookup will be the same on the next try ("dns", not
-- retried, as with libcurl); a resolver that did not answer may not ("connect", retried).
-- @module cloud.nginx.connect
local reader = require "cloud.nginx.reader"
local tls = require "cloud.nginx.tls"

local M = {}

local LINE_LIMIT = 16384 -- one line of the proxy's answer
local HEAD_LINES = 100   -- header lines of the proxy's answer, at most

local RESOLVER_HINT = " (nginx resolves host names itself: add a `resolver` directive to nginx.conf;"
  .. " see nginx/cloud.conf)"

--- Parses a proxy URL for the tunnel: `http://[user:password@]host[:port][/]`.
-- @return `{host=, port=, authority=, credentials=}` or nil and what is wrong with it
function M.parse_proxy(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://([^/?#]*)/?$")
  if not scheme then return nil, "must look like http://host:port" end
  local userinfo, authority = rest:match("^(.*)@(.*)$")
  if not userinfo then userinfo, authority = nil, rest end
  if scheme:lower() ~= "http" then
    return nil, "must be an http:// proxy inside nginx (a cosocket cannot speak TLS to the proxy and "
      .. "then TLS again inside the tunnel)"
  end
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([%w.-]+):?(%d*)$") end
  port = tonumber(port ~= "" and port or "80")
  if not host or not port or port < 1 or port > 65535 then return nil, "must look like http://host:port" end
  local proxy = { host = host:lower(), port = port, authority = authority }
  if userinfo then
    -- Basic credentials, as curl takes them from the URL (percent-decoded).
    proxy.credentials = userinfo:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return proxy
end

-- Proxy credentials by a number of their own (per worker, as pools are): a pool name
-- tells them apart without holding them (nginx's debug log prints pool names).
local credential_numbers, credentials_seen = {}, 0
local function credential_number(credentials)
  local n = credential_numbers[credentials]
  if not n then
    credentials_seen = credentials_seen + 1
    n = credentials_seen
    credential_numbers[credentials] = n
  end
  return n
end

--- The keepalive pool of an endpoint. TLS, verification and the proxy (with its
-- credentials) are part of the name, so a connection set up one way is never handed to
-- a request that wants another.
function M.pool_name(scheme, host, port, verify, proxy)
  local via = ""
  if proxy then
    via = (":via=%s:%d"):format(proxy.host, proxy.port)
    if proxy.credentials then via = via .. ":as=" .. credential_number(proxy.credentials) end
  end
  return ("cloud:%s://%s:%d:verify=%s%s"):format(scheme, host, port, verify and "on" or "off", via)
end

-- A failed sock:connect as an error kind and message.
local function connect_failure(err, what)
  err = tostring(err)
  if err == "timeout" then return "timeout", ("connect to %s: timed out"):format(what) end
  -- nginx's wording: 'no resolver defined to resolve "x"', or
  -- 'x could not be resolved (3: Host not found)' where 3 is the DNS answer's RCODE
  -- (NXDOMAIN), and 110 means the resolver did not answer in resolver_timeout.
  if err:find("^no resolver defined") then
    return "dns", ("connect to %s: %s%s"):format(what, err, RESOLVER_HINT)
  end
  local code = err:match("could not be resolved %((%d+): ")
  if code == "3" then
    return "dns", ("connect to %s: %s (no such host name: check the region or endpoint)"):format(what, err)
  end
  if code == "110" then
    return "connect", ("connect to %s: %s (the resolver did not answer: check the `resolver` directive in "
      .. "nginx.conf)"):format(what, err)
  end
  if code then
    -- The resolver answered, refusing or failing (REFUSED, SERVFAIL, ...): the same on the
    -- next try, as libcurl has it (not retried), not minutes of backoff.
    return "dns", ("connect to %s: %s (the resolver refused or failed the lookup: check the `resolver` directive "
      .. "in nginx.conf and that server's rules)"):format(what, err)
  end
  return "connect", ("connect to %s: %s"):format(what, err)
end

-- Asks the proxy for a tunnel to `target` (host:port) before `deadline`; nil, or an
-- error kind and message. Nothing of the request has left yet.
local function tunnel(sock, proxy, target, deadline)
  local _, err = sock:send({ "CONNECT ", target, " HTTP/1.1\r\nHost: ", target, "\r\n",
    proxy.credentials and ("Proxy-Authorization: Basic " .. ngx.encode_base64(proxy.credentials) .. "\r\n") or "",
    "\r\n" })
  if err then return "connect", ("proxy %s: sending CONNECT: %s"):format(proxy.authority, err) end
  local r = reader.new(sock, deadline)
  local line
  line, err = r:line(LINE_LIMIT)
  local status_line = line
  for _ = 1, HEAD_LINES do
    if not line or line == "" then break end
    line, err = r:line(LINE_LIMIT)
  end
  if line ~= "" then
    local kind = err == "timeout" and "timeout" or "connect"
    return kind, ("proxy %s: no answer to CONNECT %s: %s"):format(proxy.authority, target, tostring(err or "too long"))
  end
  local status = tonumber((status_line or ""):match("^HTTP/%d%.%d (%d%d%d)"))
  if not status or status < 200 or status > 299 then
    return "connect", ("proxy %s refused CONNECT %s: %s"):format(proxy.authority, target, status_line)
  end
  -- The server speaks first only after the client's first bytes: anything here is not ours.
  if r:leftover() then return "connect", ("proxy %s: unexpected bytes after its answer"):format(proxy.authority) end
  return nil
end

--- A socket ready for the request, or nil, an error kind and a message (the request was
-- not sent in any case).
-- @tparam table o connect_timeout, timeout (seconds), verify, proxy (parse_proxy's table)
-- @tparam table t scheme, host, port, authority (the endpoint), fresh (a pool of its own),
--   deadline (ngx.now() time by which the whole exchange must end: connect, tunnel and TLS
--   take their share of the call's `timeout`, not a timeout each)
function M.open(o, t)
  local sock = ngx.socket.tcp()
  local ms = function(s) return math.max(1, math.floor(s * 1000)) end
  local connect_timeout = math.min(o.connect_timeout, o.timeout)
  sock:settimeouts(ms(connect_timeout), ms(o.timeout), ms(o.timeout))
  local pool = M.pool_name(t.scheme, t.host, t.port, o.verify, o.proxy)
  -- Fresh calls use a pool that is never filled (they are closed after), so connect
  -- always dials anew for them.
  local opts = { pool = t.fresh and (pool .. ":fresh") or pool }
  local proxy = o.proxy
  local ok, err
  if proxy then
    ok, err = sock:connect(proxy.host, proxy.port, opts)
  else
    ok, err = sock:connect(t.host, t.port, opts)
  end
  if not ok then
    local kind, msg = connect_failure(err, proxy and ("proxy " .. proxy.authority) or (t.host .. ":" .. t.port))
    return nil, kind, msg
  end
  if (sock:getreusedtimes() or 0) > 0 then return sock end -- tunnel and TLS already up

  if proxy then
    ngx.update_time()
    local target = (t.host:find(":", 1, true) and ("[" .. t.host .. "]") or t.host) .. ":" .. t.port
    local kind, msg = tunnel(sock, proxy, target, math.min(ngx.now() + connect_timeout, t.deadline))
    if kind then
      sock:close()
      return nil, kind, msg
    end
  end
  if t.scheme == "https" then
    ngx.update_time()
    local left = t.deadline - ngx.now()
    if left <= 0 then
      sock:close()
      return nil, "timeout", ("TLS handshake with %s: no time left of the call's timeout"):format(t.authority)
    end
    sock:settimeouts(ms(left), ms(left), ms(left))
    local kind, msg = tls.handshake(sock, t.host, t.authority, o.verify)
    if kind then
      sock:close()
      return nil, kind, msg
    end
  end
  return sock
end

return M
