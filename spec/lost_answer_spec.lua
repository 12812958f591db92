-- A stop whose answer was lost may have been accepted, even after the client gave up on it.
-- Its servers are looked up soon after and then at the poll plan's pace, so a stop the cloud
-- took late is confirmed about when its job ends. A server is sent again only when it is
-- still untouched after a grace long enough for the cloud to show a stop it took
-- (resend_grace; at least max(2 x timeout, 60 s) by default); one with a task on it
-- (task_state powering-off, or another) is touched; a lookup that fails is tried again, as
-- the plan's budget allows. The emulator counts the stops each server received: none may
-- get two.
local env = require "support.cloudenv"
local bounded = require "support.bounded"
local stop_op = require "cloud.op.run"
local core = require "cloud.core"

local ACTION = { action = true, job = false, list = false }

describe("a lost stop answer", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = { ecs = { { count = 3000, name = "web-%d", status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    assert(fc:configure{ faults = {}, hostile = {}, job_duration = 0.05 })
    assert(fc:reset())
  end)

  local function assert_once_each(n)
    local st = fc:stats()
    assert.are.equal(n, st.stop_requests.servers)
    assert.are.equal(0, st.stop_requests.sent_more_than_once)
    assert.are.equal(1, st.stop_requests.max_per_server)
  end

  it("the cloud accepting 5 s after the request, the client timing out at 2 s: 0 servers sent twice", function()
    -- The emulator takes each stop call 5 s after it arrived (hang: before any work).
    assert(fc:configure{ faults = { seed = 1, hang = 5, hang_rate = 1, apply_to = ACTION } })
    local ids = env.ids("ecs", 1, 2000)
    local client = env.client(fc, { timeout = 2 })
    local t0 = core.now()
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 30,
      resend_grace = 6 }
    client:close()
    env.assert_ledger(res, ids)
    assert.is_true(res.ok, res.failed[1] and res.failed[1].message)
    assert.are.equal(2000, #res.stopped)
    assert_once_each(2000)
    assert.are.equal(2, fc:stats().calls.action)
    assert.is_true(core.now() - t0 < 15)
  end)

  it("with the default grace (a minute at least), the late acceptance is never answered by a second stop", function()
    assert(fc:configure{ faults = { seed = 1, hang = 5, hang_rate = 1, apply_to = ACTION } })
    -- 500 servers: the last look at the deadline fits in one round of the client's 8
    -- connections (100 ids a lookup).
    local ids = env.ids("ecs", 1, 500)
    -- wait_timeout 8: the grace is longer than the call; the last look at the deadline
    -- sees what the cloud did at 5 s.
    local r = assert(bounded.call(fc, { timeout = 2 }, "stop_ecs",
      { ids = ids, force = true, poll_interval = 0.05, wait_timeout = 8 }, 8 + 2 + 10))
    assert.are.equal(500, #r.res.stopped)
    assert_once_each(500)
    assert.is_true(r.took <= 8 + 2, ("took %.2fs"):format(r.took))
  end)

  it("a stop the cloud takes 3 s late is confirmed about when its job ends, not after the grace", function()
    -- One call of 1000 servers, taken 3 s after it arrived (the client gave up at 1 s), its
    -- job 2 s long: the servers are off about 5 s after the call. The default grace (60 s)
    -- is far off; the lookups see powering-off, then SHUTOFF.
    assert(fc:configure{ job_duration = 2, faults = { seed = 1, hang = 3, hang_rate = 1, apply_to = ACTION } })
    local ids = env.ids("ecs", 1, 1000)
    local r = assert(bounded.call(fc, { timeout = 1 }, "stop_ecs",
      { ids = ids, force = true, poll_interval = 1, wait_timeout = 90 }, 120))
    assert.is_true(r.res.ok, r.res.failed[1] and r.res.failed[1].message)
    assert.are.equal(1000, #r.res.stopped)
    assert_once_each(1000)
    local st = fc:stats()
    assert.are.equal(1, st.calls.action)
    -- Well before the 60 s grace the old first lookup waited out (margins for valgrind).
    assert.is_true(r.took < 40, ("took %.2fs"):format(r.took))
    -- At the plan's pace: the lead looked up at most every 0.5 s (10 list calls of 100 ids),
    -- and once more at the end.
    assert.is_true(st.calls.list <= 10 * (r.took / 0.5 + 2), st.calls.list .. " list calls in " .. r.took .. " s")
  end)

  it("with no attempt left to send again, a stop taken late is still looked for until the grace", function()
    -- attempts = 1: nothing is ever sent twice, so an untouched server has only the grace to
    -- show the stop; failing it at the first lookup would report a server the cloud stops
    -- as failed.
    assert(fc:configure{ job_duration = 0.5, faults = { seed = 1, hang = 2, hang_rate = 1, apply_to = ACTION } })
    local ids = env.ids("ecs", 1, 5)
    local client = env.client(fc, { timeout = 0.5, retry = { attempts = 1 } })
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.2, wait_timeout = 60, resend_grace = 30 }
    client:close()
    env.assert_ledger(res, ids)
    assert.is_true(res.ok, res.failed[1] and res.failed[1].message)
    assert.are.equal(5, #res.stopped)
    assert_once_each(5)
  end)

  it("a server busy with another task (being started) is watched, never sent again, and not called stopped",
    function()
    -- The servers are SHUTOFF and being started (task_state powering-on) for 3 s when the
    -- stop's answer is cut; the cloud refused the stop for them (Ecs.0100). Even with no
    -- grace, none is sent again; once started, each stands failed: it is not stopped.
    local ids = env.ids("ecs", 2001, 2005)
    local client = env.client(fc)
    assert.is_true(client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05 }.ok)
    assert(fc:configure{ job_duration = 3 })
    assert.is_true(client:start_ecs{ ids = ids, force = true, wait = false }.ok)
    assert(fc:configure{ job_duration = 3, hostile = { mode = "reset_mid_body", apply_to = ACTION } })
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 30, resend_grace = 0 }
    client:close()
    env.assert_ledger(res, ids)
    assert.are.equal(0, #res.stopped)
    assert.are.equal(5, #res.failed)
    local st = fc:stats()
    assert.are.equal(2, st.stop_requests.max_per_server) -- the first stop, and this one's single call
    assert.are.equal(3, st.calls.action) -- the first stop, the start, this stop: one call each
    for _, id in ipairs(ids) do assert.are.equal("ACTIVE", assert(fc:server(id)).status) end
  end)

  it("the default grace is max(2 x timeout, 60 s)", function()
    assert.are.equal(60, stop_op.resend_grace({ timeout = 2 }))
    assert.are.equal(60, stop_op.resend_grace({ timeout = 30 }))
    assert.are.equal(90, stop_op.resend_grace({ timeout = 45 }))
  end)

  it("a server seen powering-off is touched: watched, never sent again, even with no grace", function()
    -- The stop is taken and its answer cut; the job runs a second, so lookups see the
    -- servers ACTIVE with task_state powering-off first.
    assert(fc:configure{ job_duration = 1, hostile = { mode = "reset_mid_body", apply_to = ACTION } })
    local ids = env.ids("ecs", 1, 5)
    local lines = {}
    local client = env.client(fc, { logger = function(l) lines[#lines + 1] = l end })
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 10,
      resend_grace = 0 }
    client:close()
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    assert_once_each(5)
    assert.is_true(fc:stats().calls.list >= 2, "looked up more than once while powering off")
  end)

  it("the server still untouched after the grace is sent again, once, and only then", function()
    -- Looked up meanwhile, at the plan's pace: untouched each time, it waits for the grace.
    assert(fc:configure{ hostile = { mode = "reset_mid_body", perform = false, limit = 1, apply_to = ACTION } })
    local ids = env.ids("ecs", 1, 5)
    local t0 = core.now()
    local client = env.client(fc)
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 10,
      resend_grace = 2 }
    client:close()
    local took = core.now() - t0
    assert.is_true(res.ok)
    assert_once_each(5) -- the first never reached the emulator's work
    local st = fc:stats()
    assert.are.equal(2, st.calls.action)
    assert.is_true(took >= 2, ("resent after %.2fs, before the grace"):format(took))
    assert.is_true(st.calls.list >= 2, "looked up during the grace")
  end)

  it("a lookup that keeps failing keeps to the plan's pace: backing off, not retried at once", function()
    -- The stop is done and its answer cut; every list call fails (500) and is not retried by
    -- the transport (attempts = 1). The lookups back off from poll_interval (1 s, 2 s, 4 s,
    -- ...); the deadline's look ends it, each server unconfirmed.
    assert(fc:configure{ job_duration = 0.05, hostile = { mode = "reset_mid_body", apply_to = ACTION },
      faults = { seed = 1, status = { [500] = 1 }, apply_to = { action = false, job = false, list = true } } })
    local ids = env.ids("ecs", 1, 5)
    -- The client's own backoff is short (0.01 s to 0.05 s): the lookups keep to the plan's.
    local client = env.client(fc, { retry = { attempts = 1, base = 0.01, cap = 0.05 } })
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 1, wait_timeout = 6, resend_grace = 60 }
    client:close()
    env.assert_ledger(res, ids)
    assert.are.equal(5, #res.failed)
    for _, f in ipairs(res.failed) do assert.are.equal("cloud.unconfirmed", f.code) end
    assert_once_each(5)
    -- At most one lookup a poll_interval over the 6 s, the first soon, and the deadline's
    -- two (the plan's and the last look); lookups retried at the client's backoff would be
    -- a hundred.
    local lists = fc:stats().calls.list
    assert.is_true(lists >= 3 and lists <= 6 + 3, lists .. " list calls")
  end)

  it("a lookup refused for good (a 400) is not tried again: unconfirmed at once", function()
    -- Each stop is done and its connection dropped before the answer; the lookups are
    -- refused with a 400, which another try would not change.
    assert(fc:configure{ faults = { seed = 1, drop_after = 1, apply_to = ACTION },
      hostile = { mode = "control_bytes", perform = false, apply_to = { action = false, job = false, list = true } } })
    local ids = env.ids("ecs", 1, 5)
    local client = env.client(fc)
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 20, resend_grace = 0 }
    client:close()
    env.assert_ledger(res, ids)
    for _, f in ipairs(res.failed) do
      assert.are.equal("cloud.unconfirmed", f.code)
      assert.truthy(f.message:find("Ecs.0005", 1, true), f.message)
    end
    assert.are.equal(5, #res.failed)
    assert.are.equal(1, fc:stats().calls.list)
    assert_once_each(5)
  end)

  it("under 50% list faults, fewer than 1% of servers end cloud.unconfirmed", function()
    -- Every stop answer is cut after the stop was taken, so every server is looked up;
    -- half the list calls fail (500), each retried twice at most (a third failing too:
    -- one lookup chunk in eight fails outright and is looked up again).
    assert(fc:configure{
      faults = { seed = 3, status = { [500] = 0.5 }, apply_to = { action = false, job = false, list = true } },
      hostile = { mode = "reset_mid_body", apply_to = ACTION } })
    local ids = env.ids("ecs", 1, 3000)
    local client = env.client(fc, { retry = { attempts = 3, base = 0.01, cap = 0.05 } })
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 60,
      resend_grace = 1 }
    client:close()
    env.assert_ledger(res, ids)
    local unconfirmed = 0
    for _, f in ipairs(res.failed) do
      if f.code == "cloud.unconfirmed" then unconfirmed = unconfirmed + 1 end
    end
    assert.is_true(unconfirmed < 30, unconfirmed .. " of 3000 unconfirmed")
    assert.are.equal(3000, #res.stopped)
    assert_once_each(3000)
    assert.is_true(fc:stats().faults["500"] > 0)
  end)
end)
