--- The client: options checked once, the SK held in wiped C memory, one HTTP engine
-- kept across calls so connections are reused.
-- @module cloud.client
local core = require "cloud.core"
local check = require "cloud.base.check"
local clock = require "cloud.net.clock"
local credentials = require "cloud.auth.credentials"
local defaults = require "cloud.base.defaults"
local errors = require "cloud.errors"
local inflight = require "cloud.op.inflight"
local scheduler = require "cloud.net.scheduler"
local keys = require "cloud.auth.keys"
local metadata = require "cloud.auth.metadata"
local project = require "cloud.auth.project"
local regions = require "cloud.auth.regions"
local transport = require "cloud.net.transport"
local phase = require "cloud.nginx.phase"

local M = {}
local Client = {}
Client.__index = Client
M.Client = Client

local WHERE = "cloud.new"
local KNOWN = {
  region = true, project_id = true, ak = true, sk = true, security_token = true, endpoints = true,
  concurrency = true, timeout = true, connect_timeout = true, verify_tls = true, ca_file = true,
  proxy = true, retry = true, logger = true, max_response = true, protect_tag = true, transport = true,
  on_request = true, join_dict = true,
  credentials = true, profile = true, debug = true, enterprise_project_id = true, metadata_fallback = true,
  project_id_check = true,
}
local SERVICES = { ecs = true, bms = true }
-- endpoints = { ... } also takes IAM's (project lookup) and the metadata service's.
local ENDPOINT_NAMES = { ecs = true, bms = true, iam = true, metadata = true }
-- This library's own variable (the SDKs have none): the metadata service elsewhere than
-- 169.254.169.254, for tests and unusual networks.
local METADATA_ENV = "CLOUD_METADATA_ENDPOINT"
local IAM_ENV = "HUAWEICLOUD_SDK_IAM_ENDPOINT"
-- The longest timeout taken (about 31 years: far inside curl's milliseconds in a long),
-- and the largest answer size taken (1 TiB), both written out whole in an error.
local MAX_SECONDS = 1000000000
local MAX_BYTES = 1099511627776
M.OPTIONS = KNOWN

-- What is wrong with an endpoint's host[:port], or nil. The host is a DNS name (letters,
-- digits, '-', '_' and dots), an IPv4 address or a bracketed IPv6 address; the port, when
-- given, 1 to 65535. Anything else (a space, CR or LF, a second ':', user@) would reach
-- curl or the signer's Host header as it is.
local function authority_problem(hostport)
  local host, port = hostport:match("^(%[[%x:.]+%])(.*)$")
  local ipv6 = host ~= nil
  if not ipv6 then host, port = hostport:match("^([^:]*)(.*)$") end
  if host == "" then return "has no host" end
  if not ipv6 then
    if not host:match("^[%w%-_.]+$") then return "has characters a host name cannot have" end
    if host:find("..", 1, true) or host:sub(1, 1) == "." then return "has an empty label in its host name" end
    if #host > 253 then return "has a host name longer than 253 characters" end
  end
  if port ~= "" then
    local digits = port:match("^:(%d+)$")
    if not digits then return "has a malformed port (give host:port, port 1 to 65535)" end
    local n = tonumber(digits)
    if #digits > 5 or n < 1 or n > 65535 then return "has port " .. digits .. ", not one of 1 to 65535" end
  end
end

--- Splits an endpoint URL into what the signer and the wire need; nil, problem when it
-- is not one.
local function parse_endpoint(url)
  if type(url) ~= "string" then return nil, "must be a URL string" end
  local scheme, hostport, path = url:match("^(https?)://([^/?#]+)(/?[^?#]*)$")
  if not scheme or hostport:find("@", 1, true) then return nil, "must look like https://host[:port][/path]" end
  local problem = authority_problem(hostport)
  if problem then return nil, problem .. " (" .. hostport:gsub("%c", "?") .. ")" end
  if path:find("[%c ]") then return nil, "has a space or control character in its path" end
  path = path:gsub("/+$", "")
  return { origin = scheme .. "://" .. hostport, host = hostport, path = path, url = url }
end

