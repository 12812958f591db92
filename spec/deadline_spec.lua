-- wait_timeout bounds the whole call: every wait (a poll, a backoff, a Retry-After, the
-- grace before a lost stop is sent again) ends by the deadline, and the call returns
-- within wait_timeout plus one request timeout. Each case runs in a child process under a
-- hard timeout (support.bounded): a hang is killed and fails the spec.
local env = require "support.cloudenv"
local bounded = require "support.bounded"
local cli = require "spec.support.cli"
local core = require "cloud.core"

local TIMEOUT = 2 -- the client's request timeout in every case
local CLIENT = { timeout = TIMEOUT, retry = { attempts = 3, base = 0.01, cap = 0.05 } }
-- Start-up of a fresh interpreter and the client, beside the call itself.
local SLACK = 1.5

local function find(lines, text)
  for _, l in ipairs(lines) do
    if l:find(text, 1, true) then return l end
  end
end

describe("wait_timeout bounds the call", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = { ecs = { { count = 30, name = "web-%d", status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    assert(fc:configure{ faults = {}, hostile = {}, job_duration = 0.05 })
    assert(fc:reset())
  end)

  it("poll_interval = 20 with wait_timeout = 3 returns after about 3 s, the servers seen stopped", function()
    -- The job ends just before the deadline: polls follow it (cloud.op.poll_plan), and the one
    -- due at the deadline still goes out and sees it ended.
    assert(fc:configure{ job_duration = 2.9 })
    local ids = env.ids("ecs", 1, 3)
    local r = assert(bounded.call(fc, CLIENT, "stop_ecs", { ids = ids, force = true, poll_interval = 20,
      wait_timeout = 3 }, 3 + TIMEOUT + 10))
    assert.is_true(r.took >= 2.9 and r.took <= 3 + TIMEOUT, ("took %.2fs"):format(r.took))
    -- The job ended long before; what was due at the deadline still went out and saw it.
    assert.is_true(r.res.ok, r.res.failed[1] and r.res.failed[1].message)
    assert.are.equal(3, #r.res.stopped)
    assert.are.equal(1, fc:stats().calls.action)
  end)

  it("poll_interval = 1e9 returns by the deadline; a job still running is reported so", function()
    assert(fc:configure{ job_duration = 1000 })
    local ids = env.ids("ecs", 4, 6)
    local r = assert(bounded.call(fc, CLIENT, "stop_ecs", { ids = ids, force = true, poll_interval = 1e9,
      wait_timeout = 2 }, 2 + TIMEOUT + 10))
    assert.is_true(r.took <= 2 + TIMEOUT, ("took %.2fs"):format(r.took))
    assert.are.equal(3, #r.res.failed)
    for _, f in ipairs(r.res.failed) do
      assert.are.equal("cloud.wait_timeout", f.code)
      assert.truthy(f.message:find("may yet stop", 1, true), f.message)
    end
    assert.are.equal(0, fc:stats().stop_requests.sent_more_than_once)
  end)

  it("a stop call queued behind others when the deadline comes is not sent, and says so", function()
    -- One call at a time, each answered after 1.5 s: of three calls, the first is under
    -- way at the 1 s deadline; the others are never sent.
    assert(fc:configure{ faults = { seed = 1, latency = 1.5, apply_to = { action = true, job = false,
      list = false } } })
    local ids = env.ids("ecs", 1, 2500)
    local r = assert(bounded.call(fc, { timeout = TIMEOUT, concurrency = 1 }, "stop_ecs",
      { ids = ids, force = true, poll_interval = 0.05, wait_timeout = 1 }, 1 + TIMEOUT + 10))
    assert.is_true(r.took <= 1 + TIMEOUT, ("took %.2fs"):format(r.took))
    local st = fc:stats()
    assert.are.equal(1, st.calls.action)
    local unsent, codes = 0, {}
    for _, f in ipairs(r.res.failed) do
      if f.message:find("^not sent") then unsent = unsent + 1 end
      codes[f.code] = (codes[f.code] or 0) + 1
    end
    assert.are.equal(1500, unsent, require("cjson").encode(codes))
    assert.are.equal(1500, codes["cloud.wait_timeout"])
    -- The first call's servers: stopped as the last look saw them, or unconfirmed when
    -- that look found no free connection (the one connection was busy with the call).
    assert.are.equal(1000, #r.res.stopped + (codes["cloud.unconfirmed"] or 0))
    assert.are.equal(2500, #r.res.stopped + #r.res.failed)
  end)

  it("a lost stop's grace (a minute by default) ends at the deadline: the server is not sent twice", function()
    -- The stop's answer is cut and the stop never happened: resending needs the grace,
    -- which is longer than the call may last.
    assert(fc:configure{ hostile = { mode = "reset_mid_body", perform = false,
      apply_to = { action = true, job = false, list = false } } })
    local ids = env.ids("ecs", 7, 8)
    local r = assert(bounded.call(fc, CLIENT, "stop_ecs", { ids = ids, force = true, poll_interval = 0.05,
      wait_timeout = 2 }, 2 + TIMEOUT + 10))
    assert.is_true(r.took >= 1.9 and r.took <= 2 + TIMEOUT, ("took %.2fs"):format(r.took))
    for _, f in ipairs(r.res.failed) do
      assert.are.equal("cloud.unconfirmed", f.code)
      assert.truthy(f.message:find("still untouched when wait_timeout ended", 1, true), f.message)
    end
    assert.are.equal(2, #r.res.failed)
    assert.are.equal(1, fc:stats().calls.action)
  end)

  it("a job poll failing with a long backoff returns by the deadline", function()
    -- Every poll is cut; its backoff grows towards a minute, the deadline cuts it.
    assert(fc:configure{ hostile = { mode = "reset_mid_body", apply_to = { action = false, job = true,
      list = false } } })
    local ids = env.ids("ecs", 9, 10)
    local r = assert(bounded.call(fc, { timeout = TIMEOUT, retry = { attempts = 1 } }, "stop_ecs",
      { ids = ids, force = true, poll_interval = 30, wait_timeout = 2 }, 2 + TIMEOUT + 10))
    assert.is_true(r.took <= 2 + TIMEOUT, ("took %.2fs"):format(r.took))
    -- The list answers honestly: the last look at the deadline finds them stopped.
    assert.are.same(ids, r.res.stopped)
  end)
end)

describe("Retry-After", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = { ecs = { { count = 30, name = "web-%d", status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    -- Every list call is throttled, asking to come back in three years.
    assert(fc:configure{ faults = { seed = 1, status = { [429] = 1 }, retry_after = 99999999,
      apply_to = { action = false, job = false, list = true } } })
    assert(fc:reset())
  end)

  it("of 99999999 on the list before a filter stop ends by wait_timeout, and the log shows the value", function()
    local r = assert(bounded.call(fc, { timeout = TIMEOUT, retry = { attempts = 6, base = 0.01, cap = 60 } },
      "stop_ecs", { filter = { name = "^web" }, wait_timeout = 3 }, 3 + TIMEOUT + 10))
    assert.is_true(r.took >= 2.9 and r.took <= 3 + TIMEOUT, ("took %.2fs"):format(r.took))
    assert.are.equal("APIGW.0308", r.err.code)
    local line = find(r.lines, "Retry-After: 99999999")
    assert.truthy(line, table.concat(r.lines, "\n"))
    -- The wait is the cap at most (60 s), cut short by the deadline.
    local wait = tonumber(line:match("^retry %d+/%d+ in ([%d.]+)s"))
    assert.is_true(wait <= 3, line)
    assert.are.equal(0, fc:stats().calls.action)
  end)

  it("of 99999999 on the protection-tag check before a stop by id: nothing sent, back by the deadline", function()
    local r = assert(bounded.call(fc, { timeout = TIMEOUT, retry = { attempts = 6, base = 0.01, cap = 60 } },
      "stop_ecs", { ids = env.ids("ecs", 1, 2), wait_timeout = 3 }, 3 + TIMEOUT + 10))
    assert.is_true(r.took <= 3 + TIMEOUT, ("took %.2fs"):format(r.took))
    assert.are.equal("APIGW.0308", r.res.error.code)
    assert.are.equal(2, #r.res.failed)
    assert.are.equal(0, fc:stats().calls.action)
  end)

  it("is capped at retry.cap on a list with no deadline (list_ecs)", function()
    local r = assert(bounded.call(fc, { timeout = TIMEOUT, retry = { attempts = 3, base = 0.01, cap = 0.3 } },
      "list_ecs", {}, 10))
    assert.is_true(r.took < 0.3 * 2 + SLACK, ("took %.2fs"):format(r.took))
    assert.are.equal("APIGW.0308", r.err.code)
    local waits = 0
    for _, l in ipairs(r.lines) do
      local d = l:match("^retry %d+/%d+ in ([%d.]+)s %(the cloud's Retry%-After: 99999999%)")
      if d then
        waits = waits + 1
        assert.is_true(tonumber(d) <= 0.3, l)
      end
    end
    assert.are.equal(2, waits)
    assert.are.equal(3, fc:stats().calls.list)
  end)
end)

describe("cloud-stop --wait-timeout", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = { ecs = { { count = 5, name = "web-%d", status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)

  it("with --poll-interval 20 --wait-timeout 3 ends after about 3 s (exit 0: the last look saw them stopped)",
    function()
    assert(fc:configure{ job_duration = 2.9 }) -- ends just before the deadline
    local argv = { "ecs", env.id("ecs", 1), env.id("ecs", 2), "--endpoint", fc.url, "--poll-interval", "20",
                   "--wait-timeout", "3", "--json" }
    local t0 = core.now()
    local r = cli.run(argv, { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk,
                              HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id }, { timeout = 3 + 30 + 10 })
    local took = core.now() - t0
    assert.are.equal(0, r.code, r.stderr)
    assert.is_true(took >= 2.9 and took <= 3 + SLACK + 1, ("took %.2fs"):format(took))
    assert.are.equal(2, #require("cjson").decode(r.stdout).stopped)
  end)
end)
