--- The client: options checked once, the SK held in wiped C memory, one HTTP engine
-- kept across calls so connections are reused.
-- @module cloud.client
local core = require "cloud.core"
local check = require "cloud.check"
local credentials = require "cloud.credentials"
local errors = require "cloud.errors"
local keys = require "cloud.keys"
local metadata = require "cloud.metadata"
local regions = require "cloud.regions"
local retry = require "cloud.retry"
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
  credentials = true,
}
local SERVICES = { ecs = true, bms = true }
-- endpoints = { ... } also takes IAM's (project lookup) and the metadata service's.
local ENDPOINT_NAMES = { ecs = true, bms = true, iam = true, metadata = true }
-- This library's own variable (the SDKs have none): the metadata service elsewhere than
-- 169.254.169.254, for tests and unusual networks.
local METADATA_ENV = "CLOUD_METADATA_ENDPOINT"
local IAM_ENV = "HUAWEICLOUD_SDK_IAM_ENDPOINT"
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
  if policy == nil then return retry.defaults end
  if type(policy) ~= "table" then errors.argument(WHERE, "retry", "must be a table") end
  local where = WHERE .. " retry"
  check.known(where, policy, { attempts = true, base = true, cap = true })
  return {
    attempts = check.integer(where, policy, "attempts", retry.defaults.attempts, 1, 100),
    base = check.number(where, policy, "base", retry.defaults.base, 0),
    cap = check.number(where, policy, "cap", retry.defaults.cap, 0),
  }
end

