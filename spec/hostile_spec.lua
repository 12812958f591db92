-- Hostile or broken servers (the emulator's `hostile` config): oversized, endless,
-- garbled, oddly shaped, truncated and trickling answers. Whatever comes back, every
-- server ends exactly once in the result, true to the emulator, with a code that names
-- the problem; nothing hangs past the timeouts and no stop is sent twice.
local env = require "support.cloudenv"
local core = require "cloud.core"
local fcclient = require "fakecloud.client"

local TIMEOUT = 1
local MIB = 1024 * 1024

local ACTION = { action = true, job = false, list = false }
local JOB = { action = false, job = true, list = false }

-- The code each mode must produce when it breaks a call.
local CODE = {
  oversize = "cloud.response_too_large", invalid_json = "cloud.bad_response",
  bad_content_length = "cloud.connection_dropped", reset_mid_body = "cloud.connection_dropped",
  endless = "cloud.timeout", slowloris = "cloud.timeout", wrong_shape = "cloud.bad_response",
}
-- Modes that only end when the client's total timeout fires.
local SLOW = { endless = true, slowloris = true }

local MODES = {
  { mode = "oversize", bytes = 2 * MIB },
  { mode = "invalid_json" },
  { mode = "bad_content_length" },
  { mode = "reset_mid_body" },
  { mode = "endless" },
  { mode = "slowloris", interval = 0.2 },
  { mode = "wrong_shape", shape = "numbers_for_strings" },
}

local function name(h) return h.mode .. (h.shape and ("/" .. h.shape) or "") end

local function with(h, extra)
  local t = {}
  for k, v in pairs(h) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end

describe("hostile servers", function()
  local fc

  setup(function()
    fc = env.start{ job_duration = 0.05,
      fleet = { ecs = { { count = 1600, status = "ACTIVE" } }, bms = { { count = 4, status = "ACTIVE" } } } }
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function() fc:reset() end)

  -- Stops ids against the configured hostility; returns result, seconds, log lines.
  local function run(kind, ids, opts, client_over)
    local lines = {}
    local over = { timeout = TIMEOUT, max_response = MIB, logger = function(l) lines[#lines + 1] = l end }
    for k, v in pairs(client_over or {}) do over[k] = v end
    local client = env.client(fc, over)
    local t0 = core.now()
    -- The emulator acts on a stop the moment it takes it: a fifth of a second is long
    -- enough for it to show one (the library waits a minute at least by default).
    local o = { ids = ids, force = true, poll_interval = 0.02, wait_timeout = 5, resend_grace = 0.2 }
    for k, v in pairs(opts or {}) do o[k] = v end
    local res = client["stop_" .. kind](client, o)
    local took = core.now() - t0
    client:close()
    env.assert_ledger(res, ids)
    return res, took, table.concat(lines, "\n")
  end

  -- A streaming answer must stop once its client has gone, not run on in the worker.
  local function assert_streams_end()
    local deadline = core.now() + 3
    local n
    repeat
      n = fc:stats().hostile_streaming
      if n == 0 then return end
      core.sleep(0.05)
    until core.now() > deadline
    error("hostile streams still running: " .. tostring(n))
  end

  -- Each reported outcome matches the emulator's record of the server.
  local function assert_truthful(res)
    for _, id in ipairs(res.stopped) do
      assert.are.equal("SHUTOFF", fc:server(id).status, "reported stopped: " .. id)
    end
    for _, f in ipairs(res.failed) do
      assert.are_not.equal("SHUTOFF", fc:server(f.id).status, "reported failed: " .. f.id)
    end
  end

  describe("on the stop call (lost or unreadable answers are looked up, never resent blindly)", function()
    for _, h in ipairs(MODES) do
      it(name(h) .. ": the stop went through, so the lookup finds every server stopped", function()
        assert(fc:configure{ hostile = with(h, { apply_to = ACTION }) })
        local ids = env.ids("ecs", 1, 3)
        local res, took, log = run("ecs", ids)
        assert.is_true(res.ok, res.failed[1] and tostring(res.failed[1].code))
        assert_truthful(res)
        local st = fc:stats()
        assert.are.equal(1, st.hostile[h.mode])
        assert.are.equal(1, st.calls.action)
        assert.are.equal(0, st.stop_requests.sent_more_than_once)
        assert.is_true(st.calls.list >= 1, "looked the servers up")
        if h.mode ~= "wrong_shape" then assert.truthy(log:find(CODE[h.mode], 1, true), log) end
        -- A timed-out stop gets as long again before the lookup.
        assert.is_true(took < (SLOW[h.mode] and 2 * TIMEOUT + 2 or 2), ("took %.2fs"):format(took))
        assert_streams_end()
      end)

      it(name(h) .. ": the stop never happened, so each server fails with " .. CODE[h.mode], function()
        -- Timeouts cost a second plus a second of grace each, so those get one send.
        local attempts = SLOW[h.mode] and 1 or 3
        assert(fc:configure{ hostile = with(h, { apply_to = ACTION, perform = false }) })
        local ids = env.ids("ecs", 1, 3)
        local res, took = run("ecs", ids, nil, { retry = { attempts = attempts, base = 0.01, cap = 0.05 } })
        assert.are.equal(3, #res.failed)
        for _, f in ipairs(res.failed) do
          assert.are.equal(CODE[h.mode], f.code)
          assert.is_true(#f.message > 0)
        end
        assert_truthful(res)
        local st = fc:stats()
        assert.are.equal(attempts, st.calls.action, "sent at most retry.attempts times, each after a lookup")
        assert.are.equal(attempts, st.hostile[h.mode])
        assert.are.equal(0, st.stop_requests.total)
        assert.is_true(took < attempts * (2 * TIMEOUT + 1), ("took %.2fs"):format(took))
        assert_streams_end()
      end)
    end

    it("recovers when only some stop answers are broken, over more than one call", function()
      -- Every other action answer is cut mid-body and not acted on: chunk 1 is lost, then resent.
      -- Lookups go 100 ids a call; one that times out (under valgrind on a busy machine) is
      -- looked again on its own, so a resend splits into more calls, and the alternation can
      -- then cut one of them three times: hence the library's six attempts, and time enough.
      assert(fc:configure{ hostile = { mode = "reset_mid_body", apply_to = ACTION, perform = false, rate = 0.5 } })
      local ids = env.ids("ecs", 1, 1500)
      local res, _, log = run("ecs", ids, { wait_timeout = 60 },
        { timeout = 10, retry = { attempts = 6, base = 0.01, cap = 0.05 } })
      local f = res.failed[1]
      assert.is_true(res.ok, f and ("%s: %s\n%s"):format(f.code, f.message, log))
      assert.are.equal(1500, #res.stopped)
      local st = fc:stats()
      assert.are.equal(1500, st.servers.ecs.SHUTOFF)
      assert.are.equal(1500, st.stop_requests.total)
      assert.are.equal(0, st.stop_requests.sent_more_than_once)
      assert.is_true(st.hostile.reset_mid_body >= 1)
    end)

    it("wrong_shape/dot_job_id: a job id '..' is a bad answer, never sent; the lookup settles it", function()
      assert(fc:configure{ hostile = { mode = "wrong_shape", shape = "dot_job_id", apply_to = ACTION } })
      local ids = env.ids("ecs", 1, 3)
      local res = run("ecs", ids)
      assert.is_true(res.ok)
      assert_truthful(res)
      local st = fc:stats()
      assert.are.equal(1, st.hostile["wrong_shape.dot_job_id"])
      assert.are.equal(0, st.calls.job) -- no poll of "/jobs/..", nor of what curl makes of it
      assert.are.equal(0, st.unrouted)
      assert.are.equal(0, st.stop_requests.sent_more_than_once)
    end)

    it("BMS: a trickling stop answer times out, the full-list lookup settles it", function()
      assert(fc:configure{ hostile = { mode = "slowloris", interval = 0.2, apply_to = ACTION } })
      local ids = env.ids("bms", 1, 3)
      local res, took = run("bms", ids)
      assert.is_true(res.ok)
      assert_truthful(res)
      assert.are.equal(0, fc:stats().stop_requests.sent_more_than_once)
      assert.is_true(took < 2 * TIMEOUT + 2)
      assert_streams_end()
    end)

    it("when the lookup is broken too, the servers are reported unconfirmed, naming both errors", function()
      -- The stop was accepted, yet nothing readable says so: not stopped as far as we can
      -- tell, and the message says it may have been.
      assert(fc:configure{
        hostile = { mode = "invalid_json", apply_to = { action = true, job = false, list = true } } })
      local ids = env.ids("ecs", 1, 3)
      local res = run("ecs", ids)
      assert.are.equal(3, #res.failed)
      for _, f in ipairs(res.failed) do
        assert.are.equal("cloud.unconfirmed", f.code)
        assert.truthy(f.message:find("may have been accepted", 1, true), f.message)
        assert.truthy(f.message:find("cloud.bad_response", 1, true), f.message)
      end
      local st = fc:stats()
      assert.are.equal(1, st.calls.action)
      assert.are.equal(0, st.stop_requests.sent_more_than_once)
    end)
  end)

  describe("on job polls (the job was accepted: polls are retried, then the servers looked up)", function()
    for _, h in ipairs(MODES) do
      it(name(h) .. ": ends within wait_timeout plus the timeouts, each server once and truthfully", function()
        assert(fc:configure{ hostile = with(h, { apply_to = JOB }) })
        local ids = env.ids("ecs", 1, 3)
        -- One attempt per poll keeps the trickling modes to a second each.
        local attempts = SLOW[h.mode] and 1 or 3
        -- wait_timeout bounds the whole call, whose last look at the servers must come back
        -- in time. An oversize answer is megabytes read and refused at each poll, which under
        -- valgrind and ASan used up the second (CI, both runs): 3 s for it, 1 s for the rest.
        local wait = h.mode == "oversize" and 3 or 1
        local res, took, log = run("ecs", ids, { wait_timeout = wait, poll_interval = 0.05 },
          { retry = { attempts = attempts, base = 0.01, cap = 0.05 } })
        assert_truthful(res)
        -- The job ran in the emulator, so the lookup after the wait finds them stopped.
        assert.are.equal(3, #res.stopped)
        local st = fc:stats()
        assert.is_true(st.hostile[h.mode] >= 1)
        assert.are.equal(1, st.calls.action)
        assert.are.equal(0, st.stop_requests.sent_more_than_once)
        if h.mode ~= "wrong_shape" then assert.truthy(log:find(CODE[h.mode], 1, true), log) end
        assert.is_true(took < wait + attempts * TIMEOUT + 2, ("took %.2fs"):format(took))
        assert_streams_end()
      end)
    end

    for _, shape in ipairs({ "job_without_entities", "sub_job_without_server_id" }) do
      it("wrong_shape/" .. shape .. ": a job that names no server is settled by a lookup", function()
        assert(fc:configure{ hostile = { mode = "wrong_shape", shape = shape, apply_to = JOB } })
        local ids = env.ids("ecs", 1, 3)
        local res, took = run("ecs", ids)
        assert.is_true(res.ok)
        assert_truthful(res)
        local st = fc:stats()
        assert.is_true(st.hostile["wrong_shape." .. shape] >= 1)
        assert.is_true(st.calls.list >= 1)
        assert.are.equal(0, st.stop_requests.sent_more_than_once)
        assert.is_true(took < 2)
      end)
    end

    it("recovers when only some polls are broken", function()
      assert(fc:configure{ hostile = { mode = "bad_content_length", apply_to = JOB, rate = 0.5 } })
      local ids = env.ids("ecs", 1, 1200)
      local res, took = run("ecs", ids)
      assert.is_true(res.ok)
      assert_truthful(res)
      local st = fc:stats()
      assert.is_true((st.hostile.bad_content_length or 0) >= 1, "no poll was broken")
      assert.are.equal(1200, st.servers.ecs.SHUTOFF)
      assert.are.equal(0, st.stop_requests.sent_more_than_once)
      assert.is_true(took < 3)
    end)

    it("reports servers unconfirmed (the stop was accepted) when the lookup is broken too", function()
      assert(fc:configure{
        hostile = { mode = "reset_mid_body", apply_to = { action = false, job = true, list = true } } })
      local ids = env.ids("ecs", 1, 3)
      local res, took = run("ecs", ids, { wait_timeout = 1 })
      assert.are.equal(3, #res.failed)
      for _, f in ipairs(res.failed) do
        assert.are.equal("cloud.unconfirmed", f.code)
        assert.truthy(f.message:find("the stop was accepted", 1, true), f.message)
        assert.truthy(f.message:find("cloud.connection_dropped", 1, true), f.message)
      end
      assert.are.equal(0, fc:stats().stop_requests.sent_more_than_once)
      assert.is_true(took < 4)
    end)
  end)

  describe("the emulator itself", function()
    it("cuts an endless answer after max_seconds even if the client keeps reading", function()
      assert(fc:configure{ hostile = { mode = "endless", max_seconds = 0.3,
        apply_to = { action = false, job = false, list = true } } })
      local t0 = core.now()
      local status, body = fcclient.for_emulator(fc):request("GET", "/v1/" .. fc.project_id .. "/cloudservers/detail")
      assert.are.equal(200, status)
      assert.truthy(body:find('^{"'))
      assert.is_true(#body > 1024)
      assert.is_true(core.now() - t0 < 2)
      assert.are.equal(0, fc:stats().hostile_streaming)
    end)

    it("rejects an unknown mode and is off by default", function()
      local ok, err = fc:configure{ hostile = { mode = "sideways" } }
      assert.is_nil(ok)
      assert.truthy(err:find("unknown mode sideways", 1, true), err)
      assert(fc:configure{ hostile = {} })
      local res = run("ecs", env.ids("ecs", 1, 2))
      assert.is_true(res.ok)
      assert.are.same({}, fc:stats().hostile)
    end)
  end)
end)
