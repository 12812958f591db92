-- Records, restore and fleets inside nginx: the cosocket transport, a record written from a
-- content handler and restored there, and cloud.fleet running its targets one after another
-- (no shared blocking engine inside a worker).
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"

describe("inside nginx", function()
  local fc, app

  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = { ecs = { { count = 6, name = "web-%d" } } } }
    app = assert(appnginx.start{ emulator = fc })
  end)
  teardown(function()
    if app then app:stop() end
    if fc then fc:stop() end
  end)
  before_each(function() assert(fc:reset()) end)

  it("stops with a record and restores it", function()
    local path = os.tmpname()
    os.remove(path)
    finally(function() os.remove(path) end)
    local r = app:json("/cycle?from=1&to=4&record=" .. path)
    assert.are.same({ stopped = 4, started = 4, phase = "content" }, r)
    local st = fc:stats()
    assert.are.same({ 4, 4, 0 }, { st.stop_requests.total, st.start_requests.total,
      st.start_requests.sent_more_than_once })
    assert.are.same({ ACTIVE = 6 }, st.servers.ecs)
    local f = assert(io.open(path))
    local text = f:read("*a")
    f:close()
    assert.truthy(text:find('"type":"end"', 1, true))
  end)

  it("runs a fleet's targets one after another on their own transports; one failing leaves the other", function()
    local r = app:json("/fleet?n=6")
    assert.are.same({ stopped = 6, err2 = 403, ok = false, shared_engine = false }, r)
    assert.are.equal(6, fc:stats().stop_requests.total)
  end)
end)
