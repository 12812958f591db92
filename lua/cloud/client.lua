--- The client: options checked once, the SK held in wiped C memory, one HTTP engine
-- kept across calls so connections are reused.
-- @module cloud.client
local core = require "cloud.core"
local check = require "cloud.check"
local clock = require "cloud.clock"
local credentials = require "cloud.credentials"
local defaults = require "cloud.defaults"
local errors = require "cloud.errors"
local scheduler = require "cloud.scheduler"
local transport = require "cloud.transport"

local M = {}
local Client = {}
Client.__index = Client
M.Client = Client

local WHERE = "cloud.new"
local KNOWN = {
  region = true, project_id = true, ak = true, sk = true, security_token = true, endpoints = true,
  concurrency = true, timeout = true, connect_timeout = true, verify_tls = true, ca_file = true,
  proxy = true, retry = true, logger = true, max_response = true, protect_tag = true, transport = true,
}
local SERVICES = { ecs = true, bms = true }
M.OPTIONS = KNOWN

--- Splits an endpoint URL into what the signer and the wire need; nil, problem when it
-- is not one.
local function parse_endpoint(url)
  if type(url) ~= "string" then return nil, "must be a URL string" end
  local scheme, hostport, path = url:match("^(https?)://([^/?#]+)(/?[^?#]*)$")
  if not scheme or hostport:find("@", 1, true) then return nil, "must look like https://host[:port][/path]" end
  path = path:gsub("/+$", "")
  return { origin = scheme .. "://" .. hostport, host = hostport, path = path, url = url }
end

-- A region names a host part ("ecs.<region>.myhuaweicloud.com"): nothing but lower-case
-- letters, digits and inner dashes may reach a URL from it.
local function region_problem(region)
  if not region:match("^[a-z0-9]+$") and not region:match("^[a-z0-9][a-z0-9%-]*[a-z0-9]$") then
    return "must be lower-case letters, digits and '-' (like cn-north-4)"
  end
end

-- A value the caller passed is raised as their mistake; one from the environment or a
-- file is returned as a setup error naming where it came from.
local function bad_value(source, field, problem)
  if source == "option" then errors.argument(WHERE, field, problem) end
  return nil, errors.new("cloud.bad_environment", ("%s (from %s) %s"):format(field, source, problem))
end

local function endpoint_from_env(service, region)
  local var = ("HUAWEICLOUD_SDK_REGION_%s_%s"):format(service:upper(), region:upper():gsub("-", "_"))
  local v = os.getenv(var)
  if v and v ~= "" then return v, var end
end

local function check_retry(policy)
  local d = defaults.retry
  if policy == nil then return d end
  if type(policy) ~= "table" then errors.argument(WHERE, "retry", "must be a table") end
  local where = WHERE .. " retry"
  check.known(where, policy, { attempts = true, base = true, cap = true, later = true })
  return {
    attempts = check.integer(where, policy, "attempts", d.attempts, 1, 100),
    base = check.number(where, policy, "base", d.base, 0),
    cap = check.number(where, policy, "cap", d.cap, 0),
    later = check.number(where, policy, "later", d.later, 0),
  }
end

