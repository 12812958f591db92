-- One emulator per spec file, and clients pointed at it.
local cloud = require "cloud"
local core = require "cloud.core"
local transport = require "cloud.net.transport"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"

local unpack = table.unpack or unpack

local M = {}

-- The emulator's deterministic id of the n-th server of a kind (1-based, fleet order).
function M.id(kind, n)
  return ids.server_id(kind, n)
end

function M.ids(kind, from, to)
  local out = {}
  for n = from, to do out[#out + 1] = ids.server_id(kind, n) end
  return out
end

function M.start(config)
  return assert(launcher.start{ config = config or {} })
end

function M.client(fc, over)
  local opts = {
    project_id = fc.project_id, ak = fc.ak, sk = fc.sk,
    endpoints = { ecs = fc.url, bms = fc.url },
    -- later: the minute Ecs.0603 asks for, shortened (the spec of that minimum sets its own)
    retry = { attempts = 3, base = 0.01, cap = 0.05, later = 0.05 },
  }
  for k, v in pairs(over or {}) do opts[k] = v end
  return assert(cloud.new(opts))
end

-- A transport for cloud.new's `transport` option: a real engine (built from `opts`, the
-- client's engine options, such as concurrency and timeout) behind a stand-in whose
-- methods in `over` replace the engine's (each gets the engine first, then the call's
-- arguments); every other method passes through. The spec sees what the client hands its
-- transport through the public option, not by swapping a field of the client. Returns the
-- stand-in and the engine; closing the client closes the engine.
function M.stand_in(opts, over)
  local engine = transport.new{ concurrency = opts.concurrency, timeout = opts.timeout,
                                connect_timeout = opts.connect_timeout, transport = opts.transport }
  local stand_in = setmetatable({}, { __index = function(_, k)
    local f = over[k]
    if f then return function(_, ...) return f(engine, ...) end end
    return function(_, ...) return engine[k](engine, ...) end
  end })
  return stand_in, engine
end

-- Runs fn() while recording each cloud.core.secret made, by core.secret (fixed keys and
-- tokens) and by core.security_key (the metadata service's keys). A client holds its keys
-- only as such values, so this is how a spec gets at them without reading the client's
-- private fields: to see that none shows, and that closing the client wipes them.
-- Returns the list of secrets, then what fn returned.
function M.secrets_made(fn)
  local made = {}
  local secret, security_key = core.secret, core.security_key
  core.secret = function(...)
    local s = secret(...)
    made[#made + 1] = s
    return s
  end
  core.security_key = function(...)
    local k, why = security_key(...)
    if k then
      made[#made + 1] = k.secret
      made[#made + 1] = k.security_token
    end
    return k, why
  end
  local out = (function(...) return { n = select("#", ...), ... } end)(pcall(fn))
  core.secret, core.security_key = secret, security_key
  if not out[1] then error(out[2], 0) end
  return made, unpack(out, 2, out.n)
end

-- The README's set-up: keys and a region, the project found through IAM (no project id
-- anywhere); only the endpoints point at the emulator, as a user's overrides would.
function M.default_client(fc, over)
  local opts = {
    region = "cn-north-4", ak = fc.ak, sk = fc.sk,
    endpoints = { ecs = fc.url, bms = fc.url, iam = fc.url },
    retry = { attempts = 3, base = 0.01, cap = 0.05, later = 0.05 },
  }
  for k, v in pairs(over or {}) do opts[k] = v end
  return assert(cloud.new(opts))
end

-- The same set-up for a process (the CLI): the variables a user sets, and the endpoint
-- overrides the official SDKs read, pointed at the emulator.
function M.default_env(fc)
  return { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk, HUAWEICLOUD_SDK_REGION = "cn-north-4",
           HUAWEICLOUD_SDK_IAM_ENDPOINT = fc.url, HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4 = fc.url,
           HUAWEICLOUD_SDK_REGION_BMS_CN_NORTH_4 = fc.url }
end

-- Every distinct requested id exactly once across stopped, failed, the servers skipped
-- as already in the wanted state (found so by the operation) and the servers joined
-- (another call's stop in flight, inside nginx); ok unless one failed or a joined one did.
function M.assert_ledger(res, requested)
  local seen, distinct = {}, {}
  for _, id in ipairs(requested) do distinct[id] = true end
  local n = 0
  for _ in pairs(distinct) do n = n + 1 end
  assert(res.requested == n, ("requested %d, expected %d"):format(res.requested, n))
  for _, id in ipairs(res.stopped or res.started) do
    assert(distinct[id], "stopped an id not asked for: " .. id)
    assert(not seen[id], "id twice in the result: " .. id)
    seen[id] = true
  end
  for _, f in ipairs(res.failed) do
    assert(distinct[f.id], "failed an id not asked for: " .. tostring(f.id))
    assert(not seen[f.id], "id twice in the result: " .. f.id)
    assert(type(f.code) == "string" and type(f.message) == "string", "failure without code/message")
    seen[f.id] = true
  end
  for _, s in ipairs(res.skipped or {}) do
    if s.reason and s.reason:match("^already ") then
      assert(distinct[s.id], "skipped an id not asked for: " .. tostring(s.id))
      assert(not seen[s.id], "id twice in the result: " .. s.id)
      seen[s.id] = true
    end
  end
  local joined_failed = false
  for _, j in ipairs(res.joined or {}) do
    assert(distinct[j.id], "joined an id not asked for: " .. tostring(j.id))
    assert(not seen[j.id], "id twice in the result: " .. j.id)
    assert(type(j.outcome) == "string", "joined without an outcome: " .. j.id)
    if j.outcome == "failed" then
      joined_failed = true
      assert(type(j.code) == "string" and type(j.message) == "string", "joined failure without code/message")
    end
    seen[j.id] = true
  end
  for id in pairs(distinct) do assert(seen[id], "id missing from the result: " .. id) end
  assert(res.ok == (#res.failed == 0 and not joined_failed))
end

M.cloud = cloud
return M
