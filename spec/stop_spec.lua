-- Stopping ECS and BMS fleets against the local emulator: batching, jobs, per-server outcomes.
local env = require "support.cloudenv"
local cjson = require "cjson"
local stop = require "cloud.op.run"
local unpack = table.unpack or unpack

describe("stopping servers", function()
  local fc, client

  setup(function()
    fc = env.start{
      job_duration = 0.05,
      fleet = {
        ecs = { { count = 6500, name = "web-%04d", status = "ACTIVE" },
                { count = 20, name = "off-%d", status = "SHUTOFF" } },
        bms = { { count = 1200, name = "bm-%d", status = "ACTIVE" } },
      },
    }
    client = env.client(fc)
  end)

  teardown(function()
    if client then client:close() end
    if fc then fc:stop() end
  end)

  before_each(function() fc:reset() end)

  it("stops a few ECS servers and confirms each through its sub-job", function()
    local ids = env.ids("ecs", 1, 5)
    local res = client:stop_ecs{ ids = ids, poll_interval = 0.02 }
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    assert.are.same(ids, res.stopped)
    assert.are.equal(1, #res.jobs)
    assert.are.equal("SUCCESS", res.jobs[1].status)
    assert.are.same(ids, res.jobs[1].ids)
    for _, id in ipairs(ids) do assert.are.equal("SHUTOFF", fc:server(id).status) end
  end)

  it("stops a BMS fleet larger than one call (HARD, the only type)", function()
    local ids = env.ids("bms", 1, 1200)
    local res = client:stop_bms{ ids = ids, poll_interval = 0.02 }
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    assert.are.equal(2, #res.jobs)
    local stats = fc:stats()
    assert.are.equal(2, stats.calls.action)
    assert.are.equal(1200, stats.stop_requests.total)
    assert.are.equal(1200, stats.servers.bms.SHUTOFF)
  end)

  it("splits 6,500 ECS servers into calls of at most 1000 and sends each id once", function()
    local ids = env.ids("ecs", 1, 6500)
    local progress = {}
    local res = client:stop_ecs{ ids = ids, type = "HARD", poll_interval = 0.02,
      on_progress = function(e) progress[#progress + 1] = e end }
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    assert.are.equal(6500, #res.stopped)
    assert.are.equal(7, #res.jobs)
    for _, job in ipairs(res.jobs) do assert.is_true(#job.ids <= 1000) end
    local stats = fc:stats()
    assert.are.equal(7, stats.calls.action)
    assert.are.equal(6500, stats.stop_requests.total)
    assert.are.equal(0, stats.stop_requests.sent_more_than_once)
    assert.are.equal(0, stats.signature_failures)
    -- Connections are kept and reused; only each stop call opens its own (a POST must
    -- never be re-sent by libcurl on a reused connection that died).
    assert.is_true(stats.connections <= stats.calls.action + 8, "connections: " .. stats.connections)
    local last = progress[#progress]
    assert.are.equal(6500, last.total)
    assert.are.equal(6500, last.done)
  end)

  it("reuses connections for polling and listing", function()
    fc:configure{ job_duration = 1 }
    local res = client:stop_ecs{ ids = env.ids("ecs", 1, 3000), poll_interval = 0.01, force = true }
    fc:configure{ job_duration = 0.05 }
    assert.is_true(res.ok)
    local stats = fc:stats()
    -- More polls than the concurrency, over no more connections than it (plus one per stop call).
    assert.is_true(stats.calls.job > 8, "polls: " .. stats.calls.job)
    assert.is_true(stats.connections <= stats.calls.action + 8, "connections: " .. stats.connections)
  end)

  -- A client (options `opts`) whose transport is a stand-in before a real one, given
  -- through cloud.new's `transport` option: `over` replaces some of its methods (each gets
  -- the real transport first), the rest pass through. Returns the client and the real one.
  local function wrapped_client(opts, over)
    local stand_in, tr = env.stand_in(opts, over)
    opts.transport = stand_in
    return env.client(fc, opts), tr
  end

  -- What a stop (by client options `over` and stop options `stop`, 6,500 servers, not
  -- waited for) hands its transport, and when it lets the transport run.
  local function outstanding(over, stop_opts)
      local added, finished, most, order = 0, 0, 0, {}
      local c = wrapped_client(over, {
        add = function(t, ...)
          added = added + 1
          most = math.max(most, added - finished)
          order[#order + 1] = "add"
          return t:add(...)
        end,
        run = function(t, wait)
          order[#order + 1] = "run"
          local done = t:run(wait)
          finished = finished + (done and #done or 0)
          return done
        end,
      })
      fc:reset()
      local opts = { ids = env.ids("ecs", 1, 6500), wait = false, force = true }
      for k, v in pairs(stop_opts or {}) do opts[k] = v end
      local res = c:stop_ecs(opts)
      c:close()
      assert.is_true(res.ok)
      assert.are.equal(7, fc:stats().calls.action)
      return most, fc:stats().max_in_flight, order
  end

  it("never has more calls in flight than the concurrency; as many again wait signed in the transport", function()
    fc:configure{ faults = { latency = 0.05 } }
    finally(function() fc:configure{ faults = {} } end)
    -- A pace given (far above what these calls need): stop calls open up at once.
    local paced = { servers_per_minute = 1e9 }
    local most, at_cloud, order = outstanding({ concurrency = 2 }, paced)
    assert.are.equal(4, most) -- two in flight, two signed ahead
    assert.are.equal(2, at_cloud)
    -- The first two leave before the two ahead are made.
    assert.are.same({ "add", "add", "run", "add", "add" }, { unpack(order, 1, 5) })
    -- A call signed long before it leaves could outlive its date (15 minutes at the
    -- gateway): with timeouts over 5 minutes, nothing is signed ahead.
    most, at_cloud = outstanding({ concurrency = 2, timeout = 301 }, paced)
    assert.are.equal(2, most)
    assert.are.equal(2, at_cloud)
  end)

  it("with no pace given, sends the first stop call alone and opens up as calls are accepted", function()
    fc:configure{ faults = { latency = 0.05 } }
    finally(function() fc:configure{ faults = {} } end)
    local _, at_cloud, order = outstanding{ concurrency = 4 }
    -- One call, its answer, then two; then more as they are accepted, up to the concurrency.
    assert.are.same({ "add", "run", "add", "add", "run" }, { unpack(order, 1, 5) })
    assert.are.equal(4, at_cloud)
  end)

  it("sends nothing more for an operation that raised, not even what was signed ahead", function()
    -- The operation breaks at its second turn of the transport: by then two calls are
    -- under way and two more signed ahead, queued behind them.
    local runs = 0
    local c, tr = wrapped_client({ concurrency = 2 }, { run = function(t, wait)
      runs = runs + 1
      if runs == 2 then
        assert.are.same({ 2, 2 }, { t:pending() })
        error("broken on purpose")
      end
      return t:run(wait)
    end })
    local ok, err = pcall(c.stop_ecs, c, { ids = env.ids("ecs", 1, 4000), wait = false, force = true,
                                           servers_per_minute = 1e9 }) -- no slow start: all four at once
    assert.is_false(ok)
    assert.truthy(tostring(err):find("broken on purpose", 1, true))
    assert.are.same({ 2, 0 }, { tr:pending() }) -- the two under way stay; those ahead are gone
    -- The next operation on the same client sends its own call only; the two already
    -- under way finish on its turns of the engine (their answers belong to nobody).
    local res = c:stop_ecs{ ids = { env.id("ecs", 5000) }, wait = false, force = true }
    while tr:pending() > 0 do tr:run(0.1) end
    c:close()
    assert.is_true(res.ok)
    assert.are.equal(3, fc:stats().calls.action)
    assert.are.equal(2001, fc:stats().stop_requests.total)
  end)

  it("sends duplicates once and counts distinct ids", function()
    local a, b = env.id("ecs", 1), env.id("ecs", 2)
    local res = client:stop_ecs{ ids = { a, b, a, a, b }, poll_interval = 0.02 }
    env.assert_ledger(res, { a, b })
    assert.are.equal(2, res.requested)
    assert.are.same({ a, b }, res.stopped)
    assert.are.equal(2, fc:stats().stop_requests.total)
  end)

  it("reports a server already SHUTOFF as skipped ('already SHUTOFF'), not failed: the stop is idempotent", function()
    local off = env.id("ecs", 6501) -- the first of the SHUTOFF group
    local on = env.id("ecs", 1)
    local res = client:stop_ecs{ ids = { on, off }, poll_interval = 0.02 }
    env.assert_ledger(res, { on, off })
    assert.is_true(res.ok)
    assert.are.same({ on }, res.stopped)
    assert.are.same({ { id = off, status = "SHUTOFF", reason = "already SHUTOFF" } }, res.skipped)
    assert.are.equal("FAIL", res.jobs[1].status) -- the cloud refused that server's sub-job (Ecs.0100)
    -- The same stop again: everything is off, nothing fails.
    res = client:stop_ecs{ ids = { on, off }, poll_interval = 0.02 }
    env.assert_ledger(res, { on, off })
    assert.is_true(res.ok)
    assert.are.same({}, res.failed)
    assert.are.equal(2, #res.skipped)
  end)

  it("keeps the cloud's refusal when a server refused with Ecs.0100 is not in the wanted state", function()
    -- A server already being stopped is refused (Ecs.0100) but is not SHUTOFF yet: looked at
    -- again until its task ends, then SHUTOFF: already.
    local id = env.id("ecs", 2)
    assert(fc:configure{ job_duration = 0.5 })
    require("fakecloud.client").for_emulator(fc):stop("ecs", { id })
    local res = client:stop_ecs{ ids = { id }, poll_interval = 0.02 }
    assert(fc:configure{ job_duration = 0.02 })
    env.assert_ledger(res, { id })
    assert.is_true(res.ok, res.failed[1] and res.failed[1].code)
    assert.are.equal("already SHUTOFF", res.skipped[1].reason)
  end)

  it("keeps the good servers of a FAIL job and fails the unknown one", function()
    local ids = { env.id("ecs", 1), "00000000-dead-4000-a000-000000000000", env.id("ecs", 2) }
    local res = client:stop_ecs{ ids = ids, poll_interval = 0.02 }
    env.assert_ledger(res, ids)
    assert.are.same({ ids[1], ids[3] }, res.stopped)
    assert.are.equal("Ecs.0114", res.failed[1].code)
  end)

  it("reports accepted servers as stopped without waiting when wait = false", function()
    local ids = env.ids("ecs", 10, 19)
    local res = client:stop_ecs{ ids = ids, wait = false }
    env.assert_ledger(res, ids)
    assert.is_true(res.ok)
    assert.are.equal("SUBMITTED", res.jobs[1].status) -- nobody polled it
    assert.are.equal(0, fc:stats().calls.job)
  end)

  it("fails servers whose job outlives wait_timeout, saying the job still runs", function()
    fc:configure{ job_duration = 30 }
    local ids = env.ids("ecs", 20, 22)
    -- wait_timeout bounds the whole call: under valgrind with the collector made aggressive
    -- the stop call's own answer took more than 4 s late in the suite (CI), so 10 s.
    local res = client:stop_ecs{ ids = ids, poll_interval = 0.05, wait_timeout = 10 }
    fc:configure{ job_duration = 0.05 }
    env.assert_ledger(res, ids)
    assert.is_false(res.ok)
    for _, f in ipairs(res.failed) do
      assert.are.equal("cloud.wait_timeout", f.code, f.message)
      assert.truthy(f.message:find(res.jobs[1].job_id, 1, true))
    end
    assert.truthy(res.jobs[1].status == "RUNNING" or res.jobs[1].status == "INIT")
  end)

  it("puts a wrong SK's APIGW.0301 in failed with the request id, sent once", function()
    local bad = env.client(fc, { sk = "WRONGSK0000000000000000000000000000000000" })
    local ids = env.ids("ecs", 30, 31)
    local res = bad:stop_ecs{ ids = ids, poll_interval = 0.02 }
    bad:close()
    env.assert_ledger(res, ids)
    for _, f in ipairs(res.failed) do
      assert.are.equal("APIGW.0301", f.code)
      assert.are.equal(401, f.status)
      assert.matches("^%x+$", f.request_id)
      assert.is_nil(f.message:find("WRONGSK", 1, true))
    end
    local stats = fc:stats()
    assert.are.equal(1, stats.calls.total)
    assert.are.equal(0, stats.stop_requests.total)
  end)

  it("takes a job id only as a plain token: never a dot segment, a '/' or a '%'", function()
    for _, id in ipairs({ "ff80808288d41e1b0188d4cbdbd80c1f", "4010b39d-1b8c-4b3d-9d3a-1f1e2d3c4b5a", "a.b",
                          "job_1" }) do
      assert.is_true(stop.plain_job_id(id), id)
    end
    for _, id in ipairs({ ".", "..", "...", ".a", "a..b", "a/b", "a%2e", "%2e%2e", "a b", "a\0b", "é",
                          ("x"):rep(129) }) do
      assert.is_false(stop.plain_job_id(id), id)
    end
  end)

  it("fails loudly, never ok, when the ids array is changed during the stop", function()
    local errors = require "cloud.errors"
    -- Emptied after the first call's answer: one call at a time, so the third batch is
    -- made afterwards, from the changed array.
    local one = env.client(fc, { concurrency = 1 })
    local ids = env.ids("ecs", 1, 3000)
    local ok, err = pcall(one.stop_ecs, one, { ids = ids, poll_interval = 0.02, force = true,
      on_progress = function(e)
        if e.phase == "submit" then for i = 1001, 3000 do ids[i] = nil end end
      end })
    one:close()
    assert.is_false(ok, "returned a result")
    assert.are.equal("argument", errors.kind(err), tostring(err))
    assert.are.equal("ids", err.field)
    assert.truthy(err.message:find("changed while in use", 1, true), err.message)
    assert.is_true(#err.jobs >= 1) -- the stops the cloud accepted are not lost
    -- Changed while waiting, after every call went out: noticed when the result is made.
    fc:reset()
    ids = env.ids("ecs", 1, 3000)
    local changed = false
    ok, err = pcall(client.stop_ecs, client, { ids = ids, poll_interval = 0.02, force = true,
      on_progress = function(e)
        if e.phase == "wait" and not changed then changed, ids[7] = true, "someone-else" end
      end })
    assert.is_true(changed)
    assert.is_false(ok, "returned a result")
    assert.are.equal("ids", err.field)
    assert.truthy(tostring(err):find("ids[7] is not the id it was", 1, true), tostring(err))
    assert.are.equal(3, #err.jobs)
  end)

  it("raises on argument mistakes before sending anything", function()
    local function raises(fn, text)
      local ok, err = pcall(fn)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(text, 1, true), tostring(err))
    end
    raises(function() client:stop_ecs{ ids = { "a", 42 } } end, "option 'ids[2]' must be a non-empty string")
    raises(function() client:stop_ecs{ ids = { "a", "" } } end, "option 'ids[2]' must be a non-empty string")
    raises(function() client:stop_ecs{} end, "give 'ids' (an array of server ids) or 'filter'")
    raises(function() client:stop_ecs{ ids = "a" } end, "option 'ids' must be an array")
    raises(function() client:stop_ecs{ ids = { x = "a" } } end, "option 'ids' must be an array (found key x)")
    raises(function() client:stop_ecs{ ids = { "a", nil, "b" } } end, "ids")
    raises(function() client:stop_bms{ ids = { "a" }, type = "SOFT" } end, "option 'type' must be one of HARD")
    raises(function() client:stop_ecs{ ids = { "a" }, type = "soft" } end, "option 'type' must be one of SOFT, HARD")
    raises(function() client:stop_ecs{ ids = { "a" }, colour = 1 } end, "option 'colour' is unknown")
    raises(function() client:stop_ecs{ ids = { "a" }, poll_interval = -1 } end,
      "option 'poll_interval' must be at least 0")
    raises(function() client:stop_ecs{ ids = { "a" }, wait = "yes" } end, "option 'wait' must be true or false")
    raises(function() client.stop_ecs{ ids = { "a" } } end, "call it with ':'")
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("never shows the SK in tostring(client)", function()
    local s = tostring(client)
    assert.is_nil(s:find(fc.sk, 1, true))
    assert.truthy(s:find(fc.project_id, 1, true))
  end)
end)

describe("the ledger", function()
  local ledger = require "cloud.op.ledger"

  it("gives each id one outcome, the first, and reports the rest unconfirmed", function()
    local l = ledger.new({ "a", "b", "c" })
    l:stopped("a")
    l:failed("a", { code = "X", message = "late" })
    l:failed("b", { code = "Ecs.0100", message = "off" })
    l:stopped("b")
    l:stopped("zzz") -- not asked for: ignored
    local res = l:finish()
    assert.are.same({ "a" }, res.stopped)
    assert.are.same({ "b", "c" }, { res.failed[1].id, res.failed[2].id })
    assert.are.equal("Ecs.0100", res.failed[1].code)
    assert.are.equal("cloud.unconfirmed", res.failed[2].code)
    assert.are.equal(3, res.requested)
  end)
end)

describe("request bodies", function()
  it("match the API reference's example requests (modulo key order)", function()
    local examples = cjson.decode(require("support.fixtures").read("stop-request-examples.json"))
    local ids = { "616fb98f-46ca-475e-917e-2563e5a8cd19", "726fb98f-46ca-475e-917e-2563e5a8cd20" }
    assert.are.same(examples.ecs, cjson.decode(stop.stop_body(ids, "HARD")))
    assert.are.same(examples.bms, cjson.decode(stop.stop_body(ids, "HARD")))
  end)

  it("escape ids that JSON cannot take as they are", function()
    local ids = { 'a"b', "c\\d", "plain-1", "é" }
    assert.are.same({ ["os-stop"] = { type = "SOFT", servers = { { id = ids[1] }, { id = ids[2] }, { id = ids[3] },
      { id = ids[4] } } } }, cjson.decode(stop.stop_body(ids, "SOFT")))
  end)

  it("are byte for byte the signed vector's body", function()
    local vectors = require "support.vectors"
    for _, v in ipairs(vectors.load()) do
      if v.name == "ecs_stop_seed_hard" then
        assert.are.equal(v.body, stop.stop_body({ "616fb98f-46ca-475e-917e-2563e5a8cd19",
          "726fb98f-46ca-475e-917e-2563e5a8cd20" }, "HARD"))
      end
    end
  end)
end)
