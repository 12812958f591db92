-- The client against the emulator's models of the ECS reference (docs/reference/ECS-BMS.md;
-- tools/fakecloud: flow_control, refusals, job_init, job_hold, sub-job errors): flow control
-- as a throttle, idempotent stops, sub-job errors kept, jobs that pass through INIT, the
-- minimum delay of Ecs.0603, and every row of cloud.classify's table as the client sees it.
-- Real HTTP on 127.0.0.1.
local env = require "support.cloudenv"
local cjson = require "cjson"
local classify = require "cloud.classify"
local core = require "cloud.core"
local ledger = require "cloud.op.ledger"

local ACTIVE, OFF, LOCKED, BROKEN = 18000, 60, 3, 3
local UNKNOWN = "00000000-dead-4000-a000-000000000000"

local function first_off() return ACTIVE + 1 end
local function first_locked() return ACTIVE + OFF + 1 end
local function first_broken() return ACTIVE + OFF + LOCKED + 1 end

describe("the client against the reference's behaviours", function()
  local fc

  setup(function()
    fc = env.start{
      job_duration = 0.05,
      fleet = { ecs = {
        { count = ACTIVE, name = "web-%d", status = "ACTIVE" },
        { count = OFF, name = "off-%d", status = "SHUTOFF" },
        { count = LOCKED, name = "locked-%d", status = "ACTIVE", locked = true },
        { count = BROKEN, name = "broken-%d", status = "ERROR" },
      }, bms = { { count = 4 } } },
    }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function()
    assert(fc:configure{ flow_control = {}, refusals = {}, job_duration = 0.05, job_init = cjson.null,
                         job_hold = cjson.null, faults = {}, transient_fail = { rate = 0 } })
    assert(fc:reset())
  end)

  -- A stop by id with a fresh client; returns the result, the log lines and the seconds it took.
  local function stop(ids, opts, client_opts)
    local lines = {}
    local co = { logger = function(l) lines[#lines + 1] = l end }
    for k, v in pairs(client_opts or {}) do co[k] = v end
    local client = env.client(fc, co)
    local o = { ids = ids, poll_interval = 0.02 }
    for k, v in pairs(opts or {}) do o[k] = v end
    local t0 = core.now()
    local res = client:stop_ecs(o)
    local took = core.now() - t0
    client:close()
    return res, lines, took
  end

  describe("flow control", function()
    it("stops 18,000 servers through a budget of 2000 a second: all stopped, none sent twice, no lookups", function()
      assert(fc:configure{ flow_control = { budget = 2000, window = 1 } })
      local ids = env.ids("ecs", 1, ACTIVE)
      local res, lines = stop(ids, { wait_timeout = 120 })
      env.assert_ledger(res, ids)
      assert.is_true(res.ok, res.failed[1] and (res.failed[1].code .. " " .. res.failed[1].message))
      assert.are.equal(ACTIVE, #res.stopped)
      local st = fc:stats()
      assert.are.equal(ACTIVE, st.stop_requests.total)
      assert.are.equal(0, st.stop_requests.sent_more_than_once)
      assert.are.equal(ACTIVE, st.servers.ecs.SHUTOFF - OFF)
      -- Flow control was met, and answered as a throttle: logged, sent again, never looked up.
      local refused = st.refused["Common.0024"] or 0
      assert.is_true(refused >= 1, "no flow control met")
      assert.is_true(refused <= st.calls.action / 4, ("%d of %d stop calls refused"):format(refused, st.calls.action))
      assert.are.equal(1, st.calls.list) -- the protection tag, once
      local throttled = 0
      for _, l in ipairs(lines) do
        if l:find("^throttled: POST stop 1000 ecs servers: Common.0024") then throttled = throttled + 1 end
      end
      assert.are.equal(refused, throttled)
    end)

    it("treats 429 APIGW.0308 and 503 Common.1503 as flow control too, with a given servers_per_minute", function()
      for _, code in ipairs({ "APIGW.0308", "Common.1503" }) do
        assert(fc:configure{ refusals = { [code] = 1, limit = 2 } })
        assert(fc:reset())
        local ids = env.ids("ecs", 1, 3000)
        local res = stop(ids, { servers_per_minute = 600000, force = true })
        env.assert_ledger(res, ids)
        assert.is_true(res.ok)
        local st = fc:stats()
        assert.are.equal(2, st.refused[code])
        assert.are.same({ 5, 0, 3000 }, { st.calls.action, st.calls.list, st.stop_requests.total })
      end
    end)

    it("keeps to servers_per_minute: calls of 1000 at 120,000 a minute go half a second apart", function()
      local ids = env.ids("ecs", 1, 3000)
      local res, _, took = stop(ids, { servers_per_minute = 120000, force = true, wait = false })
      assert.is_true(res.ok)
      assert.is_true(took >= 2 * 0.5 - 0.05, took) -- three calls: at 0, 0.5 and 1 s
      assert.is_true(took < 2, took)
    end)

    it("fails a batch the cloud refuses until wait_timeout with the cloud's code, never sent", function()
      assert(fc:configure{ refusals = { ["Common.0024"] = 1 } })
      local ids = env.ids("ecs", 1, 5)
      local res = stop(ids, { wait_timeout = 0.6, force = true })
      env.assert_ledger(res, ids)
      assert.are.equal(5, #res.failed)
      for _, f in ipairs(res.failed) do
        assert.are.equal("Common.0024", f.code)
        assert.are.equal(202, f.status)
      end
      local st = fc:stats()
      assert.are.equal(0, st.stop_requests.total)
      assert.are.equal(0, st.calls.list) -- never accepted: nothing to look up
      assert.is_true(st.calls.action >= 2 and st.calls.action <= 8, st.calls.action) -- waited, not hammered
    end)
  end)

  describe("stopping is idempotent", function()
    it("150 ACTIVE and 50 SHUTOFF by id end ok; the same stop again ends ok with 0 failed", function()
      local ids = env.ids("ecs", 1, 150)
      for _, id in ipairs(env.ids("ecs", first_off(), first_off() + 49)) do ids[#ids + 1] = id end
      local res = stop(ids)
      env.assert_ledger(res, ids)
      assert.is_true(res.ok)
      assert.are.equal(150, #res.stopped)
      assert.are.equal(0, #res.failed)
      assert.are.equal(50, #res.skipped)
      for _, s in ipairs(res.skipped) do
        assert.are.equal("already SHUTOFF", s.reason)
        assert.are.equal("SHUTOFF", s.status)
      end
      local again = stop(ids)
      env.assert_ledger(again, ids)
      assert.is_true(again.ok)
      assert.are.same({ 0, 0, 200 }, { #again.failed, #again.stopped, #again.skipped })
      assert.are.equal(200, fc:stats().stop_requests.sent_more_than_once) -- each sent once in each run
    end)

    it("waits for a server another stop is powering off, then counts it already off", function()
      assert(fc:configure{ job_duration = 0.5 })
      local id = env.id("ecs", 42)
      local c = env.client(fc)
      assert.is_true(c:stop_ecs{ ids = { id }, wait = false, force = true }.ok) -- someone else's stop
      c:close()
      local res = stop({ id }, { poll_interval = 0.05, force = true })
      assert.is_true(res.ok)
      assert.are.same({}, res.stopped)
      assert.are.same({ { id = id, status = "SHUTOFF", reason = "already SHUTOFF" } }, res.skipped)
    end)
  end)

  describe("sub-job errors", function()
    it("fails an unknown id alone, with Ecs.0114, the cloud's message and errorcode_message", function()
      local ids = { env.id("ecs", 1), UNKNOWN, env.id("ecs", 2) }
      local res = stop(ids)
      env.assert_ledger(res, ids)
      assert.are.same({ ids[1], ids[3] }, res.stopped)
      assert.are.equal(1, #res.failed)
      local f = res.failed[1]
      assert.are.same({ UNKNOWN, "Ecs.0114" }, { f.id, f.code })
      assert.are.equal("server " .. UNKNOWN .. " does not exist", f.message)
      assert.are.equal("Ecs.0114: server " .. UNKNOWN .. " does not exist", f.errorcode_message)
      assert.matches("^%x+$", f.request_id)
    end)

    it("looks up a call refused as a whole for one server: unknown fails, off is already, the rest go again",
      function()
      -- The first stop call is answered 404 Ecs.0114 (about some server of it, the
      -- reference does not say which): nothing was accepted.
      assert(fc:configure{ refusals = { ["Ecs.0114"] = 1, limit = 1 } })
      local on, off = env.id("ecs", 8), env.id("ecs", first_off() + 1)
      local ids = { on, UNKNOWN, off }
      local res = stop(ids)
      env.assert_ledger(res, ids)
      assert.are.same({ on }, res.stopped)
      assert.are.same({ { id = off, status = "SHUTOFF", reason = "already SHUTOFF" } }, res.skipped)
      assert.are.same({ UNKNOWN, "Ecs.0114" }, { res.failed[1].id, res.failed[1].code })
      local st = fc:stats()
      assert.are.same({ 2, 0 }, { st.calls.action, st.stop_requests.sent_more_than_once })
    end)

    it("reads a FAIL job's mixed sub-jobs server by server", function()
      local on, off = env.id("ecs", 7), env.id("ecs", first_off())
      local locked, broken = env.id("ecs", first_locked()), env.id("ecs", first_broken())
      local ids = { on, off, UNKNOWN, locked, broken }
      local res = stop(ids)
      env.assert_ledger(res, ids)
      assert.is_false(res.ok)
      assert.are.equal("FAIL", res.jobs[1].status)
      assert.are.same({ on }, res.stopped)
      assert.are.same({ { id = off, status = "SHUTOFF", reason = "already SHUTOFF" } }, res.skipped)
      local by = {}
      for _, f in ipairs(res.failed) do by[f.id] = f end
      assert.are.equal("Ecs.0114", by[UNKNOWN].code)
      assert.are.equal("Ecs.0605", by[locked].code)
      -- A state that forbids the stop and is not the wanted one stays a failure, with the cloud's code.
      assert.are.equal("Ecs.0100", by[broken].code)
      assert.are.equal("server " .. broken .. " is ERROR, cannot stop", by[broken].message)
      assert.are.equal("ERROR", fc:server(broken).status)
    end)

    it("sends a server whose sub-job said Ecs.0603 again, not sooner than the minimum delay", function()
      local ids = env.ids("ecs", 1, 4)
      assert(fc:configure{ transient_fail = { ids = { ids[2] } } })
      local res, _, took = stop(ids, nil, { retry = { attempts = 3, base = 0.01, cap = 0.05, later = 0.5 } })
      assert.is_true(res.ok)
      assert.is_true(took >= 0.5, took)
      assert.are.same({ 5, 1 }, { fc:stats().stop_requests.total, fc:stats().stop_requests.sent_more_than_once })
    end)
  end)

  describe("jobs", function()
    -- The statuses the ledger read from each job answer, in order.
    local function watching(fn)
      local Ledger = getmetatable(ledger.new({})).__index
      local apply, seen = Ledger.apply_job, {}
      Ledger.apply_job = function(self, body, b)
        local v, why = apply(self, body, b)
        if v and seen[#seen] ~= v.status then seen[#seen + 1] = v.status end
        return v, why
      end
      local ok, e = pcall(fn)
      Ledger.apply_job = apply
      assert(ok, e)
      return seen
    end

    it("pass through INIT, then RUNNING, and count only once they end", function()
      assert(fc:configure{ job_duration = 0.6, job_init = 0.25 })
      local res, took, _
      local seen = watching(function() res, _, took = stop({ env.id("ecs", 9) }, { poll_interval = 0.05 }) end)
      assert.is_true(res.ok)
      assert.are.same({ "INIT", "RUNNING", "SUCCESS" }, seen)
      assert.are.equal("SUCCESS", res.jobs[1].status)
      assert.is_true(took >= 0.6, took)
    end)

    it("are confirmed soon after they end at the default poll_interval, and the stop returns then", function()
      -- Five jobs of a second: the oldest polled closely, the others once at the age it ended at;
      -- a fixed 5 s poller would return after 5 s, and a poll planned for later must not hold it.
      assert(fc:configure{ job_duration = 1 })
      local ids = env.ids("ecs", 1, 5000)
      local res, _, took = stop(ids, { poll_interval = 5, force = true })
      assert.is_true(res.ok)
      assert.is_true(took >= 1 and took < 2.5, took)
      assert.is_true(fc:stats().calls.job <= 5 + 3, fc:stats().calls.job)
    end)

    it("report a status the reference does not list as the cloud gave it, and wait through it", function()
      assert(fc:configure{ job_hold = { status = "PENDING_PAYMENT", seconds = 0.3 } })
      local res, lines
      local seen = watching(function() res, lines = stop({ env.id("ecs", 10) }, { poll_interval = 0.05 }) end)
      assert.is_true(res.ok)
      assert.are.equal("PENDING_PAYMENT", seen[1])
      assert.are.equal("SUCCESS", seen[#seen])
      local said = false
      for _, l in ipairs(lines) do
        said = said or (l:find("reports status PENDING_PAYMENT", 1, true) and l:find("not ended", 1, true)) ~= nil
      end
      assert.is_true(said)
      -- Still held at wait_timeout: the job's status is what the cloud said, and so is the failure.
      assert(fc:configure{ job_hold = { status = "PENDING_PAYMENT", seconds = 30 } })
      local id = env.id("ecs", 11)
      res = stop({ id }, { poll_interval = 0.05, wait_timeout = 2 })
      assert.are.equal("PENDING_PAYMENT", res.jobs[1].status)
      assert.are.equal("cloud.wait_timeout", res.failed[1].code)
      assert.truthy(res.failed[1].message:find("still PENDING_PAYMENT", 1, true), res.failed[1].message)
    end)
  end)

  describe("every row of the classification table, as a stop call's answer", function()
    -- The first stop call is refused with the row's code at the status the reference gives it;
    -- what the client does next is the row's class.
    local function refused_once(code)
      assert(fc:configure{ refusals = { [code] = 1, limit = 1 } })
      assert(fc:reset())
      local ids = env.ids("ecs", 1, 3)
      local res, lines, took = stop(ids, { force = true },
        { retry = { attempts = 3, base = 0.01, cap = 0.05, later = 0.3 } })
      env.assert_ledger(res, ids)
      return res, fc:stats(), lines, took
    end

    for _, row in ipairs(classify.rows) do
      local code, class, scope = row.code, row.class, row.scope
      it(("%s (HTTP %s): %s"):format(code, row.http, class), function()
        local res, st, lines, took = refused_once(code)
        assert.are.equal(1, st.refused[code])
        if class == "permanent" and scope == "call" then
          -- Never sent again; every server fails with the cloud's code and status.
          assert.are.equal(1, st.calls.action)
          assert.are.equal(3, #res.failed)
          for _, f in ipairs(res.failed) do assert.are.equal(code, f.code) end
          assert.are.equal(0, st.calls.list)
          return
        end
        -- Every other row ends with the servers stopped, sent once to be accepted.
        assert.is_true(res.ok, res.failed[1] and res.failed[1].code)
        assert.are.same({ 2, 3, 0 }, { st.calls.action, st.stop_requests.total, st.stop_requests.sent_more_than_once })
        if class == "throttled" or class == "retry" or class == "retry_later" then
          assert.are.equal(0, st.calls.list) -- the call was not accepted, and the answer says so: no lookup
        else
          -- Refused for some of its servers (done, or per server): which, a lookup tells.
          assert.is_true(st.calls.list >= 1)
        end
        if class == "retry_later" then assert.is_true(took >= 0.3, took) end -- not sooner than `later`
        local logged = false
        for _, l in ipairs(lines) do logged = logged or l:find(code, 1, true) ~= nil end
        assert.is_true(logged or scope == "server")
      end)
    end
  end)
end)
