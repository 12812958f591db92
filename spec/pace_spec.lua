-- cloud.net.pace: how fast an operation's stop calls go, driven here with a clock of the spec's
-- own (the pace is pure: every call takes the time). The figures against the emulator's flow
-- control are in spec/reference_client_spec.lua and bench/ (bench/stop/run_windows.sh).
local pace = require "cloud.net.pace"

local function near(a, b, eps) return math.abs(a - b) < (eps or 1e-9) end

-- A call of n servers sent at t and accepted `rtt` later; returns the answer's time.
local function ok(p, n, t, rtt)
  rtt = rtt or 0.01
  p:sent(n, t)
  p:accepted(n, t + rtt, t)
  return t + rtt
end

-- A call of n servers sent at t and refused `rtt` later; returns the answer's time.
local function refused(p, n, t, rtt)
  rtt = rtt or 0.01
  p:sent(n, t)
  p:throttled(n, t, t + rtt)
  return t + rtt
end

describe("cloud.net.pace", function()
  it("with no pace given, lets stop calls out one at a time and opens up as they are accepted", function()
    local p = pace.new{ concurrency = 8 }
    assert.are.equal(1, p:stop_window())
    assert.are.equal(8, p:limit())
    assert.are.equal(0, p:when(0, 1000))
    p:sent(1000, 0)
    p:accepted(1000, 0.1, 0)
    assert.are.equal(2, p:stop_window())
    p:sent(1000, 0.1) p:sent(1000, 0.1)
    p:accepted(1000, 0.2, 0.1)
    assert.are.equal(1, p:stop_window()) -- the round is not all back yet: nothing added to it
    p:accepted(1000, 0.2, 0.1)
    assert.are.equal(4, p:stop_window())
    for _ = 1, 10 do p:sent(1000, 0.3) p:accepted(1000, 0.3, 0.3) end
    assert.are.equal(8, p:stop_window()) -- never above the concurrency
    assert.is_nil(p:servers_per_minute()) -- no flow control seen: not paced
    assert.is_nil(p:window())
    assert.are.equal(5, p:when(5, 1000))
  end)

  it("with servers_per_minute given, spaces stop calls to it from the first and never goes faster", function()
    local p = pace.new{ concurrency = 4, servers_per_minute = 60000 } -- 1000 a second
    assert.are.equal(4, p:stop_window()) -- the caller knows the budget: no slow start
    p:sent(1000, 0)
    assert.is_true(near(1, p:when(0, 1000)))
    p:sent(1000, 1)
    assert.is_true(near(2, p:when(1, 1000)))
    for i = 1, 20 do p:accepted(1000, i, i) end
    assert.are.equal(60000, p:servers_per_minute())
  end)

  it("with servers_per_minute given, a cut is not undone by the next accepted call: it climbs back", function()
    local p = pace.new{ concurrency = 4, servers_per_minute = 60000 } -- 1000 a second
    ok(p, 1000, 0)
    local t = refused(p, 1000, 1)
    -- The rate given, as cut (p.rate: servers a second; the window learned apart from it).
    local seen = { p.rate }
    assert.is_true(seen[1] < 1000, seen[1])
    for k = 1, 6 do
      t = ok(p, 1000, p:when(t, 1000))
      seen[k + 1] = p.rate
    end
    assert.is_true(seen[2] < 1000 and seen[2] > seen[1], seen[2]) -- the next accepted call: climbing, not back
    for k = 2, 7 do assert.is_true(seen[k] >= seen[k - 1] and seen[k] <= 1000) end
    assert.are.equal(1000, seen[7]) -- back after a few, never above it
    assert.is_true(p:servers_per_minute() <= 60000)
    -- Refusals in a row cut deeper, not below a quarter of the figure given.
    for _ = 1, 8 do t = refused(p, 1000, p:when(t, 1000)) end
    assert.is_true(near(250, p.rate), p.rate)
  end)

  it("waits a short, doubling hold on a refusal while nothing of its own is in the window", function()
    local p = pace.new{ concurrency = 8 }
    local t = refused(p, 1000, 0) -- someone else's calls fill the window, or noise
    assert.is_nil(p:window())
    assert.is_true(near(0.11, p:when(t, 1000)))
    t = refused(p, 1000, 0.11)
    assert.is_true(near(0.32, p:when(t, 1000)))
    assert.are.equal(1, p:stop_window())
  end)

  it("counts what the cloud accepted before refusing, and goes again when it leaves the window", function()
    local p = pace.new{ concurrency = 8 }
    local t = ok(p, 1000, 0) -- at 0.01
    p:sent(1000, t) p:sent(1000, t)
    p:throttled(1000, t, t + 0.01) -- the third call refused ...
    p:accepted(1000, t + 0.012, t) -- ... the second, in flight then, accepted after it
    assert.is_false(p:throttled(1000, t, t + 0.013)) -- sent before the cut: changes nothing more
    local w = p:window()
    assert.are.same({ 2000, 1, 0, 60 }, { w.count, w.span, w.lo, w.hi }) -- two calls' worth, first span 1 s
    -- The next goes once the first call has left a window of a second, the one after with the second.
    local at = p:when(0.03, 1000)
    assert.is_true(near(0.01 + 1 + 0.01, at), at)
    ok(p, 1000, at)
    -- It fitted only because the first call had left: the window is at most a second, found.
    w = p:window()
    assert.is_true(w.hi <= 1.02 and w.span == w.hi, w.hi)
    assert.is_true(near(0.022 + w.span + 0.01, p:when(at, 1000)))
  end)

  it("probes a longer window up in bounded steps, then narrows it without going past what was proven", function()
    -- A cloud of 1000 servers per 10 s window, calls of 1000, answered at once.
    local W, B = 10, 1000
    local window, calls, refusals = {}, 0, 0
    local function cloud(n, t)
      local sum = 0
      for _, e in ipairs(window) do if e.t > t - W then sum = sum + e.n end end
      calls = calls + 1
      if sum + n > B then refusals = refusals + 1 return false end
      window[#window + 1] = { t = t, n = n }
      return true
    end
    local p = pace.new{ concurrency = 8 }
    local t, spans, done = 0, {}, 0
    while done < 20 do
      t = math.max(t, p:when(t, 1000))
      p:sent(1000, t)
      if cloud(1000, t) then
        p:accepted(1000, t, t)
        done = done + 1
      else
        p:throttled(1000, t, t)
      end
      local w = p:window()
      if w then spans[#spans + 1] = w.span end
      assert.is_true(not w or w.span <= 60, "never past the reference's minute unrefused")
    end
    -- Up by at most 3 times while no call proved a top: 1, 3, 9, then 27 accepted.
    assert.are.same({ 1, 3, 9, 27 }, { spans[1], spans[2], spans[3], spans[4] })
    local w = p:window()
    assert.is_true(w.lo < W and W <= w.hi and w.hi <= 1.2 * w.lo, ("%g %g"):format(w.lo, w.hi))
    -- 20 windows' worth in under 1.3 times the 19 windows they need, a fifth of the calls refused.
    assert.is_true(t <= 1.3 * 19 * W, t)
    assert.is_true(refusals <= 0.25 * calls, ("%d of %d"):format(refusals, calls))
  end)

  it("past the reference's minute: a window refused at 60 s is longer than documented", function()
    local p = pace.new{ concurrency = 8 }
    local t = ok(p, 1000, 0)
    t = refused(p, 1000, t) -- count 1000, span 1
    for _ = 1, 20 do
      local w = p:window()
      if w.span >= 60 then break end
      t = refused(p, 1000, p:when(t, 1000))
    end
    assert.are.equal(60, p:window().span)
    refused(p, 1000, p:when(t, 1000))
    local w = p:window()
    assert.are.same({ 60, 120, 120 }, { w.lo, w.hi, w.span })
  end)

  it("cuts the count on a refusal at a proven window, not below a quarter of what was proven", function()
    local p = pace.new{ concurrency = 8 }
    local t = ok(p, 1000, 0)
    p:sent(1000, t) p:sent(1000, t)
    p:throttled(1000, t, t + 0.01)
    p:accepted(1000, t + 0.012, t) -- count 2000
    t = ok(p, 1000, p:when(0.03, 1000)) -- proves the 1 s window
    t = refused(p, 1000, p:when(t, 1000)) -- refused where it should fit: cut
    assert.is_true(near(0.85 * 2000, p:window().count))
    for _ = 1, 10 do t = refused(p, 1000, p:when(t, 1000)) end
    assert.is_true(near(0.25 * 2000, p:window().count))
    for _ = 1, 10 do t = ok(p, 1000, p:when(t, 1000)) end
    assert.are.equal(2000, p:window().count) -- won back as calls are accepted
  end)

  it("never sends a stop call before a Retry-After, and halves the calls in flight on flow control", function()
    local p = pace.new{ concurrency = 8 }
    p:not_before(30)
    assert.are.equal(30, p:when(1, 1000))
    p:throttled(0, 1, 2) -- a poll or a list: calls in flight halve, the pace is not touched
    assert.are.equal(4, p:limit())
    assert.is_nil(p:servers_per_minute())
    p:throttled(0, 2.5, 3)
    assert.are.equal(2, p:limit())
    for _ = 1, 20 do p:answered(nil) end
    assert.is_true(p:limit() > 2 and p:limit() <= 8)
  end)
end)
