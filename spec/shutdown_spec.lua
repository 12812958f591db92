-- A stop cut short by the process's shutdown (inside nginx: ngx.worker.exiting()), here
-- through the same predicate outside nginx: no stop call leaves once it turns true, the
-- servers never sent end cloud.shutdown, those sent are confirmed within shutdown_grace or
-- reported unconfirmed, and the record ends. spec/nginx_shutdown_spec.lua does it in nginx.
local env = require "support.cloudenv"
local core = require "cloud.core"
local cjson = require "cjson"
local phase = require "cloud.nginx.phase"

local N = 3000 -- three stop calls of 1000

-- The lines of the record at `path`: its end line, how many intent lines, the ids they
-- named, and each id's outcome line.
local function read_record(path)
  local out = { intents = 0, named = {}, outcomes = {}, ends = {} }
  for line in io.lines(path) do
    local l = cjson.decode(line)
    if l.type == "intent" then
      out.intents = out.intents + 1
      for _, id in ipairs(l.ids) do out.named[id] = true end
    elseif l.type == "outcome" then
      assert.is_nil(out.outcomes[l.id], "two outcome lines for " .. l.id)
      out.outcomes[l.id] = l
    elseif l.type == "end" then
      out.ends[#out.ends + 1] = l
    end
  end
  return out
end

local function codes(res)
  local by = {}
  for _, f in ipairs(res.failed) do by[f.code] = (by[f.code] or 0) + 1 end
  return by
end

describe("a stop cut short by shutdown", function()
  local fc, saved, dir
  setup(function()
    fc = env.start{ fleet = { ecs = { { count = N, status = "ACTIVE" } } } }
    saved = phase.exiting_check
    local p = io.popen("mktemp -d /tmp/shutdown_spec.XXXXXX")
    dir = p:read("*l")
    p:close()
  end)
  teardown(function()
    phase.exiting_check = saved
    if fc then fc:stop() end
    os.execute("rm -rf " .. dir)
  end)
  before_each(function() fc:reset() end)
  after_each(function() phase.exiting_check = saved end)

  -- The client's schedulers (made at each call) ask `pred` whether the process is shutting
  -- down, as they ask ngx.worker.exiting inside nginx.
  local function client_with(pred)
    phase.exiting_check = function() return pred end
    return env.default_client(fc, { concurrency = 4 })
  end

  it("sends nothing once shutdown has begun: every server ends cloud.shutdown, never changed", function()
    local c = client_with(function() return true end)
    local path = dir .. "/before.jsonl"
    local res, err = c:stop_ecs{ ids = env.ids("ecs", 1, 50), force = true, record = path }
    c:close()
    assert.is_nil(err)
    assert.is_true(res.shutdown)
    assert.is_false(res.ok)
    assert.are.same({ ["cloud.shutdown"] = 50 }, codes(res))
    assert.truthy(res.failed[1].message:find("not sent: the process began shutting down", 1, true))
    assert.are.equal(0, fc:stats().calls.action)
    local rec = read_record(path)
    assert.are.equal(1, #rec.ends)
    assert.is_true(rec.ends[1].shutdown)
    for id in pairs(rec.named) do
      assert.are.equal("cloud.shutdown", rec.outcomes[id].code)
      assert.are.equal(false, rec.outcomes[id].changed) -- never sent: restore leaves it
    end
  end)

  it("stops sending at the shutdown, waits shutdown_grace for what was accepted, and reports it unconfirmed",
    function()
    -- Jobs that would run a minute: only the grace ends the wait, not wait_timeout.
    assert(fc:configure{ job_duration = 60 })
    local began
    local c = client_with(function() return began ~= nil end)
    local path = dir .. "/during.jsonl"
    -- 3 calls at 1000 servers a second: the first goes at once, the next a second later.
    local res, err = c:stop_ecs{ ids = env.ids("ecs", 1, N), force = true, record = path, poll_interval = 0.05,
      wait_timeout = 300, shutdown_grace = 0.5, servers_per_minute = 60000,
      on_progress = function(p)
        if p.phase == "submit" and not began then began = core.now() end
      end }
    local ended = core.now()
    c:close()
    assert.is_nil(err)
    assert.is_true(res.shutdown)
    local st = fc:stats()
    -- The first call was accepted; the shutdown began with its answer, before the next.
    assert.are.equal(1, st.calls.action)
    assert.are.same({ ["cloud.shutdown"] = N - 1000, ["cloud.unconfirmed"] = 1000 }, codes(res))
    for _, f in ipairs(res.failed) do
      if f.code == "cloud.unconfirmed" then
        assert.truthy(f.message:find("began shutting down", 1, true), f.message)
        assert.truthy(f.message:find("may yet happen", 1, true), f.message)
        assert.falsy(f.message:find("wait_timeout ended", 1, true), f.message)
      end
    end
    -- Bounded by the grace (and a last look), far from the 300 s of wait_timeout.
    assert.is_true(ended - began < 30, ("ended %.1fs after the shutdown began"):format(ended - began))
    local rec = read_record(path)
    assert.are.equal(1, #rec.ends)
    assert.is_true(rec.ends[1].shutdown)
    assert.are.equal(N, rec.ends[1].failed, cjson.encode(rec.ends[1]))
    -- One call left, after its intent line; the others never did, and have none.
    assert.are.equal(1, rec.intents)
    for id in pairs(rec.named) do
      assert.are.equal("cloud.unconfirmed", rec.outcomes[id].code)
      assert.are.equal(cjson.null, rec.outcomes[id].changed) -- a doubt: a restore asks its job
    end
    local n = 0
    for _, o in pairs(rec.outcomes) do
      n = n + 1
      if not rec.named[o.id] then assert.are.equal("cloud.shutdown", o.code) end
    end
    assert.are.equal(N, n)
  end)

  it("confirms within shutdown_grace the jobs that end in it", function()
    assert(fc:configure{ job_duration = 0.2 })
    local began
    local c = client_with(function() return began ~= nil end)
    local res = c:stop_ecs{ ids = env.ids("ecs", 1, N), force = true, poll_interval = 0.05,
      shutdown_grace = 5, servers_per_minute = 60000,
      on_progress = function(p)
        if p.phase == "submit" and not began then began = core.now() end
      end }
    c:close()
    assert.is_true(res.shutdown)
    assert.are.equal(1000, #res.stopped)
    assert.are.same({ ["cloud.shutdown"] = N - 1000 }, codes(res))
  end)

  it("refuses a shutdown_grace that is not a number of seconds, naming it", function()
    local c = env.default_client(fc)
    local ok, e = pcall(c.stop_ecs, c, { ids = { env.id("ecs", 1) }, shutdown_grace = -1 })
    c:close()
    assert.is_false(ok)
    assert.are.equal("shutdown_grace", e.field)
  end)
end)