--- Builds a client. Returns `nil, err` when nothing can be attempted (no credentials,
-- no project id, no region or endpoint); raises on a malformed option.
function M.new(opts)
  opts = opts or {}
  check.known(WHERE, opts, KNOWN)
  for _, f in ipairs({ "region", "project_id", "ak", "security_token", "ca_file", "proxy", "protect_tag" }) do
    check.string(WHERE, opts, f)
  end
  if opts.sk ~= nil and type(opts.sk) ~= "string" then errors.argument(WHERE, "sk", "must be a string") end
  if opts.region and region_problem(opts.region) then errors.argument(WHERE, "region", region_problem(opts.region)) end
  if opts.project_id and not opts.project_id:match("^[%w%-_]+$") then
    errors.argument(WHERE, "project_id", "has characters a project id cannot have")
  end
  check.table(WHERE, opts, "endpoints")
  -- Every mistake in what was passed is raised before anything is looked up.
  for name, url in pairs(opts.endpoints or {}) do
    if not SERVICES[name] then errors.argument(WHERE, "endpoints." .. tostring(name), "is not a service (ecs, bms)") end
    local _, problem = parse_endpoint(url)
    if problem then errors.argument(WHERE, "endpoints." .. name, problem) end
  end
  check.func(WHERE, opts, "logger")
  local c = setmetatable({}, Client)
  local http = defaults.http
  c._concurrency = check.integer(WHERE, opts, "concurrency", http.concurrency, 1, 1024)
  c._timeout = check.number(WHERE, opts, "timeout", http.timeout, 0.001)
  c._connect_timeout = check.number(WHERE, opts, "connect_timeout", http.connect_timeout, 0.001)
  c._verify_tls = check.boolean(WHERE, opts, "verify_tls", http.verify_tls)
  c._max_response = check.integer(WHERE, opts, "max_response", http.max_response, 1024)
  local retry = check_retry(opts.retry)
  c._logger = opts.logger
  c.protect_tag = opts.protect_tag or defaults.protect_tag

  local resolved = credentials.resolve(opts)
  if not resolved.ak or not resolved.sk then
    return nil, errors.new("cloud.no_credentials",
      "no AK/SK: pass ak and sk, set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or write ~/.huaweicloud/credentials")
  end
  if not resolved.project_id then
    return nil, errors.new("cloud.no_project_id",
      "no project id: pass project_id or set HUAWEICLOUD_SDK_PROJECT_ID")
  end
  if not resolved.project_id:match("^[%w%-_]+$") then
    local _, err = bad_value(resolved.source.project_id, "project_id", "has characters a project id cannot have")
    return nil, err
  end
  if resolved.region then
    local problem = region_problem(resolved.region)
    if problem then
      local _, err = bad_value(resolved.source.region, "region", problem)
      return nil, err
    end
  end
  c.region = resolved.region
  c.project_id = resolved.project_id
  c._ak = resolved.ak
  c._sk = core.secret(resolved.sk)
  c._token = resolved.security_token

  c._endpoints = {}
  local given = opts.endpoints or {}
  for service in pairs(SERVICES) do
    local url, source = given[service], "option"
    if not url and c.region then
      url, source = endpoint_from_env(service, c.region)
    end
    if not url and c.region then
      url = ("https://%s.%s.myhuaweicloud.com"):format(service, c.region)
    end
    if url then
      local ep, problem = parse_endpoint(url)
      if not ep then
        local _, err = bad_value(source, "endpoints." .. service, problem)
        return nil, err
      end
      c._endpoints[service] = ep
    end
  end
  if not next(c._endpoints) then
    return nil, errors.new("cloud.no_region", "no region: pass region or endpoints, or set HUAWEICLOUD_SDK_REGION")
  end
  c._clock = clock.new()
  c._busy = setmetatable({}, { __mode = "k" }) -- coroutines inside an operation of this client
  -- What the scheduler of each operation works by: the engine's limits and the retry policy.
  c._policy = { concurrency = c._concurrency, timeout = c._timeout, attempts = retry.attempts,
                base = retry.base, cap = retry.cap, later = retry.later }
  c._headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = c.project_id }
  c._transport = transport.new{
    concurrency = c._concurrency, timeout = c._timeout, connect_timeout = c._connect_timeout,
    verify_tls = c._verify_tls, ca_file = opts.ca_file, proxy = opts.proxy, max_response = c._max_response,
    transport = opts.transport,
  }
  return c
end

function Client:__tostring()
  local ak = self._ak and (self._ak:sub(1, 4) .. "…") or "?"
  return ("cloud.client(region=%s, project_id=%s, ak=%s)"):format(tostring(self.region),
    tostring(self.project_id), ak)
end

--- Hands a line to the user's logger, if any; a logger that raises is ignored, so it can
-- never abandon calls in flight.
function Client:_log(line)
  if self._logger then pcall(self._logger, line) end
end

--- Signs a call for its service's endpoint at the cloud's time; returns {url, headers}.
function Client:_signed(call)
  local ep = self._endpoints[call.service]
  local headers, wire_path, query = core.sign({
    method = call.method, host = ep.host, path = ep.path .. call.path, query = call.query, headers = self._headers,
    body = call.body, ak = self._ak, sk = self._sk, security_token = self._token, date = self._clock:date(),
  }, true)
  local url = ep.origin .. wire_path
  if query ~= "" then url = url .. "?" .. query end
  return { url = url, headers = headers }
end

--- A scheduler for one operation: the client hands it its engine, its signer, its
-- policy, its clock and its logger, and the scheduler sees nothing else of it.
-- `servers_per_minute`: the pace of its stop calls (nil: learned, cloud.pace).
function Client:_scheduler(servers_per_minute)
  return scheduler.new{
    transport = self._transport,
    sign = function(call) return self:_signed(call) end,
    policy = self._policy,
    clock = self._clock,
    log = function(line) self:_log(line) end,
    servers_per_minute = servers_per_minute,
  }
end

-- The key of the main thread, where coroutine.running() is nil (Lua 5.1, LuaJIT).
local MAIN = {}

--- Runs `fn(...)` as an operation of this client (`where` names the public call). Refused
-- when the client is closed, and when this coroutine is already inside an operation of
-- this client: a callback (on_progress, logger) calling it again would take the outer
-- operation's answers, and the outer one would wait for them forever. Other coroutines
-- (nginx requests sharing a client) each run their own operations.
function Client:_exclusive(where, fn, ...)
  if not self._transport then errors.argument(where, nil, "the client is closed") end
  local co = coroutine.running() or MAIN
  if self._busy[co] then
    errors.argument(where, nil, "the client is busy: a callback of its own operation (on_progress, logger) "
      .. "cannot call it again; use another client")
  end
  self._busy[co] = true
  local ok, res, err = pcall(fn, ...)
  self._busy[co] = nil
  if not ok then error(res, 0) end -- as raised
  return res, err
end

--- Whether the client has an endpoint for service ("ecs" or "bms").
function Client:has_service(service)
  return self._endpoints[service] ~= nil
end

--- Closes the HTTP engine and wipes the SK. The client is unusable afterwards.
function Client:close()
  if self._transport then self._transport:close() end
  if self._sk then self._sk:close() end
  self._transport, self._sk = nil, nil
end

return M
