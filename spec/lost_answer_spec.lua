-- A stop whose answer was lost may have been accepted. It is sent again only when the
-- server is still untouched after a grace long enough for the cloud to show a stop it
-- took (resend_grace; at least max(2 x timeout, 60 s) by default); a stop under way
-- (task_state powering-off) is touched; a lookup that fails is tried again. The emulator
-- counts the stops each server received: none may get two.
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

  it("the server still untouched after the grace is sent again, once", function()
    assert(fc:configure{ hostile = { mode = "reset_mid_body", perform = false, limit = 1, apply_to = ACTION } })
    local ids = env.ids("ecs", 1, 5)
    local t0 = core.now()
    local client = env.client(fc)
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05, wait_timeout = 10,
      resend_grace = 1 }
    client:close()
    local took = core.now() - t0
    assert.is_true(res.ok)
    assert_once_each(5) -- the first never reached the emulator's work
    assert.are.equal(2, fc:stats().calls.action)
    assert.is_true(took >= 1, ("resent after %.2fs, before the grace"):format(took))
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
