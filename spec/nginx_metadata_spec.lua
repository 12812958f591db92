-- Inside nginx, a client made in init_by_lua with nothing but endpoints: temporary keys
-- from the metadata service and the project id from IAM at the first stop, and two timers
-- sharing it across key refreshes, one fetching at a time while the other waits.
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local socket = require "socket"
local cjson = require "cjson"

describe("inside nginx, metadata keys", function()
  local fc, app

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = { ecs = { { count = 3000 } } } }
    app = assert(appnginx.start{ emulator = fc })
  end)

  teardown(function()
    if app then app:stop() end
    if fc then fc:stop() end
  end)

  local function wait_result(key, limit)
    local t0 = socket.gettime()
    while socket.gettime() - t0 < limit do
      local code, body = app:get("/result?key=" .. key)
      if code == 200 then return cjson.decode(body) end
      socket.sleep(0.05)
    end
    error("no result for " .. key .. "\n" .. app:log():sub(-2000))
  end

  it("two timers share keys that expire every 3 s: one fetch at a time, none refused", function()
    -- Each key fetch takes 0.3 s, so the other timer is sure to want new keys meanwhile.
    assert(fc:configure{ job_duration = 5, metadata = { ttl = 3, hang = 0.3 } })
    assert(fc:reset())
    local t0 = socket.gettime()
    assert.are.equal(200, (app:get("/timer?service=ecs&from=1&to=1500&metadata=1&key=ma")))
    assert.are.equal(200, (app:get("/timer?service=ecs&from=1501&to=3000&metadata=1&key=mb")))
    local a, b = wait_result("ma", 40), wait_result("mb", 40)
    local took = socket.gettime() - t0
    for _, r in ipairs({ a, b }) do
      assert.is_nil(r.error, r.error)
      assert.is_true(r.ok, r.first_failure)
      assert.are.equal(1500, r.stopped)
    end
    local st = fc:stats()
    assert.are.equal(0, st.signature_failures)
    assert.are.equal(0, st.expired_keys)
    assert.are.equal(1, st.calls.iam) -- one lookup for both timers
    assert.are.equal(1, st.metadata.token_calls)
    -- A fetch when half a key's life is gone (about every 1.5 s plus the 0.3 s it takes):
    -- two timers fetching on their own would make about twice as many.
    local expected = math.ceil(took / 1.8) + 1
    assert.truthy(st.metadata.key_calls <= expected,
      ("%d key fetches in %.1f s, at most %d expected"):format(st.metadata.key_calls, took, expected))
    assert.is_nil(app:log():find("[error]", 1, true), app:log():sub(-2000))
  end)
end)
