-- The emulator's os-start, as docs/reference/ECS-BMS.md ("The rest of the power cycle") has
-- it: the same action URL and job flow as os-stop, no type; a start of a server that is not
-- SHUTOFF fails its sub-job with Ecs.0100, as a stop of one not ACTIVE does.
local launcher = require "fakecloud.launcher"
local client = require "fakecloud.client"
local ids = require "fakecloud.ids"
local socket = require "socket"

local FLEET = {
  ecs = { { count = 4, name = "on-%d" }, { count = 4, name = "off-%d", status = "SHUTOFF" },
          { id = "locked-off", name = "locked", status = "SHUTOFF", locked = true } },
  bms = { { count = 2, name = "bm-%d", status = "SHUTOFF" } },
}

describe("fakecloud os-start", function()
  local fc, c
  local on = { ids.server_id("ecs", 1), ids.server_id("ecs", 2) }
  local off = { ids.server_id("ecs", 5), ids.server_id("ecs", 6), ids.server_id("ecs", 7) }

  setup(function()
    fc = assert(launcher.start{ config = { job_duration = 0.6, fleet = FLEET } })
    c = client.for_emulator(fc)
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function() assert(fc:reset()) end)

  local function sub_jobs(job_id)
    local _, j = c:job(job_id)
    local by = {}
    for _, s in ipairs(j.entities.sub_jobs) do by[s.entities.server_id] = s end
    return j, by
  end

  it("starts SHUTOFF servers through a job, powering-on until it ends", function()
    local code, r = c:start("ecs", { off[1], off[2] })
    assert.are.equal(200, code)
    local j = sub_jobs(r.job_id)
    assert.is_truthy(j.status == "INIT" or j.status == "RUNNING")
    assert.are.equal("batchStartServer", j.job_type)
    assert.are.equal(2, j.entities.sub_jobs_total)
    local s = fc:server(off[1])
    assert.are.equal("SHUTOFF", s.status)
    assert.are.equal("powering-on", s["OS-EXT-STS:task_state"])
    socket.sleep(0.8)
    local done, by = sub_jobs(r.job_id)
    assert.are.equal("SUCCESS", done.status)
    assert.are.equal("startServer", by[off[1]].job_type)
    for _, id in ipairs({ off[1], off[2] }) do
      local st = fc:server(id)
      assert.are.equal("ACTIVE", st.status)
      assert.are.equal(1, st["OS-EXT-STS:power_state"])
      assert.are.equal(1, st.start_requests)
      assert.are.equal(0, st.stop_requests)
    end
    local stats = fc:stats()
    assert.are.equal(2, stats.start_requests.total)
    assert.are.equal(0, stats.stop_requests.total)
    assert.is_nil(next(stats.stop_types)) -- a start has no type
  end)

  it("fails a start of an ACTIVE server, and a stop of a SHUTOFF one, with Ecs.0100", function()
    local _, r = c:start("ecs", { on[1], off[3], "locked-off", "no-such" })
    local _, s = c:stop("ecs", { off[1] })
    socket.sleep(0.8)
    local j, by = sub_jobs(r.job_id)
    assert.are.equal("FAIL", j.status)
    assert.are.equal("Ecs.0100", by[on[1]].error_code)
    assert.truthy(by[on[1]].fail_reason:find("is ACTIVE, cannot start", 1, true))
    assert.are.equal("SUCCESS", by[off[3]].status)
    assert.are.equal("Ecs.0605", by["locked-off"].error_code)
    assert.are.equal("Ecs.0114", by["no-such"].error_code)
    local _, stop_by = sub_jobs(s.job_id)
    assert.are.equal("Ecs.0100", stop_by[off[1]].error_code)
    assert.truthy(stop_by[off[1]].fail_reason:find("is SHUTOFF, cannot stop", 1, true))
    assert.are.equal("ACTIVE", fc:server(on[1]).status)
    assert.are.equal("SHUTOFF", fc:server(off[1]).status)
  end)

  it("fails a second start while the first is under way, and a stop of a server being started", function()
    local _, first = c:start("ecs", { off[1] })
    local _, again = c:start("ecs", { off[1] })
    local _, stop = c:stop("ecs", { off[1] })
    socket.sleep(0.8)
    assert.are.equal("SUCCESS", (sub_jobs(first.job_id)).status)
    local _, by = sub_jobs(again.job_id)
    assert.truthy(by[off[1]].fail_reason:find("already being started", 1, true))
    local _, sby = sub_jobs(stop.job_id)
    assert.are.equal("Ecs.0100", sby[off[1]].error_code) -- SHUTOFF, being started: not ACTIVE
    assert.are.equal("ACTIVE", fc:server(off[1]).status)
  end)

  it("validates the os-start body: no type, one action, servers as for os-stop", function()
    local path = "/v1/" .. fc.project_id .. "/cloudservers/action"
    local function post(body) return c:json("POST", path, nil, body) end
    local cases = {
      { '{"os-start":{"type":"SOFT","servers":[{"id":"' .. off[1] .. '"}]}}', "unknown field os-start.type" },
      { '{"os-start":{"servers":[]}}', "os-start.servers must be a non-empty array" },
      { '{"os-start":{"servers":[{"id":"' .. off[1] .. '"}]},"os-stop":{"servers":[{"id":"x"}]}}',
        "unsupported action" },
      { '{"reboot":{"type":"SOFT","servers":[{"id":"' .. off[1] .. '"}]}}', "unsupported action reboot" },
      { '{"os-start":{"servers":[{"id":"' .. off[1] .. '"},{"id":"' .. off[1] .. '"}]}}', "duplicate server id" },
    }
    for _, case in ipairs(cases) do
      local code, body = post(case[1])
      assert.are.equal(400, code, case[1])
      assert.truthy(body.error.message:find(case[2], 1, true), case[1] .. " -> " .. body.error.message)
    end
    -- Any JSON spelling the API takes, not only the compact form.
    assert.are.equal(200, (post(' { "os-start" : { "servers" : [ { "id" : "' .. off[2] .. '" } ] } }')))
    assert.are.equal(1, fc:stats().start_requests.total)
    assert.are.equal(0, fc:server(off[1]).start_requests)
  end)

  it("starts bare-metal servers at the BMS action URL", function()
    local b = ids.server_id("bms", 1)
    local code, r = c:start("bms", { b })
    assert.are.equal(200, code)
    socket.sleep(0.8)
    assert.are.equal("SUCCESS", (sub_jobs(r.job_id)).status)
    assert.are.equal("ACTIVE", fc:server(b).status)
  end)
end)
