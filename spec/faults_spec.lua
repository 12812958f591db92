-- Surviving throttling and faults (the emulator injects them) without losing or
-- double-sending a server; giving up cleanly when the cloud keeps failing.
local env = require "support.cloudenv"
local retry = require "cloud.net.retry"
local core = require "cloud.core"

local NO_FAULTS = { seed = 1 }

describe("retry policy", function()
  it("backs off exponentially with full jitter under the cap, never below Retry-After up to the cap", function()
    local policy = { attempts = 6, base = 1, cap = 8 }
    local function top() return 1 end
    assert.are.equal(1, retry.delay(policy, 1, nil, top))
    assert.are.equal(4, retry.delay(policy, 3, nil, top))
    assert.are.equal(8, retry.delay(policy, 10, nil, top))
    assert.are.equal(0, retry.delay(policy, 3, nil, function() return 0 end))
    assert.are.equal(5, retry.delay(policy, 1, 5, function() return 0 end))
    -- A server's Retry-After is honoured only up to the cap: 99999999 is not a wait.
    assert.are.equal(8, retry.delay(policy, 1, 30, top))
    assert.are.equal(8, retry.delay(policy, 1, 99999999, function() return 0 end))
    assert.are.equal(30, retry.delay({ attempts = 6, base = 1, cap = 60 }, 1, 30, top))
  end)

  it("reads Retry-After as seconds or as an HTTP date", function()
    assert.are.equal(7, retry.parse_retry_after("7"))
    local now = require("cloud.base.utc").from_http_date("Sun, 22 Nov 2026 10:15:00 GMT")
    assert.are.equal(1795342500, now)
    assert.are.equal(20, retry.parse_retry_after("Sun, 22 Nov 2026 10:15:20 GMT", now))
    assert.is_nil(retry.parse_retry_after("soon"))
  end)

  it("retries only what may succeed next time, as cloud.classify says", function()
    local classify = require "cloud.classify"
    local function again(status, code) return retry.again(classify.answer{ status = status, code = code }) end
    for _, s in ipairs({ 429, 500, 502, 503, 504 }) do assert.is_true(again(s)) end
    assert.is_true(again(501, "Ecs.0603"))
    assert.is_true(again(202, "Common.0024"))
    assert.is_true(again(400, "Ecs.1002")) -- a system exception, whatever the status says
    for _, s in ipairs({ 400, 401, 403, 404 }) do assert.is_false(again(s, "Ecs.0114")) end
    assert.is_false(again(500, "Ecs.0005")) -- invalid parameter, whatever the status says
  end)
end)

