-- cloud.net.pace: how fast an operation's stop calls go, driven here with a clock of the spec's
-- own (the pace is pure: every call takes the time). The figures against the emulator's flow
-- control are in spec/reference_client_spec.lua and bench/.
local pace = require "cloud.net.pace"

local function near(a, b) return math.abs(a - b) < 1e-9 end

describe("cloud.net.pace", function()
  it("with no pace given, lets stop calls out one at a time and opens up as they are accepted", function()
    local p = pace.new{ concurrency = 8 }
    assert.are.equal(1, p:stop_window())
    assert.are.equal(8, p:limit())
    assert.are.equal(0, p:when(0))
    p:sent(1000, 0)
    p:accepted(1000, 0.1)
    assert.are.equal(2, p:stop_window())
    p:sent(1000, 0.1) p:sent(1000, 0.1)
    p:accepted(1000, 0.2)
    assert.are.equal(1, p:stop_window()) -- the round is not all back yet: nothing added to it
    p:accepted(1000, 0.2)
    assert.are.equal(4, p:stop_window())
    for _ = 1, 10 do p:accepted(1000, 0.3) end
    assert.are.equal(8, p:stop_window()) -- never above the concurrency
    assert.is_nil(p:servers_per_minute()) -- no flow control seen: not paced
    assert.are.equal(5, p:when(5))
  end)

  it("with servers_per_minute given, spaces stop calls to it from the first and never goes faster", function()
    local p = pace.new{ concurrency = 4, servers_per_minute = 60000 } -- 1000 a second
    assert.are.equal(4, p:stop_window()) -- the caller knows the budget: no slow start
    p:sent(1000, 0)
    assert.is_true(near(1, p:when(0)))
    p:sent(1000, 1)
    assert.is_true(near(2, p:when(1)))
    for i = 1, 20 do p:accepted(1000, i) end
    assert.are.equal(60000, p:servers_per_minute())
  end)

  it("waits a short, doubling hold on a refusal before two calls' worth were accepted (it tells little)", function()
    local p = pace.new{ concurrency = 8 }
    p:sent(1000, 0)
    assert.is_true(p:throttled(1000, 0, 0.01))
    assert.is_nil(p:servers_per_minute())
    assert.is_true(near(0.11, p:when(0.01)))
    p:sent(1000, 0.11)
    p:throttled(1000, 0.11, 0.12)
    assert.is_true(near(0.32, p:when(0.12)))
    assert.are.equal(1, p:stop_window())
  end)

  it("learns the pace from the first refusal after a burst, and charges the burst to it", function()
    local p = pace.new{ concurrency = 8 }
    p:sent(1000, 0) p:accepted(1000, 0.002)
    p:sent(1000, 0.002) p:sent(1000, 0.002)
    p:accepted(1000, 0.004)
    assert.is_true(p:throttled(1000, 0.002, 0.004))
    -- 2000 servers got through before the refusal: at least a second's worth, so 2000 a
    -- second is the limit, and the pace starts below it ...
    assert.is_true(near(0.85 * 2000 * 60, p:servers_per_minute()))
    -- ... with those 2000 charged to it from the first call on: nothing goes before 1.18 s.
    assert.is_true(near(2000 / 1700, p:when(0.004)))
    -- A refusal of a call sent before that cut changes nothing more.
    assert.is_false(p:throttled(1000, 0.002, 0.005))
    assert.is_true(near(0.85 * 2000 * 60, p:servers_per_minute()))
  end)

  it("climbs back towards the limit, probes above it, and keeps a probe that held for a window", function()
    local p = pace.new{ concurrency = 8 }
    p:sent(1000, 0) p:accepted(1000, 0) p:sent(1000, 0) p:accepted(1000, 0)
    p:throttled(1000, 0, 0.01) -- limit 2000/s, pace 1700/s
    local t, rates = 1, {}
    for _ = 1, 9 do
      p:sent(1000, t) p:accepted(1000, t)
      rates[#rates + 1] = p:servers_per_minute() / 60
      t = t + 0.5
    end
    assert.is_true(near(1850, rates[1]) and near(1925, rates[2])) -- half the way each time
    for k = 3, 7 do assert.is_true(rates[k] < 2000, rates[k]) end -- at the limit a few calls
    assert.is_true(near(2100, rates[8])) -- then a probe 5% above it
    assert.is_true(near(2100, rates[9])) -- kept until it has held for a window
    -- The probe held for a second: it is the limit now, and the next probe doubles it.
    p:sent(1000, t + 1) p:accepted(1000, t + 1)
    assert.is_true(near(4200, p:servers_per_minute() / 60))
    -- A probe refused: back below the limit it came from, which stands.
    p:sent(1000, t + 1.1)
    assert.is_true(p:throttled(1000, t + 1.1, t + 1.2))
    assert.is_true(near(0.85 * 2100, p:servers_per_minute() / 60))
  end)

  it("lowers the limit when refused near it, keeps it when refused well below it, halves on a refusal in a row",
    function()
    local p = pace.new{ concurrency = 8 }
    p:sent(1000, 0) p:accepted(1000, 0) p:sent(1000, 0) p:accepted(1000, 0)
    p:throttled(1000, 0, 0.01) -- limit 2000/s, pace 1700/s
    p:sent(1000, 2) p:accepted(1000, 2) -- 1850
    p:sent(1000, 3) p:accepted(1000, 3) -- 1925: near the limit
    p:sent(1000, 4)
    p:throttled(1000, 4, 4.1)
    assert.is_true(near(0.85 * 1925, p:servers_per_minute() / 60))
    p:sent(1000, 5) p:accepted(1000, 5) -- climbs towards 1925, the new limit
    assert.is_true(near(0.85 * 1925 + 0.5 * (1925 - 0.85 * 1925), p:servers_per_minute() / 60))
    local before = p:servers_per_minute() / 60
    p:sent(1000, 6)
    p:throttled(1000, 6, 6.1) -- well below the limit: noise, the limit stands
    assert.is_true(near(0.85 * before, p:servers_per_minute() / 60))
    p:sent(1000, 7)
    p:throttled(1000, 7, 7.1) -- right after another: halved
    assert.is_true(near(0.5 * 0.85 * before, p:servers_per_minute() / 60))
    for k = 1, 6 do -- a run of refusals in a row: no lower than a quarter of the limit
      p:sent(1000, 7 + k)
      p:throttled(1000, 7 + k, 7.1 + k)
    end
    assert.is_true(near(0.25 * 1925, p:servers_per_minute() / 60))
    p:sent(1000, 20) p:accepted(1000, 20)
    assert.is_true(p:servers_per_minute() / 60 > 0.25 * 1925) -- and won back
  end)

  it("never sends a stop call before a Retry-After, and halves the calls in flight on flow control", function()
    local p = pace.new{ concurrency = 8 }
    p:not_before(30)
    assert.are.equal(30, p:when(1))
    p:throttled(0, 1, 2) -- a poll or a list: calls in flight halve, the pace is not touched
    assert.are.equal(4, p:limit())
    assert.is_nil(p:servers_per_minute())
    p:throttled(0, 2.5, 3)
    assert.are.equal(2, p:limit())
    for _ = 1, 20 do p:answered(false) end
    assert.is_true(p:limit() > 2 and p:limit() <= 8)
  end)
end)
