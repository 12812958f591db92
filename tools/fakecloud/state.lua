-- The single worker's state: configuration, fleet, jobs and counters.
local config = require "fakecloud.config"
local fleet = require "fakecloud.fleet"
local faults = require "fakecloud.faults"
local hostile = require "fakecloud.hostile"
local flow = require "fakecloud.flow"
local json = require "fakecloud.json"
local list = require "fakecloud.list"
local list_scope = require "fakecloud.list_scope"

local M = {}
local S

local function fresh_counters()
  S.jobs, S.pending, S.njobs = {}, {}, 0
  S.stops = {}           -- id -> number of accepted stop calls naming it
  S.starts = {}          -- id -> number of accepted start calls naming it
  S.connections, S.nconnections = {}, 0
  S.in_flight = S.in_flight or 0 -- a live count: the calls under way outlive a reset
  S.meta_tokens = {}     -- metadata session token -> expiry (metadata.lua)
  S.stats = { calls = { action = 0, job = 0, list = 0, iam = 0, projects = 0, total = 0 }, statuses = {},
              faults = {}, signature_failures = 0, sub_jobs = {}, hostile = {}, unrouted = 0,
              expired_keys = 0, -- signed calls refused because their temporary keys had expired
              metadata = { token_calls = 0, key_calls = 0, issued = 0 },
              stop_types = {}, -- os-stop type ("SOFT", "HARD", or "absent") -> accepted calls
              refused = {}, refused_servers = 0, -- stop calls refused by flow.lua, by code; their servers
              action_arrivals = {}, -- arrival time of each stop/start call (server.lua)
              max_in_flight = S.in_flight }
end

local function apply(cfg, regenerate)
  list_scope.check(cfg) -- before anything is applied
  S.cfg = cfg
  local creds = {}
  for i, c in ipairs(config.val(cfg.credentials) or {}) do
    creds[i] = { ak = c.ak, sk = c.sk, security_token = config.val(c.security_token) }
  end
  S.creds = creds
  if regenerate then S.fleet = fleet.build(cfg.fleet) end
  S.faults = faults.new(config.val(cfg.faults) or {})
  S.hostile = hostile.new(cfg.hostile)
  S.flow = flow.new(cfg.flow_control, cfg.refusals) -- a fresh window on every configure
  local init = config.val(cfg.job_init)
  if init ~= nil and not (tonumber(init) and tonumber(init) >= 0) then
    error("job_init must be a number of seconds >= 0", 0)
  end
  local form = config.val(cfg.bms_sub_job_entities)
  if form ~= nil and form ~= "object" and form ~= "array" then
    error("bms_sub_job_entities must be \"object\" or \"array\"", 0)
  end
  local up = config.val(cfg.unknown_project)
  S.unknown_project = nil
  if up ~= nil then
    local st, code = tonumber(config.val(up.status)), config.val(up.code)
    if not st or st < 400 or st > 599 or st % 1 ~= 0 or type(code) ~= "string" or code == "" then
      error("unknown_project must be { status = <400-599>, code = <string>, message = <string or absent> }", 0)
    end
    S.unknown_project = { status = st, code = code, message = config.val(up.message) }
  end
  local details = config.val(cfg.error_details)
  S.error_details = nil
  if details ~= nil then
    S.error_details = {}
    for i, d in ipairs(type(details) == "table" and details or {}) do
      local code, msg = config.val(type(d) == "table" and d.code), config.val(type(d) == "table" and d.message)
      if type(code) ~= "string" or type(msg) ~= "string" then
        error("error_details[" .. i .. "] must be { code = <string>, message = <string> }", 0)
      end
      S.error_details[i] = { code = code, message = msg }
    end
    if type(details) ~= "table" then error("error_details must be a list of { code =, message = }", 0) end
  end
  local hold = config.val(cfg.job_hold)
  S.job_hold = nil
  if hold ~= nil then
    local st, secs = config.val(hold.status), tonumber(config.val(hold.seconds))
    if type(st) ~= "string" or st == "" or not secs or secs < 0 then
      error("job_hold must be { status = <a job status>, seconds = <number >= 0> }", 0)
    end
    S.job_hold = { status = st, seconds = secs }
  end
  S.tag_match = list.tag_matcher(config.val(cfg.tag_match))
  local tf = config.val(cfg.transient_fail) or {}
  S.transient_ids = {}
  for _, id in ipairs(config.val(tf.ids) or {}) do S.transient_ids[id] = true end
  S.transient_rate = tonumber(config.val(tf.rate)) or 0
  S.transient_seed = tonumber(config.val(tf.seed)) or 1
  S.version = (S.version or 0) + 1 -- invalidates cached list results
end

function M.init(cfg)
  S = {}
  fresh_counters()
  apply(config.merge(config.DEFAULT, cfg), true)
  math.randomseed(os.time() + math.floor((ngx and ngx.worker.pid() or 0)))
  return S
end

-- init_worker: read the launcher's JSON config file.
function M.boot(path)
  local cfg = {}
  local f = path and io.open(path, "rb")
  if f then
    local text = f:read("*a")
    f:close()
    cfg = assert(json.decode(text))
  end
  M.init(cfg)
end

function M.get() return S end

-- Partial update: keys given replace the old ones; a new fleet is regenerated.
function M.configure(patch)
  local cfg = config.merge(S.cfg, patch)
  local ok, err = pcall(apply, cfg, patch.fleet ~= nil)
  if not ok then return nil, err end
  return cfg
end

function M.reset()
  fresh_counters()
  apply(S.cfg, true)
end

function M.count(tbl, key)
  tbl[key] = (tbl[key] or 0) + 1
end

return M