describe("faults", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = { ecs = { { count = 20000, name = "web-%d", status = "ACTIVE" } },
      bms = { { count = 3000, name = "bm-%d", status = "ACTIVE" } } } }
  end)
  teardown(function() fc:stop() end)
  before_each(function()
    fc:configure{ faults = NO_FAULTS, clock_skew = 0, transient_fail = { rate = 0 } }
    fc:reset()
  end)

  it("stops 20,000 servers through 429s, 500s and dropped connections, each sent once", function()
    fc:configure{ faults = { seed = 7, status = { [429] = 0.3, [500] = 0.1 }, retry_after = 0,
      drop = 0.05, drop_after = 0.05 } }
    local lines = {}
    local client = env.client(fc, { retry = { attempts = 12, base = 0.005, cap = 0.05 },
      logger = function(l) lines[#lines + 1] = l end })
    local ids = env.ids("ecs", 1, 20000)
    local t0 = core.now()
    -- A dropped stop never reached the emulator, which acts on a stop at once: a second
    -- is long enough for it to have shown one it took (the default is a minute at least).
    -- Each 429 is flow control, and 30% of them slow the pace down a lot: under valgrind a
    -- minute was not always enough (the calls the pace had no room for were not sent).
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.02, wait_timeout = 300,
      resend_grace = 1 }
    client:close()
    env.assert_ledger(res, ids)
    assert.is_true(res.ok, res.failed[1] and (res.failed[1].code .. " " .. res.failed[1].message))
    assert.are.equal(20000, #res.stopped)
    local stats = fc:stats()
    assert.are.equal(20000, stats.stop_requests.servers)
    assert.are.equal(0, stats.stop_requests.sent_more_than_once)
    assert.is_true(stats.faults["429"] > 0 and stats.faults["500"] > 0)
    assert.is_true((stats.faults.drop or 0) + (stats.faults.drop_after or 0) > 0)
    assert.are.equal(20000, stats.servers.ecs.SHUTOFF)
    assert.is_true(#lines > 0)
    for _, l in ipairs(lines) do assert.is_nil(l:find(fc.sk, 1, true)) end
    assert.is_true(core.now() - t0 < 300, "bounded time")
  end)

  it("fails every server with the last code after the configured attempts when all calls fail", function()
    fc:configure{ faults = { seed = 1, status = { [500] = 1 } } }
    local client = env.client(fc, { retry = { attempts = 4, base = 0.001, cap = 0.01 } })
    local ids = env.ids("bms", 1, 2500)
    local res = client:stop_bms{ ids = ids, force = true, poll_interval = 0.02 }
    client:close()
    env.assert_ledger(res, ids)
    assert.are.equal(2500, #res.failed)
    for _, f in ipairs(res.failed) do
      assert.are.equal("BMS.0500", f.code)
      assert.are.equal(500, f.status)
      assert.truthy(f.message:find("injected fault", 1, true))
    end
    assert.are.equal(3 * 4, fc:stats().calls.action)
  end)

  it("times out a hung answer and tries again", function()
    fc:configure{ faults = { seed = 3, apply_to = { action = false, list = false, job = true },
      hang = 3, hang_rate = 0.5 } }
    local lines = {}
    local client = env.client(fc, { timeout = 0.3, retry = { attempts = 10, base = 0.001, cap = 0.01 },
      logger = function(l) lines[#lines + 1] = l end })
    local ids = env.ids("ecs", 1, 10)
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.02 }
    client:close()
    assert.is_true(res.ok)
    assert.is_true(fc:stats().faults.hang > 0)
    local timeouts = 0
    for _, l in ipairs(lines) do
      if l:find("cloud.timeout", 1, true) then timeouts = timeouts + 1 end
    end
    assert.is_true(timeouts > 0)
  end)

  it("looks a server up rather than resend when a stop timed out after it was accepted", function()
    -- The cloud answers after 0.5 s, having accepted the stop; the client gives up at 0.3 s.
    fc:configure{ faults = { seed = 5, apply_to = { action = true, list = false, job = false },
      hang = 0.5, hang_rate = 1 } }
    local client = env.client(fc, { timeout = 0.3, retry = { attempts = 3, base = 0.001, cap = 0.01 } })
    local ids = env.ids("ecs", 1, 3)
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.05 }
    client:close()
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    local stats = fc:stats()
    assert.are.equal(1, stats.calls.action) -- accepted once, never resent
    assert.are.equal(0, stats.stop_requests.sent_more_than_once)
    assert.is_true(stats.calls.list >= 1)
  end)

  it("honours Retry-After", function()
    fc:configure{ faults = { seed = 11, apply_to = { action = true, list = false, job = false },
      status = { [429] = 0.5 }, retry_after = 1 } }
    local lines = {}
    -- Retry-After is honoured up to the cap, here above it.
    local client = env.client(fc, { retry = { attempts = 10, base = 0.001, cap = 1 },
      logger = function(l) lines[#lines + 1] = l end })
    local res = client:stop_ecs{ ids = env.ids("ecs", 1, 3000), force = true, poll_interval = 0.02 }
    client:close()
    assert.is_true(res.ok)
    local waits = 0
    for _, l in ipairs(lines) do
      -- A 429 on a stop call is flow control: the batch waits its turn at the pace, and
      -- never sooner than Retry-After.
      local d = l:match("^retry %d+/%d+ in ([%d.]+)s") or l:match("^throttled: .* sent again in ([%d.]+)s")
      if d then
        waits = waits + 1
        assert.is_true(tonumber(d) >= 1, l)
      end
    end
    assert.is_true(waits > 0)
  end)

  it("keeps going when the logger or on_progress raises", function()
    fc:configure{ faults = { seed = 2, status = { [429] = 0.5 }, retry_after = 0 } }
    local logged, progressed = 0, 0
    local client = env.client(fc, { logger = function() logged = logged + 1 error("logger broke") end })
    local ids = env.ids("ecs", 1, 3000)
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.02,
      on_progress = function() progressed = progressed + 1 error("progress broke") end }
    -- Both raised, more than once: the run went on past each.
    assert.is_true(logged > 1 and progressed > 1, ("logger %d, on_progress %d"):format(logged, progressed))
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    assert.is_true(fc:stats().faults["429"] > 0)
    -- Same client again: nothing left over from the first run gets mixed in.
    fc:configure{ faults = {} }
    fc:reset()
    local ids2 = env.ids("ecs", 3001, 3010)
    local res2 = client:stop_ecs{ ids = ids2, force = true, poll_interval = 0.02 }
    client:close()
    env.assert_ledger(res2, ids2)
    assert.are.same(ids2, res2.stopped)
    local st = fc:stats()
    assert.are.same({ 1, 10, 0 }, { st.calls.action, st.stop_requests.total, st.stop_requests.sent_more_than_once })
  end)

  it("sends a 401 APIGW.0301 once only", function()
    local client = env.client(fc, { ak = "UNKNOWNAK" })
    local res = client:stop_ecs{ ids = env.ids("ecs", 1, 2), force = true }
    client:close()
    assert.are.equal("APIGW.0301", res.failed[1].code)
    assert.are.equal(1, fc:stats().calls.total)
  end)

  it("corrects a clock 20 minutes off from the answer's Date, once", function()
    fc:configure{ clock_skew = 1200 }
    local lines = {}
    local client = env.client(fc, { logger = function(l) lines[#lines + 1] = l end })
    local res = client:stop_ecs{ ids = env.ids("ecs", 1, 2500), force = true, poll_interval = 0.02 }
    client:close()
    assert.is_true(res.ok)
    local stats = fc:stats()
    assert.is_true(stats.signature_failures >= 1 and stats.signature_failures <= 3, stats.signature_failures)
    assert.truthy(lines[1]:find("clock", 1, true))
  end)

  it("sends again, once, a server whose sub-job failed for a transient reason", function()
    local ids = env.ids("ecs", 1, 50)
    fc:configure{ transient_fail = { ids = { ids[3], ids[7] } } }
    local client = env.client(fc)
    local res = client:stop_ecs{ ids = ids, force = true, poll_interval = 0.02 }
    client:close()
    assert.is_true(res.ok)
    local stats = fc:stats()
    assert.are.equal(52, stats.stop_requests.total)
    assert.are.equal(2, stats.stop_requests.sent_more_than_once)
    fc:reset()
    local client2 = env.client(fc)
    local res2 = client2:stop_ecs{ ids = ids, force = true, poll_interval = 0.02, retry_failed = 0 }
    client2:close()
    assert.are.equal(2, #res2.failed)
    assert.are.equal("Ecs.0603", res2.failed[1].code)
  end)
end)