--- Builds a client, without any I/O: keys from the metadata service and a project id
-- from IAM are fetched at the first call that needs them (cloud.ready). Returns `nil, err`
-- when nothing can be attempted (no project id and no region to look it up by, an unknown
-- region without endpoints, no region or endpoint); raises on a malformed option.
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
    if not ENDPOINT_NAMES[name] then
      errors.argument(WHERE, "endpoints." .. tostring(name), "is not one of ecs, bms, iam, metadata")
    end
    local _, problem = parse_endpoint(url)
    if problem then errors.argument(WHERE, "endpoints." .. name, problem) end
  end
  check.func(WHERE, opts, "logger")
  check.oneof(WHERE, opts, "credentials", nil, { "metadata" })
  if opts.credentials and (opts.ak or opts.sk or opts.security_token) then
    errors.argument(WHERE, "credentials", "\"metadata\" cannot go with ak, sk or security_token")
  end
  if (opts.ak == nil) ~= (opts.sk == nil) then
    errors.argument(WHERE, opts.ak and "sk" or "ak", "is required with '" .. (opts.ak and "ak" or "sk") .. "'")
  end
  local c = setmetatable({}, Client)
  c._concurrency = check.integer(WHERE, opts, "concurrency", 8, 1, 1024)
  c._timeout = check.number(WHERE, opts, "timeout", 30, 0.001)
  c._connect_timeout = check.number(WHERE, opts, "connect_timeout", 10, 0.001)
  c._verify_tls = check.boolean(WHERE, opts, "verify_tls", true)
  c._max_response = check.integer(WHERE, opts, "max_response", 64 * 1024 * 1024, 1024)
  c._retry = check_retry(opts.retry)
  c._logger = opts.logger
  c.protect_tag = opts.protect_tag or "stop-protect"

  local resolved = credentials.resolve(opts)
  for _, line in ipairs(resolved.warnings) do c:_log(line, "warning") end
  if resolved.project_id and not resolved.project_id:match("^[%w%-_]+$") then
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
  c._project_tried = resolved.tried.project_id
  if not c.project_id and not c.region then
    local lines = resolved.tried.project_id
    lines[#lines + 1] = "IAM: nothing to look up without a region (pass region or set HUAWEICLOUD_SDK_REGION)"
    return nil, errors.new("cloud.no_project_id", "no project id; looked in: " .. table.concat(lines, "; "))
  end

  local given = opts.endpoints or {}
  c._endpoints = {}
  local explicit = false
  for service in pairs(SERVICES) do
    local url, source = given[service], "option"
    if not url and c.region then
      url, source = endpoint_from_env(service, c.region)
    end
    explicit = explicit or url ~= nil
    if not url and c.region and regions.offers(service, c.region) then
      url = regions.endpoint(service, c.region)
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
  if c.region and not explicit and not regions.known(c.region) then
    local near = regions.suggest(c.region)
    return nil, errors.new("cloud.unknown_region", ("unknown region '%s'%s; cloud.regions(\"ecs\") lists the"
      .. " regions with ECS, cloud.regions(\"bms\") those with BMS; for a cloud of its own, pass endpoints")
      :format(c.region, #near > 0 and (" (did you mean " .. table.concat(near, " or ") .. "?)") or ""))
  end
  if not next(c._endpoints) then
    return nil, errors.new("cloud.no_region", "no region: pass region or endpoints, or set HUAWEICLOUD_SDK_REGION")
  end
  -- IAM (only for the project lookup) and the metadata service (only for temporary keys).
  for _, e in ipairs({
    { "iam", given.iam, "option", os.getenv(IAM_ENV), IAM_ENV, regions.iam_endpoint(c.region) },
    { "metadata", given.metadata, "option", os.getenv(METADATA_ENV), METADATA_ENV, metadata.DEFAULT_ENDPOINT },
  }) do
    local name, url, source = e[1], e[2], e[3]
    if not url and e[4] and e[4] ~= "" then url, source = e[4], e[5] end
    url = url or e[6]
    local ep, problem = parse_endpoint(url)
    if not ep then
      local _, err = bad_value(source, "endpoints." .. name, problem)
      return nil, err
    end
    c._endpoints[name] = ep
  end

  if resolved.ak and resolved.sk and not opts.credentials then
    c._keys = keys.fixed(resolved.ak, resolved.sk, resolved.security_token)
  else
    -- The last resort (or the one asked for): fetched at the first call, not here.
    local tried = opts.credentials and {} or resolved.tried.keys
    c._keys = keys.temporary(metadata.new(c._endpoints.metadata, opts.transport), tried,
      function() return c:_now() end, function(line, level) c:_log(line, level) end)
  end
  c._clock_offset = 0
  c._headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = c.project_id }
  c._transport = transport.new{
    concurrency = c._concurrency, timeout = c._timeout, connect_timeout = c._connect_timeout,
    verify_tls = c._verify_tls, ca_file = opts.ca_file, proxy = opts.proxy, max_response = c._max_response,
    transport = opts.transport,
  }
  return c
end

function Client:__tostring()
  local k = self._keys and self._keys.keys
  local ak = k and k.ak and (k.ak:sub(1, 4) .. "…") or "?"
  return ("cloud.client(region=%s, project_id=%s, ak=%s)"):format(tostring(self.region),
    tostring(self.project_id), ak)
end

--- Hands a line to the user's logger, if any, with its level ("warning" for what the user
-- should fix, such as a credentials file others may read; nil otherwise). A logger that
-- raises is ignored, so it can never abandon calls in flight.
function Client:_log(line, level)
  if self._logger then pcall(self._logger, line, level) end
end

--- A request id unique over the client's life (the engine tags answers with it).
function Client:_next_request_id()
  self._request_seq = (self._request_seq or 0) + 1
  return self._request_seq
end

--- Wall-clock seconds as the cloud sees them (after any measured skew).
function Client:_now()
  return core.time() + self._clock_offset
end

function Client:_skew_from(date_header)
  local server = retry.parse_http_date(date_header)
  if server then return server - core.time() end
end

function Client:_adjust_clock(skew)
  self._clock_offset = skew
end

--- Signs a call for its service's endpoint; returns {url, headers}. Temporary keys are
-- fetched again first when they near their expiry; `call.key_generation` records which
-- keys signed it (see _renew_keys).
function Client:_signed(call)
  local ep = self._endpoints[call.service]
  local k = self._keys:current()
  call.key_generation = k.generation
  local headers, wire_path, query = core.sign({
    method = call.method, host = ep.host, path = ep.path .. call.path, query = call.query, headers = self._headers,
    body = call.body, ak = k.ak, sk = k.sk, security_token = k.token,
    date = os.date("!%Y%m%dT%H%M%SZ", math.floor(self:_now())),
  }, true)
  local url = ep.origin .. wire_path
  if query ~= "" then url = url .. "?" .. query end
  return { url = url, headers = headers }
end

--- After a 401 to `call`: true when it may be signed again with newer keys (temporary
-- keys that expired on the way; fetched now if need be). Fixed keys: always false.
function Client:_renew_keys(call)
  return self._keys:renew(call.key_generation or 0)
end

--- The project id found for this client (cloud.project).
function Client:_use_project(id)
  self.project_id = id
  self._headers["X-Project-Id"] = id
end

--- Whether the client has an endpoint for service ("ecs" or "bms").
function Client:has_service(service)
  return self._endpoints[service] ~= nil
end

--- Closes the HTTP engine and wipes the keys. The client is unusable afterwards.
function Client:close()
  if self._transport then self._transport:close() end
  if self._keys then self._keys:close() end
  self._transport, self._keys = nil, nil
end

return M
