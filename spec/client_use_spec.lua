-- A client used when it cannot serve: closed, or already inside one of its own operations
-- (a callback calling it again). Either is an argument error at the caller's line, with
-- nothing sent for the refused call; never a hang, never a message from deep inside.
local env = require "support.cloudenv"
local core = require "cloud.core"
local errors = require "cloud.errors"

local THIS_FILE = "client_use_spec.lua:"

describe("a client", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.05,
      fleet = { ecs = { { count = 2100, status = "ACTIVE" } }, bms = { { count = 2, status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    fc:configure{ faults = { seed = 1 } }
    fc:reset()
  end)

  local function refused(fn, text)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    assert.are.equal("argument", errors.kind(err), tostring(err))
    assert.truthy(tostring(err):find(text, 1, true), tostring(err))
    assert.truthy(tostring(err):find(THIS_FILE, 1, true), tostring(err)) -- the caller's line
    return err
  end

  it("once closed, refuses every operation as closed, sending nothing", function()
    local c = env.client(fc)
    c:close()
    refused(function() c:stop_ecs{ ids = { env.id("ecs", 1) } } end, "client:stop_ecs: the client is closed")
    refused(function() c:stop_bms{ ids = { env.id("bms", 1) } } end, "client:stop_bms: the client is closed")
    refused(function() c:list_ecs() end, "client:list_ecs: the client is closed")
    assert.are.equal(0, fc:stats().calls.total)
  end)

  -- Client options `opts` with a transport (cloud.new's option) made to raise when an
  -- operation runs far past its time: a callback stealing the operation's answers would
  -- otherwise hang the spec, not fail it.
  local function guarded(opts, seconds)
    local deadline = core.now() + seconds
    opts.transport = env.stand_in(opts, { run = function(tr, wait)
      if core.now() > deadline then error("the operation hung: its answers were taken") end
      return tr:run(wait)
    end })
    return opts
  end

  -- Stops 2,000 servers (two calls in flight at once) on client c with `extra` options;
  -- the first time `hook` is told, it calls c again for another server. Returns the
  -- outer result and what the inner call raised.
  local function nested(c, extra, inner)
    local ids = env.ids("ecs", 1, 2000)
    local opts = { ids = ids, force = true, poll_interval = 0.02, wait_timeout = 5 }
    for k, v in pairs(extra) do opts[k] = v end
    local res = c:stop_ecs(opts)
    env.assert_ledger(res, ids)
    return res, inner()
  end

  it("refuses a call from its own on_progress as busy; the outer stop ends with every outcome", function()
    local c = env.client(fc, guarded({ concurrency = 2 }, 20))
    local raised, calls = nil, 0
    local res = nested(c, { on_progress = function()
      calls = calls + 1
      if calls == 1 then
        local ok, e = pcall(function() return c:stop_ecs{ ids = { env.id("ecs", 2100) }, force = true } end)
        raised = ok and "no error" or e
      end
    end }, function() return raised end)
    c:close()
    assert.is_true(res.ok)
    assert.are.equal("argument", errors.kind(raised), tostring(raised))
    assert.truthy(tostring(raised):find("client:stop_ecs: the client is busy", 1, true), tostring(raised))
    assert.truthy(tostring(raised):find(THIS_FILE, 1, true), tostring(raised))
    assert.are.equal("ACTIVE", fc:server(env.id("ecs", 2100)).status)
    assert.are.equal(2000, fc:stats().stop_requests.total)
  end)

  it("refuses a call from its own logger as busy; the outer stop ends with every outcome", function()
    fc:configure{ faults = { seed = 5, status = { [503] = 0.5 }, retry_after = 0 } }
    local raised
    local c
    c = env.client(fc, guarded({ concurrency = 2, retry = { attempts = 6, base = 0.01, cap = 0.02 },
      logger = function()
        if raised == nil then
          local ok, e = pcall(function() return c:list_bms() end)
          raised = ok and "no error" or e
        end
      end }, 20))
    local _, inner = nested(c, {}, function() return raised end)
    c:close()
    assert.are.equal("argument", errors.kind(inner), tostring(inner))
    assert.truthy(tostring(inner):find("client:list_bms: the client is busy", 1, true), tostring(inner))
    assert.are.equal(0, fc:stats().calls.list) -- the stop by id with force lists nothing
  end)

  it("serves again once the operation is over, even one that raised", function()
    local c = env.client(fc)
    refused(function() c:stop_ecs{ ids = { env.id("ecs", 1) }, type = "soft" } end, "option 'type'")
    local res = c:stop_ecs{ ids = { env.id("ecs", 1) }, force = true, wait = false }
    c:close()
    assert.is_true(res.ok)
  end)
end)
