-- The emulator's models of what the ECS reference documents (docs/reference/ECS-BMS.md):
-- flow control, refused stop calls, INIT jobs, sub-job errors, task_state and not-tags.
-- Each is switched on by configuration; the defaults are the older specs' emulator.
-- Over real HTTP on 127.0.0.1; runs under lua5.4 and luajit.
package.path = "tools/?.lua;" .. package.path

local cjson = require "cjson"
local socket = require "socket"
local launcher = require "fakecloud.launcher"
local client = require "fakecloud.client"
local ids = require "fakecloud.ids"

local FLEET = {
  ecs = {
    { count = 3000, name = "web-%d", tags = { "env=staging" } },
    { count = 10, name = "off-%d", status = "SHUTOFF", tags = { "env=prod" } },
  },
  bms = { { count = 20, name = "bm-%d" } },
}

local function ecs(from, to)
  local out = {}
  for i = from, to or from do out[#out + 1] = ids.server_id("ecs", i) end
  return out
end

describe("fakecloud reference behaviours", function()
  local fc, c

  setup(function()
    fc = assert(launcher.start { config = { fleet = FLEET, job_duration = 0.05 } })
    c = client.for_emulator(fc)
  end)

  teardown(function()
    if fc then fc:stop() end
  end)

  before_each(function()
    assert(fc:configure { flow_control = {}, refusals = {}, job_duration = 0.05, job_init = cjson.null,
                          bms_in_ecs_list = false, job_hold = cjson.null })
    assert(fc:reset())
  end)

  -- Stop requests the emulator recorded for these ids (accepted calls only).
  local function requests(list)
    local n = 0
    for _, id in ipairs(list) do n = n + fc:server(id).stop_requests end
    return n
  end

  describe("flow control (flow_control = { budget, window })", function()
    it("answers 202 Common.0024 without a job_id once the window's budget is used", function()
      assert(fc:configure { flow_control = { budget = 30, window = 60 } })
      local code, body = c:stop("ecs", ecs(1, 20))
      assert.are.equal(200, code)
      assert.is_string(body.job_id)
      code, body = c:stop("ecs", ecs(21, 30))
      assert.are.equal(200, code)
      assert.is_string(body.job_id)
      local text, h
      code, text, h = c:request("POST", "/v1/" .. fc.project_id .. "/cloudservers/action", nil,
        cjson.encode { ["os-stop"] = { servers = { { id = ecs(31)[1] } } } })
      assert.are.equal(202, code)
      assert.are.same({ error = { code = "Common.0024", message = "exceeds flow over limit" } }, cjson.decode(text))
      assert.is_nil(cjson.decode(text).job_id)
      assert.matches("^%x+$", h["x-request-id"])
      local st = fc:stats()
      assert.are.equal(1, st.refused["Common.0024"])
      assert.are.equal(1, st.refused_servers)
      assert.are.equal(2, st.jobs)
      assert.are.equal(1, st.statuses["202"])
      -- The refused call stopped nothing and left no trace on its server.
      local s = fc:server(ecs(31)[1])
      assert.are.equal(0, s.stop_requests)
      assert.are.equal("ACTIVE", s.status)
      assert.are.equal(cjson.null, s["OS-EXT-STS:task_state"])
      assert.are.equal(30, requests(ecs(1, 31)))
    end)

    it("charges accepted calls only: a refused call leaves its servers' share to others", function()
      assert(fc:configure { flow_control = { budget = 30, window = 60 } })
      assert.are.equal(200, (c:stop("ecs", ecs(1, 25))))
      assert.are.equal(202, (c:stop("ecs", ecs(26, 35)))) -- 10 would make 35
      assert.are.equal(202, (c:stop("ecs", ecs(26, 35)))) -- still 25 used, not 35
      assert.are.equal(200, (c:stop("ecs", ecs(26, 30)))) -- exactly the budget
      assert.are.equal(202, (c:stop("ecs", ecs(31))))
      local st = fc:stats()
      assert.are.equal(3, st.refused["Common.0024"])
      assert.are.equal(21, st.refused_servers)
      assert.are.equal(30, st.stop_requests.total)
      assert.are.equal(0, st.stop_requests.sent_more_than_once)
    end)

    it("frees the budget as the window slides, so a 'minute' can last a second", function()
      assert(fc:configure { flow_control = { budget = 1000, window = 0.5 } })
      local t0 = socket.gettime()
      assert.are.equal(200, (c:stop("ecs", ecs(1, 1000))))
      assert.are.equal(202, (c:stop("ecs", ecs(1001, 1001))))
      assert.is_true(socket.gettime() - t0 < 0.5, "the refusal came after the window had passed")
      socket.sleep(0.55)
      assert.are.equal(200, (c:stop("ecs", ecs(1001, 2000))))
      assert.are.equal(202, (c:stop("ecs", ecs(2001, 2001))))
      assert.are.equal(2000, fc:stats().stop_requests.total)
    end)

    it("keeps a budget per service: BMS is not charged for ECS", function()
      assert(fc:configure { flow_control = { budget = 10, window = 60 }, fleet = FLEET })
      assert.are.equal(200, (c:stop("ecs", ecs(1, 10))))
      assert.are.equal(202, (c:stop("ecs", ecs(11))))
      local _, b = c:list("bms", { limit = 10 })
      local bms = {}
      for i, s in ipairs(b.servers) do bms[i] = s.id end
      assert.are.equal(200, (c:stop("bms", bms)))
      assert.are.equal(202, (c:stop("bms", { ids.server_id("bms", 11) })))
    end)

    it("never refuses by default: 3000 servers in three calls at once", function()
      for i = 0, 2 do assert.are.equal(200, (c:stop("ecs", ecs(i * 1000 + 1, i * 1000 + 1000)))) end
      assert.is_nil(fc:stats().refused["Common.0024"])
    end)

    it("refuses a malformed budget or window when configured", function()
      local ok, err = fc:configure { flow_control = { budget = 0 } }
      assert.is_nil(ok)
      assert.truthy(err:find("flow_control.budget must be a number", 1, true), err)
      ok, err = fc:configure { flow_control = { budget = 10, window = "soon" } }
      assert.is_nil(ok)
      assert.truthy(err:find("flow_control.window must be a number", 1, true), err)
    end)
  end)

  describe("refused stop calls (refusals = { [code] = rate, seed })", function()
    it("answers 503 Common.1503 and 501 Ecs.0603 in the error shape, stopping nothing", function()
      for _, case in ipairs({ { "Common.1503", 503 }, { "Ecs.0603", 501 } }) do
        assert(fc:configure { refusals = { [case[1]] = 1 } })
        local code, body = c:stop("ecs", ecs(1, 5))
        assert.are.equal(case[2], code, case[1])
        assert.are.equal(case[1], body.error.code)
        assert.is_string(body.error.message)
        assert.is_nil(body.job_id)
        assert.are.equal(1, fc:stats().refused[case[1]])
        assert.are.equal(0, requests(ecs(1, 5)))
        assert.are.equal("ACTIVE", fc:server(ecs(1)[1]).status)
        -- Only stop calls are refused: jobs and lists answer as before.
        assert.are.equal(200, (c:list("ecs", { limit = 1 })))
        assert.are.equal(404, (c:job("00000000-0000-4000-8000-000000000000")))
      end
      assert.are.equal(0, fc:stats().jobs)
    end)

    it("refuses at the configured rates, the same calls for the same seed", function()
      local function run()
        assert(fc:configure { refusals = { ["Common.1503"] = 0.3, ["Ecs.0603"] = 0.2, seed = 11 } })
        assert(fc:reset())
        local seen, order = { [200] = 0, [501] = 0, [503] = 0 }, {}
        for i = 1, 120 do
          local code = c:stop("ecs", ecs(i))
          seen[code] = seen[code] + 1
          order[i] = code
        end
        return seen, order
      end
      local seen, order = run()
      local function near(expected, got)
        assert.is_true(math.abs(got - expected) <= expected * 0.4 + 5, "expected about " .. expected .. ", got " .. got)
      end
      near(36, seen[503])
      near(24, seen[501])
      near(60, seen[200])
      local st = fc:stats()
      assert.are.equal(seen[503], st.refused["Common.1503"])
      assert.are.equal(seen[501], st.refused["Ecs.0603"])
      assert.are.equal(seen[200], st.stop_requests.total)
      assert.are.equal(seen[200], st.jobs)
      local _, again = run()
      assert.are.same(order, again)
    end)

    it("charges no flow-control budget for a call it refuses", function()
      assert(fc:configure { flow_control = { budget = 10, window = 60 }, refusals = { ["Ecs.0603"] = 0.5, seed = 5 } })
      local seen = { [200] = 0, [202] = 0, [501] = 0 }
      for i = 1, 40 do
        local code = c:stop("ecs", ecs(i))
        seen[code] = seen[code] + 1
        if seen[200] < 10 then assert.are_not.equal(202, code) end
      end
      assert.are.equal(10, seen[200]) -- one server each: the whole budget, however many were refused
      assert.is_true(seen[501] >= 3, "refused " .. seen[501])
      assert.is_true(seen[202] >= 3, "flow control " .. seen[202])
      assert.are.equal(10, fc:stats().stop_requests.total)
    end)

    it("answers any code of the reference's table at its status, gateway codes in the gateway's shape", function()
      local flow = require "fakecloud.flow"
      assert.are.equal(20, #flow.REFUSALS)
      for _, r in ipairs(flow.REFUSALS) do
        assert(fc:configure { refusals = { [r.code] = 1 } })
        local code, body = c:stop("ecs", ecs(1, 2))
        assert.are.equal(r.status, code, r.code)
        if r.code:match("^APIGW?%.") then
          assert.are.equal(r.code, body.error_code)
          assert.is_string(body.error_msg)
        else
          assert.are.equal(r.code, body.error.code)
        end
        assert.is_nil(body.job_id)
      end
      assert.are.equal(0, fc:stats().stop_requests.total)
    end)

    it("refuses at most `limit` calls in all, then none", function()
      assert(fc:configure { refusals = { ["Ecs.1000"] = 1, limit = 2 } })
      local codes = {}
      for i = 1, 4 do codes[i] = (c:stop("ecs", ecs(i))) end
      assert.are.same({ 500, 500, 200, 200 }, codes)
      assert.are.equal(2, fc:stats().refused["Ecs.1000"])
    end)

    it("refuses an unknown code or a bad rate when configured", function()
      local ok, err = fc:configure { refusals = { ["Ecs.9999"] = 0.5 } }
      assert.is_nil(ok)
      assert.truthy(err:find("refusals: unknown code Ecs.9999", 1, true), err)
      ok, err = fc:configure { refusals = { ["Ecs.0603"] = -1 } }
      assert.is_nil(ok)
      assert.truthy(err:find("Ecs.0603", 1, true) and err:find("must be a number", 1, true), err)
    end)
  end)

  describe("jobs", function()
    it("pass through INIT for job_init seconds, then RUNNING, then SUCCESS", function()
      -- Without job_init a 3 s job reads INIT for its first fifth (0.6 s) only. The times
      -- keep 0.4 s or more from each change, so a slow client (valgrind) reads the same.
      assert(fc:configure { job_duration = 3, job_init = 1.5 })
      local t0 = socket.gettime()
      local _, r = c:stop("ecs", ecs(1, 2))
      local function at(t)
        local wait = t0 + t - socket.gettime()
        if wait > 0 then socket.sleep(wait) end
        local _, j = c:job(r.job_id)
        return j
      end
      local j = at(0.9)
      assert.are.equal("INIT", j.status)
      assert.are.equal("INIT", j.entities.sub_jobs[1].status)
      assert.are.equal(cjson.null, j.end_time)
      j = at(2.1)
      assert.are.equal("RUNNING", j.status)
      assert.are.equal("RUNNING", j.entities.sub_jobs[2].status)
      j = at(3.4)
      assert.are.equal("SUCCESS", j.status)
      assert.is_string(j.end_time)
      local ok, err = fc:configure { job_init = -1 }
      assert.is_nil(ok)
      assert.truthy(err:find("job_init must be a number", 1, true), err)
    end)

    it("read a status of job_hold first, when configured (one the reference's list does not name)", function()
      assert(fc:configure { job_duration = 0.1, job_hold = { status = "PENDING_PAYMENT", seconds = 0.4 } })
      finally(function() fc:configure { job_hold = cjson.null } end)
      local _, r = c:stop("ecs", ecs(1))
      -- Taken once the answer is in: the job was accepted before it, so its hold and its run
      -- have ended 0.5 s after this at the latest, however slowly the call went (ASan).
      local t0 = socket.gettime()
      assert.are.equal("PENDING_PAYMENT", (select(2, c:job(r.job_id))).status)
      assert.are.equal("powering-off", fc:server(ecs(1)[1])["OS-EXT-STS:task_state"])
      socket.sleep(math.max(0, t0 + 0.6 - socket.gettime()))
      assert.are.equal("SUCCESS", (select(2, c:job(r.job_id))).status)
      local ok, err = fc:configure { job_hold = { status = "", seconds = 1 } }
      assert.is_nil(ok)
      assert.truthy(err:find("job_hold must be", 1, true), err)
    end)

    it("fail a sub-job with Ecs.0100 for a server already SHUTOFF and Ecs.0114 for an unknown id", function()
      local on, off, unknown = ecs(1)[1], ecs(3001)[1], "00000000-dead-4000-a000-000000000000"
      local _, r = c:stop("ecs", { on, off, unknown })
      socket.sleep(0.1)
      local _, j = c:job(r.job_id)
      assert.are.equal("FAIL", j.status)
      local by = {}
      for _, s in ipairs(j.entities.sub_jobs) do by[s.entities.server_id] = s end
      assert.are.equal("SUCCESS", by[on].status)
      assert.are.equal(cjson.null, by[on].error_code)
      assert.are.equal(cjson.null, by[on].entities.errorcode_message)
      for id, code in pairs({ [off] = "Ecs.0100", [unknown] = "Ecs.0114" }) do
        local s = by[id]
        assert.are.equal("FAIL", s.status)
        assert.are.equal(code, s.error_code)
        assert.is_string(s.fail_reason)
        assert.truthy(s.fail_reason:find(id, 1, true), s.fail_reason)
        assert.is_string(s.entities.errorcode_message)
        assert.truthy(s.entities.errorcode_message:find(code, 1, true), s.entities.errorcode_message)
      end
      assert.truthy(j.error_code == "Ecs.0100" or j.error_code == "Ecs.0114")
      assert.is_string(j.fail_reason)
      assert.are.equal("SHUTOFF", fc:server(off).status)
      assert.are.equal(cjson.null, fc:server(off)["OS-EXT-STS:task_state"])
    end)
  end)

  describe("servers", function()
    it("read task_state powering-off from acceptance until their job ends", function()
      assert(fc:configure { job_duration = 0.8, job_init = 0.3 })
      local id = ecs(7)[1]
      local function shown()
        local _, l = c:list("ecs", { server_id = id })
        return l.servers[1]
      end
      assert.are.equal(cjson.null, shown()["OS-EXT-STS:task_state"])
      local _, r = c:stop("ecs", { id })
      -- Taken once the answer is in (after the acceptance), so the job's end is never ahead
      -- of the check, however slowly the call went (ASan).
      local t0 = socket.gettime()
      local s = shown()
      assert.are.equal("INIT", (select(2, c:job(r.job_id))).status)
      assert.are.equal("powering-off", s["OS-EXT-STS:task_state"])
      assert.are.equal("ACTIVE", s.status)
      socket.sleep(math.max(0, t0 + 0.5 - socket.gettime()))
      assert.are.equal("RUNNING", (select(2, c:job(r.job_id))).status)
      assert.are.equal("powering-off", shown()["OS-EXT-STS:task_state"])
      socket.sleep(math.max(0, t0 + 0.9 - socket.gettime()))
      s = shown()
      assert.are.equal("SHUTOFF", s.status)
      assert.are.equal(cjson.null, s["OS-EXT-STS:task_state"])
      assert.are.equal("SUCCESS", (select(2, c:job(r.job_id))).status)
    end)
  end)

  describe("listing", function()
    it("leaves bare-metal servers out of the ECS list with not-tags=__type_baremetal", function()
      assert(fc:configure { bms_in_ecs_list = true })
      local _, all = c:list("ecs", { limit = 1 })
      assert.are.equal(3030, all.count)
      local _, l = c:list("ecs", { ["not-tags"] = "__type_baremetal", limit = 1000, offset = 4 })
      assert.are.equal(3010, l.count)
      assert.are.equal(10, #l.servers)
      for _, s in ipairs(l.servers) do
        for _, t in ipairs(s.tags) do assert.are_not.equal("__type_baremetal", t) end
      end
      local _, both = c:list("ecs", { ["not-tags"] = "__type_baremetal,env=prod" })
      assert.are.equal(3000, both.count)
      local _, bm = c:list("ecs", { tags = "__type_baremetal" })
      assert.are.equal(20, bm.count)
    end)
  end)
end)
