--- Picks the HTTP transport: libcurl's multi engine in the C core, or (inside nginx)
-- the cosocket one, since a blocking libcurl call would freeze every request of the
-- worker. Both have :add(id, method, url, headers, body, fresh, raw), :run(timeout)
-- (the finished responses: an array, or nil or an empty array when none), :pending(),
-- :drop_queued() (calls not yet started are never sent; returns how many and their ids)
-- and :close().
-- @module cloud.net.transport
local defaults = require "cloud.base.defaults"
local errors = require "cloud.errors"
local phase = require "cloud.nginx.phase"
local proxy_cause = require "cloud.net.proxy_cause"

local M = {}

local WHERE = "cloud.new"

-- The engine options of `opts`, each one absent taken from cloud.base.defaults: both engines
-- get every option, so neither falls back on a default of its own.
local function engine_options(opts)
  local o = { ca_file = opts.ca_file, proxy = opts.proxy }
  for k, v in pairs(defaults.http) do
    if opts[k] == nil then o[k] = v else o[k] = opts[k] end
  end
  return o
end

-- The engine, its failures at a proxy said to be there (cloud.net.proxy_cause); itself
-- when no proxy is set, so the common case pays nothing.
local function with_proxy_named(engine, proxies)
  if #proxies == 0 then return engine end
  local w = {}
  function w.run(_, timeout)
    local out = engine:run(timeout)
    for _, r in ipairs(out or {}) do
      if r.error then proxy_cause.name(r, proxies) end
    end
    return out
  end
  return setmetatable(w, { __index = function(t, k)
    local f = engine[k]
    if type(f) ~= "function" then return f end
    local m = function(_, ...) return f(engine, ...) end
    rawset(t, k, m)
    return m
  end, __tostring = function() return tostring(engine) end })
end

-- The C engine; the nginx one takes no ca_file (refused below).
local function curl(opts)
  if opts.ca_file then -- told now, not as a TLS failure of every call
    local f, why = io.open(opts.ca_file, "rb")
    if not f then errors.argument(WHERE, "ca_file", "cannot be read (" .. tostring(why):gsub("^.*: ", "") .. ")") end
    f:close()
  end
  -- proxy = "env": HTTPS_PROXY, NO_PROXY and friends, read by libcurl as curl reads them.
  if opts.proxy ~= nil and opts.proxy ~= "env" and not opts.proxy:match("^%a[%w+.%-]*://[^%s/?#]+/?$") then
    errors.argument(WHERE, "proxy", "must be \"env\" or a URL like http://host:port")
  end
  local o = engine_options(opts)
  o.proxy, o.proxy_from_env = opts.proxy ~= "env" and opts.proxy or nil, opts.proxy == "env" or nil
  return with_proxy_named(require("cloud.core").http(o), proxy_cause.candidates(opts.proxy))
end

local function nginx(opts)
  if not phase.in_nginx() then
    errors.argument(WHERE, "transport", "'nginx' needs OpenResty / lua-nginx-module (there is no ngx API here)")
  end
  -- Cosockets take their trust store from nginx.conf, not per socket.
  if opts.ca_file then
    errors.argument(WHERE, "ca_file", "cannot apply inside nginx: put the CA bundle in nginx.conf with "
      .. "'lua_ssl_trusted_certificate " .. opts.ca_file .. ";' (see nginx/cloud.conf) and drop ca_file")
  end
  -- The cosocket transport tunnels through an HTTP proxy with CONNECT.
  if opts.proxy then
    local _, problem = require("cloud.nginx.connect").parse_proxy(opts.proxy)
    if problem then errors.argument(WHERE, "proxy", problem) end
  end
  return require("cloud.nginx.transport").new(engine_options(opts))
end

--- Builds the transport for a client.
-- @tparam table opts concurrency, timeout, connect_timeout, verify_tls, ca_file, proxy
--   (a URL, or "env": the proxy environment variables, as curl reads them), max_response,
--   transport ("nginx", "curl" or nil: nginx when running inside nginx; or a transport
--   object, used as it is: cloud.fleet gives each client a lane of one engine)
function M.new(opts)
  local kind = opts.transport
  if type(kind) == "table" then
    for _, m in ipairs({ "add", "run", "pending", "drop_queued", "close" }) do
      if type(kind[m]) ~= "function" then
        errors.argument(WHERE, "transport", "must be \"nginx\", \"curl\" or an object with " .. m .. "()")
      end
    end
    return kind
  end
  if kind == nil then kind = phase.in_nginx() and "nginx" or "curl" end
  if kind == "nginx" then return nginx(opts) end
  if kind == "curl" then return curl(opts) end
  errors.argument(WHERE, "transport", "must be \"nginx\" or \"curl\"")
end

return M
