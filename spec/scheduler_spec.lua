-- The scheduler built from what it works with ({ transport, sign, policy, clock, log }),
-- with no client: against the emulator, through its real HTTP engine and signer.
local env = require "support.cloudenv"
local core = require "cloud.core"
local clock_mod = require "cloud.net.clock"
local retry = require "cloud.net.retry"
local scheduler = require "cloud.net.scheduler"

describe("the scheduler", function()
  local fc

  setup(function()
    fc = env.start{ fleet = { ecs = { { count = 3, status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    fc:configure{ faults = { seed = 1 }, clock_skew = 0 }
    fc:reset()
  end)

  -- A scheduler of its own engine, a signer over the emulator's keys, and `clock`.
  local function make(clock, lines, attempts)
    local engine = core.http{ concurrency = 2 }
    local sk = core.secret(fc.sk)
    local host = fc.url:match("^https?://([^/]+)")
    local sched = scheduler.new{
      transport = engine,
      sign = function(call)
        local headers, path, query = core.sign_for_sending{ method = call.method, host = host, path = call.path,
          query = call.query, headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = fc.project_id },
          body = call.body, ak = fc.ak, sk = sk, date = clock:date() }
        return { url = fc.url .. path .. (query ~= "" and "?" .. query or ""), headers = headers }
      end,
      policy = { concurrency = 2, timeout = 5, attempts = attempts or 3, base = 0.01, cap = 0.02 },
      clock = clock,
      log = function(line) lines[#lines + 1] = line end,
    }
    return sched, function() engine:close(); sk:close() end
  end

  local function list(sched)
    local got
    sched:request({ service = "ecs", method = "GET", idempotent = true, query = { limit = 1 },
      path = ("/v1/%s/cloudservers/detail"):format(fc.project_id), label = "list" }, function(r) got = r end)
    sched:run()
    return got
  end

  it("signs with the clock it is given, and moves that clock once when the cloud's is far off", function()
    fc:configure{ clock_skew = 1200 }
    local clock, lines = clock_mod.new(), {}
    local sched, close = make(clock, lines)
    local r = list(sched)
    close()
    assert.is_true(r.ok, tostring(r.err))
    assert.are.equal(2, r.attempts)
    assert.is_true(math.abs(clock.offset - 1200) < 5, tostring(clock.offset))
    assert.are.equal(1, #lines)
    assert.truthy(lines[1]:find("^clock: the cloud's clock is %+1[12]%d%d s from ours; "
      .. "signing again with its time %(list%)$"), lines[1])
    assert.are.equal(1, fc:stats().signature_failures)
  end)

  it("retries what the policy allows, logging each retry and the failure, then gives up", function()
    fc:configure{ faults = { seed = 1, status = { [503] = 1 }, retry_after = 0 } }
    local lines = {}
    local sched, close = make(clock_mod.new(), lines, 3)
    local r = list(sched)
    close()
    assert.is_false(r.ok)
    assert.are.same({ 3, 503 }, { r.attempts, r.status })
    assert.are.equal(3, #lines)
    assert.truthy(lines[1]:find("^retry 1/2 in "), lines[1])
    assert.truthy(lines[2]:find("^retry 2/2 in "), lines[2])
    assert.truthy(lines[3]:find("^failed after 3 attempt%(s%): GET list: "), lines[3])
  end)
end)

describe("core.http drop_queued", function()
  it("drops the requests not started and returns their ids, so a caller can take their calls back", function()
    local engine = core.http{ concurrency = 1, timeout = 2, connect_timeout = 1 }
    for id = 1, 3 do engine:add(id, "GET", "http://127.0.0.1:1/", {}) end
    engine:run(0) -- starts the first, the only one a slot allows
    local n, ids = engine:drop_queued()
    assert.are.equal(2, n)
    assert.are.same({ 2, 3 }, ids)
    assert.are.same({ 1, 0 }, { engine:pending() })
    local done = {}
    for _ = 1, 50 do
      for _, r in ipairs(engine:run(0.1) or {}) do done[#done + 1] = r.id end
      if #done > 0 then break end
    end
    assert.are.same({ 1 }, done)
    assert.are.same({ 0, { } }, { engine:drop_queued() })
    engine:close()
  end)
end)

describe("retry.next_step", function()
  local policy = { attempts = 3, base = 0, cap = 0 }

  it("signs again once for a 401 whose clock is far from ours, never for a near one", function()
    local tries = { attempts = 1, resigned = false }
    assert.are.equal("resign", retry.next_step(policy, tries, { status = 401 }, -700))
    assert.are.equal("done", retry.next_step(policy, tries, { status = 401 }, 599))
    assert.are.equal("done", retry.next_step(policy, tries, { status = 403 }, 900))
    tries.resigned = true
    assert.are.equal("done", retry.next_step(policy, tries, { status = 401 }, 900))
  end)

  it("retries a retryable answer until the attempts are spent", function()
    assert.are.same({ "retry", 0 }, { retry.next_step(policy, { attempts = 2 }, { retry = true }) })
    assert.are.equal("done", retry.next_step(policy, { attempts = 3 }, { retry = true }))
    assert.are.equal("done", retry.next_step(policy, { attempts = 1 }, { retry = false }))
  end)
end)