--- Checks an enterprise project option (`field` of `where`): an EPS id (letters,
-- digits, '-', '_'), "all_granted_eps", or false for none; nil is the default,
-- "all_granted_eps" (as the Terraform provider lists). Returns the value; raises on another.
function M.enterprise_project(where, field, v)
  if v == nil then return defaults.enterprise_project_id end
  if v == false then return false end
  if type(v) ~= "string" or not v:match("^[%w%-_]+$") or #v > 64 then
    errors.argument(where, field, "must be an enterprise project id (letters, digits, '-', '_'; at most 64),"
      .. " \"all_granted_eps\", or false for none")
  end
  return v
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
-- What is wrong with a project id given (not found through IAM), or nil. IAM's are 32
-- lowercase hex digits; another form would be sent and refused only later (a 404 for
-- the project), so it is refused now unless `check` is false (a cloud whose ids differ).
local function project_id_problem(id, form_checked)
  if not id:match("^[%w%-_]+$") then return "has characters a project id cannot have" end
  if form_checked and not (#id == 32 and id:match("^%x+$") and not id:match("%u")) then
    return "must be 32 lowercase hex digits, the form IAM gives; to use another form on purpose, set "
      .. "project_id_check = false"
  end
end

local function bad_value(source, field, problem)
  if source == "option" then errors.argument(WHERE, field, problem) end
  return nil, errors.new("cloud.bad_environment", ("%s (from %s) %s"):format(field, source, problem))
end

-- Sets the client's endpoint `name` from `url`; returns true, or nil and the setup error
-- (a bad option raises), naming where the value came from.
local function set_endpoint(c, name, url, source)
  local ep, problem = parse_endpoint(url)
  if not ep then return bad_value(source, "endpoints." .. name, problem) end
  c._endpoints[name] = ep
  return true
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

-- Builds a client, without any I/O: keys from the metadata service and a project id
-- from IAM are fetched at the first call that needs them (Client:ready). Returns `nil, err`
-- when nothing can be attempted (no project id and no region to look it up by, an unknown
-- region without endpoints, no region or endpoint); raises on a malformed option.
-- `account`: a client for the account's own calls (IAM), which needs no project id and no
-- ECS or BMS endpoint.
local function build(opts, account)
  opts = opts or {}
  check.known(WHERE, opts, KNOWN)
  for _, f in ipairs({ "region", "project_id", "ak", "security_token", "ca_file", "proxy", "protect_tag" }) do
    check.string(WHERE, opts, f)
  end
  if opts.sk ~= nil and type(opts.sk) ~= "string" then errors.argument(WHERE, "sk", "must be a string") end
  if opts.region and region_problem(opts.region) then errors.argument(WHERE, "region", region_problem(opts.region)) end
  local id_check = check.boolean(WHERE, opts, "project_id_check", true)
  if opts.project_id and project_id_problem(opts.project_id, id_check) then
    errors.argument(WHERE, "project_id", project_id_problem(opts.project_id, id_check))
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
  check.func(WHERE, opts, "on_request")
  check.oneof(WHERE, opts, "credentials", nil, { "metadata" })
  check.boolean(WHERE, opts, "metadata_fallback")
  if opts.credentials and (opts.ak or opts.sk or opts.security_token) then
    errors.argument(WHERE, "credentials", "\"metadata\" cannot go with ak, sk or security_token")
  end
  check.string(WHERE, opts, "profile")
  if opts.profile ~= nil then
    local problem = credentials.profile_problem(opts.profile)
    if problem then errors.argument(WHERE, "profile", problem) end
    if opts.credentials or opts.ak or opts.sk or opts.security_token then
      errors.argument(WHERE, "profile", "names where the keys come from: it cannot go with ak, sk, "
        .. "security_token or credentials")
    end
  end
  if opts.security_token ~= nil and opts.ak == nil and opts.sk == nil then
    errors.argument(WHERE, "security_token", "goes with 'ak' and 'sk': the keys come whole from one place")
  end
  if (opts.ak == nil) ~= (opts.sk == nil) then
    errors.argument(WHERE, opts.ak and "sk" or "ak", "is required with '" .. (opts.ak and "ak" or "sk") .. "'")
  end
  local eps = M.enterprise_project(WHERE, "enterprise_project_id", opts.enterprise_project_id)
  local c = setmetatable({}, Client)
  local http = defaults.http
  c._concurrency = check.integer(WHERE, opts, "concurrency", http.concurrency, 1, 1024)
  -- Bounded here, naming the option, so that no number reaches C that C must refuse.
  c._timeout = check.number(WHERE, opts, "timeout", http.timeout, 0.001, MAX_SECONDS)
  c._connect_timeout = check.number(WHERE, opts, "connect_timeout", http.connect_timeout, 0.001, MAX_SECONDS)
  c._verify_tls = check.boolean(WHERE, opts, "verify_tls", http.verify_tls)
  c._max_response = check.integer(WHERE, opts, "max_response", http.max_response, 1024, MAX_BYTES)
  local retry = check_retry(opts.retry)
  c._logger = opts.logger
  -- One line per HTTP attempt, at level "debug": opt-in, as a logger that prints every
  -- line (most do) would otherwise flood with them.
  c._debug = check.boolean(WHERE, opts, "debug", false)
  c._on_request = opts.on_request
  -- Inside nginx, stops of servers another stop has in flight are joined, not sent again:
  -- within the worker, or across workers through the lua_shared_dict join_dict names.
  check.string(WHERE, opts, "join_dict")
  c._inflight = inflight.registry(opts.join_dict, WHERE, "join_dict", function(line, level) c:_log(line, level) end)
  c.protect_tag = opts.protect_tag or defaults.protect_tag
  -- What lists name as their enterprise project, and the ECS id form this cloud reads
  -- (learned by cloud.op.servers), shared by every operation's scheduler.
  c._listing = { enterprise_project_id = eps, forms = {} }

  local resolved = credentials.resolve(opts)
  for _, line in ipairs(resolved.warnings) do c:_log(line, "warning") end
  if resolved.problem then return nil, errors.new(resolved.problem_code, resolved.problem) end
  if resolved.project_id and project_id_problem(resolved.project_id, id_check) then
    local problem = project_id_problem(resolved.project_id, id_check)
    local _, err = bad_value(resolved.source.project_id, "project_id", problem)
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
  if not c.project_id and not c.region and not account then
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
      local ok, err = set_endpoint(c, service, url, source)
      if not ok then return nil, err end
    end
  end
  if c.region and not explicit and not account and not regions.known(c.region) then
    local near = regions.suggest(c.region)
    return nil, errors.new("cloud.unknown_region", ("unknown region '%s'%s; cloud.regions(\"ecs\") lists the"
      .. " regions with ECS, cloud.regions(\"bms\") those with BMS; for a cloud of its own, pass endpoints")
      :format(c.region, #near > 0 and (" (did you mean " .. table.concat(near, " or ") .. "?)") or ""))
  end
  if not next(c._endpoints) and not account then
    return nil, errors.new("cloud.no_region", "no region: pass region or endpoints, or set HUAWEICLOUD_SDK_REGION")
  end
  c._clock = clock.new()
  c._busy = setmetatable({}, { __mode = "k" }) -- coroutines inside an operation of this client
  -- What the scheduler of each operation works by: the engine's limits and the retry policy.
  c._policy = { concurrency = c._concurrency, timeout = c._timeout, attempts = retry.attempts,
                base = retry.base, cap = retry.cap, later = retry.later }
  -- IAM (only for the project lookup) and the metadata service (only for temporary keys).
  for _, e in ipairs({
    { "iam", given.iam, "option", os.getenv(IAM_ENV), IAM_ENV, regions.iam_endpoint(c.region) },
    { "metadata", given.metadata, "option", os.getenv(METADATA_ENV), METADATA_ENV, metadata.DEFAULT_ENDPOINT },
  }) do
    local name, url, source = e[1], e[2], e[3]
    if not url and e[4] and e[4] ~= "" then url, source = e[4], e[5] end
    local ok, err = set_endpoint(c, name, url or e[6], source)
    if not ok then return nil, err end
  end

  local fallback, fallback_from = credentials.metadata_fallback(opts)
  if fallback == nil then return nil, errors.new("cloud.bad_environment", fallback_from) end
  if resolved.ak and resolved.sk and not opts.credentials then
    c._keys = keys.fixed(resolved.ak, resolved.sk, resolved.security_token)
  elseif not fallback and not opts.credentials then
    -- Turned off: nothing to attempt, so said now rather than at the first call.
    local lines = resolved.tried.keys
    lines[#lines + 1] = ("metadata service: not asked (%s)"):format(fallback_from)
    return nil, errors.new("cloud.no_credentials", "no AK/SK; looked in: " .. table.concat(lines, "; "))
  else
    -- The last resort (or the one asked for): fetched at the first call, not here.
    local tried = opts.credentials and {} or resolved.tried.keys
    -- The metadata service gets an engine of its own, of the client's kind: never a given
    -- engine object (a fleet's lane), whose answers to calls in flight it would take.
    local kind = type(opts.transport) == "string" and opts.transport or nil
    c._keys = keys.temporary(metadata.new(c._endpoints.metadata, kind), tried,
      function() return c._clock:now() end, function(line, level) c:_log(line, level) end)
  end
  c._headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = c.project_id }
  c._iam_headers = { ["Content-Type"] = "application/json" } -- IAM is global: no project
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

--- What a record says of this client for `service` ("ecs", "bms", or "iam": where the
-- project id is looked up): the endpoint, and the caller as the AK's first characters
-- (never more, never the SK) and the local user.
function Client:describe(service)
  local ep = self._endpoints[service]
  local k = self._keys and self._keys.keys
  return { caller = k and k.ak and (k.ak:sub(1, 4) .. "…") or nil, user = os.getenv("USER"),
           endpoint = ep and ep.url or nil }
end

--- Where this client acts for `service`: the endpoint's URL, and the project: its id,
-- or while it is yet to be found through IAM, what it will be found from (the AK, the
-- region and IAM's URL; nil when the keys are not known yet). Two clients that give the
-- same pair act on the same servers (cloud.fleet refuses such a pair of targets).
function Client:target_of(service)
  local ep, iam = self._endpoints[service], self._endpoints.iam
  local k = self._keys and self._keys.keys
  local where = self.project_id
  if not where and k and k.ak and iam then
    where = table.concat({ "iam", k.ak, tostring(self.region), iam.url }, "\0")
  end
  return ep and ep.url, where
end

--- Hands a line to the user's logger, if any, with its level ("warning" for what the user
-- should fix, such as a credentials file others may read; nil otherwise). A logger that
-- raises is ignored, so it can never abandon calls in flight.
function Client:_log(line, level)
  if self._logger then pcall(self._logger, line, level) end
end

--- Builds a client. Returns `nil, err` when nothing can be attempted (no credentials,
-- no project id, no region or endpoint); raises on a malformed option.
function M.new(opts)
  return build(opts, false)
end

--- A client for the account's own calls (cloud.auth.account: IAM), from the same options:
-- no project id or ECS/BMS endpoint needed.
function M.for_account(opts)
  return build(opts, true)
end

--- Signs a call for its service's endpoint at the cloud's time; returns {url, headers}.
-- Temporary keys are fetched again first when they near their expiry; `call.key_generation`
-- records which keys signed it (see _renew_keys).
function Client:_signed(call)
  local ep = self._endpoints[call.service]
  local k = self._keys:current()
  call.key_generation = k.generation
  local headers, wire_path, query = core.sign_for_sending{
    method = call.method, host = ep.host, path = ep.path .. call.path, query = call.query,
    headers = call.service == "iam" and self._iam_headers or self._headers,
    body = call.body, ak = k.ak, sk = k.sk, security_token = k.token, date = self._clock:date(),
  }
  local url = ep.origin .. wire_path
  if query ~= "" then url = url .. "?" .. query end
  return { url = url, headers = headers }
end

--- A scheduler for one operation: the client hands it its engine, its signer, its
-- policy, its clock and its logger, and the scheduler sees nothing else of it.
-- `deadline`: the core.now() time the operation must end by (its wait_timeout), or nil.
-- `servers_per_minute`: the pace of its stop calls (nil: learned, cloud.net.pace).
function Client:_scheduler(deadline, servers_per_minute)
  return scheduler.new{
    transport = self._transport,
    sign = function(call) return self:_signed(call) end,
    policy = self._policy,
    clock = self._clock,
    log = function(line) self:_log(line) end,
    on_request = self._on_request,
    trace = self._debug and self._logger and function(line) self:_log(line, "debug") end or nil,
    renew = function(call) return self:_renew_keys(call) end,
    deadline = deadline,
    servers_per_minute = servers_per_minute,
    listing = self._listing,
    stopping = phase.exiting_check(), -- no stop call leaves a worker that is shutting down
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

--- Makes the client ready for a call that sends: keys to sign with (temporary ones are
-- fetched from the metadata service now), and a project id (looked up in IAM when none was
-- configured). cloud.new does neither: it makes no I/O. Returns true, or nil and a config
-- error (cloud.no_credentials, cloud.no_project_id) naming every place looked at.
function Client:ready()
  local ok, err = self._keys:ensure()
  if not ok then return nil, err end
  if self.project_id then return true end
  local id, perr = project.find{ region = self.region, iam_url = self._endpoints.iam.url,
    ak = self._keys:current().ak, tried = self._project_tried, scheduler = function() return self:_scheduler() end }
  if not id then return nil, perr end
  self:_use_project(id)
  return true
end

-- The operation handed down to the lower layers (selection, listing, stop and start,
-- restore): what they need of the client, and nothing else of it. The client itself is
-- kept under a key no other file has.
local CLIENT = {}
local Operation = {}
Operation.__index = Operation

--- Makes the operation's client ready (`Client:ready`); then `op.project_id` is set.
function Operation:ready()
  local c = self[CLIENT]
  local ok, err = c:ready()
  self.project_id = c.project_id
  return ok, err
end

--- A scheduler for the operation (`deadline`: the core.now() time it ends by; `servers_per_minute`:
-- the pace of its stop calls, nil to learn it).
function Operation:scheduler(deadline, servers_per_minute)
  return self[CLIENT]:_scheduler(deadline, servers_per_minute)
end

--- Hands a line to the client's logger ("warning" level for what the user should fix).
function Operation:log(line, level)
  self[CLIENT]:_log(line, level)
end

--- Where stops in flight are registered (cloud.op.inflight; nil outside nginx), and the
-- scope of `action` on `service` there: the endpoint, the project, the service, the action.
function Operation:inflight(service, action)
  local c = self[CLIENT]
  if not c._inflight then return nil end
  local url, where = c:target_of(service)
  return c._inflight, table.concat({ tostring(url), tostring(where), service, action.name }, " ")
end

--- Whether the client has an endpoint for `service`.
function Operation:has_service(service)
  return self[CLIENT]:has_service(service)
end

--- For a record's header: the caller (the AK's first characters), the user, the endpoint.
function Operation:describe(service)
  return self[CLIENT]:describe(service)
end

--- Runs `fn(op, ...)` as an operation of this client (`where` names the public call), one
-- at a time per coroutine (see `_exclusive`). `op` carries `where`, `region`, `project_id`
-- (once ready), `protect_tag`, `enterprise_project_id` (what lists name, false for none)
-- and `policy` (the retry policy and timeout), and the methods
-- `ready`, `scheduler`, `log`, `has_service` and `describe`: the lower layers take it, never
-- the client.
function Client:operation(where, fn, ...)
  return self:_exclusive(where, function(...)
    local op = setmetatable({ [CLIENT] = self, where = where, region = self.region, project_id = self.project_id,
                              protect_tag = self.protect_tag, policy = self._policy,
                              enterprise_project_id = self._listing.enterprise_project_id }, Operation)
    return fn(op, ...)
  end, ...)
end

--- After a 401 to `call`: true when it may be signed again with newer keys (temporary
-- keys that expired on the way; fetched now if need be). Fixed keys: always false.
function Client:_renew_keys(call)
  return self._keys:renew(call.key_generation or 0)
end

-- The project id found for this client (cloud.auth.project).
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
