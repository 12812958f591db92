--- Naming a proxy as the cause of a failed call. libcurl says "Failed to connect to
-- 127.0.0.1 port 1" whether that address is the cloud's or the proxy's, and "CONNECT tunnel
-- failed" without saying which proxy: a user with a dead HTTPS_PROXY would look for the
-- fault at the cloud. This reads the proxies the transport may use (the `proxy` option, or
-- the variables libcurl reads) and, when a failure is at one of them, says so in the
-- response's message and names it in `response.proxy`, its user and password left out.
-- @module cloud.net.proxy_cause
local M = {}

-- The variables libcurl reads for a proxy, in its order; it ignores HTTP_PROXY in capitals
-- (a CGI server sets it from a request header).
M.ENV = { "https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY" }

local DEFAULT_PORT = { https = 443 } -- libcurl's default for every other proxy scheme: 1080

--- Parses a proxy URL as libcurl takes it (`[scheme://][user[:password]@]host[:port][/]`):
-- `{ host =, port =, shown = "scheme://host:port" }`, or nil when it has no host.
function M.parse(url)
  if type(url) ~= "string" or url == "" then return nil end
  local scheme, rest = url:match("^(%a[%w+.%-]*)://(.*)$")
  scheme = (scheme or "http"):lower()
  rest = rest or url
  rest = rest:match("^[^/?#]*") -- the authority
  rest = rest:match("^.*@(.*)$") or rest -- no credentials, ever, in what is shown
  local host, port = rest:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = rest:match("^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil end
  port = tonumber(port) or DEFAULT_PORT[scheme] or 1080
  local shown_host = host:find(":", 1, true) and ("[" .. host .. "]") or host
  return { host = host:lower(), port = port, shown = ("%s://%s:%d"):format(scheme, shown_host, port) }
end

--- The proxies a transport may go through: the `proxy` option's URL, or with "env" each
-- proxy variable set (`getenv` defaults to os.getenv). Each `{ host, port, shown, from }`.
function M.candidates(proxy, getenv)
  local out = {}
  if proxy and proxy ~= "env" then
    local p = M.parse(proxy)
    if p then p.from = "the proxy option" out[1] = p end
  elseif proxy == "env" then
    getenv = getenv or os.getenv
    for _, name in ipairs(M.ENV) do
      local p = M.parse(getenv(name))
      if p then p.from = name out[#out + 1] = p end
    end
  end
  return out
end

local function find(proxies, host, port)
  host = host and host:lower():gsub("^%[(.*)%]$", "%1")
  for _, p in ipairs(proxies) do
    if p.host == host and (port == nil or p.port == port) then return p end
  end
end

-- The proxy a failed response was at, and what happened there; nil when none.
local function cause(r, proxies)
  local msg = r.message or ""
  local only = #proxies == 1 and proxies[1] or nil
  local peer_host, peer_port
  if r.peer then peer_host, peer_port = r.peer:match("^%[?(.-)%]?:(%d+)$") end
  if r.proxy_status and r.proxy_status >= 300 then
    -- It answered, from the address curl connected to (a proxy named by host: the only one).
    local p = find(proxies, peer_host, tonumber(peer_port)) or only
    if not p then return end
    local hint = r.proxy_status == 407 and " (it wants a user and password: give them in its URL)" or ""
    return p, ("refused the tunnel with HTTP %d%s"):format(r.proxy_status, hint)
  end
  if r.proxy_unresolved then
    return find(proxies, msg:match("resolve proxy:? '?([^%s']+)")) or only, "does not resolve"
  end
  local host, port = msg:match("connect to (%S+) port (%d+)")
  if not host then host, port = peer_host, peer_port end
  local p = host and find(proxies, host, tonumber(port))
  if p then return p, r.error == "timeout" and "did not answer in time" or "could not be reached" end
end

--- Rewrites a failed response's message when the failure was at a proxy of `proxies`:
-- "the proxy http://host:port (from HTTPS_PROXY) could not be reached: <libcurl's words>".
-- @tparam table r a response of the C engine with `error` set
-- @tparam table proxies from M.candidates
function M.name(r, proxies)
  if not r.error or #proxies == 0 then return end
  local p, what = cause(r, proxies)
  if not p then return end
  r.proxy = p.shown
  r.message = ("the proxy %s (from %s) %s: %s"):format(p.shown, p.from, what, tostring(r.message))
end

return M
