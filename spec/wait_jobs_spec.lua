-- client:wait_jobs{}: jobs a stop returned with wait = false, followed to their end and
-- reported as a waiting stop's result; its options checked before any call.
local cloudenv = require "spec.support.cloudenv"
local wait_jobs = require "cloud.op.wait_jobs"

local FLEET = {
  ecs = { { count = 4, name = "web-%d" }, { count = 1, name = "off-%d", status = "SHUTOFF" } },
  bms = { { count = 2, name = "bm-%d" } },
}

describe("client:wait_jobs", function()
  local fc

  setup(function()
    fc = cloudenv.start{ job_duration = 0.5, fleet = FLEET }
  end)
  teardown(function()
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:reset())
  end)

  local function calls()
    local n = 0
    for _, c in pairs(fc:stats().calls) do n = n + c end
    return n
  end

  it("reports the servers of jobs accepted earlier as a waiting stop does", function()
    local c = cloudenv.default_client(fc)
    local ids = cloudenv.ids("ecs", 1, 3)
    local off = cloudenv.id("ecs", 5)
    local sent = assert(c:stop_ecs{ ids = { ids[1], ids[2], ids[3], off }, wait = false })
    assert.equal(1, #sent.jobs)
    local seen = {}
    local res = assert(c:wait_jobs{ service = "ecs", jobs = { sent.jobs[1].job_id }, poll_interval = 0.05,
                                    on_progress = function(e) seen[#seen + 1] = e end })
    c:close()
    assert.is_true(res.ok)
    assert.equal(4, res.requested)
    table.sort(res.stopped)
    table.sort(ids)
    assert.same(ids, res.stopped)
    assert.same({ { id = off, status = "SHUTOFF", reason = "already SHUTOFF" } }, res.skipped)
    assert.same({}, res.failed)
    assert.equal("FAIL", res.jobs[1].status) -- the job FAILs with its one failed sub-job (Ecs.0100)
    assert.equal(4, #res.jobs[1].ids)
    assert.is_true(#seen > 0)
    assert.equal(4, seen[#seen].total)
    for _, id in ipairs(ids) do assert.equal("SHUTOFF", fc:server(id).status) end
  end)

  it("follows BMS jobs, and start jobs with action = \"start\"", function()
    local c = cloudenv.default_client(fc)
    local bms = cloudenv.ids("bms", 1, 2)
    local sent = assert(c:stop_bms{ ids = bms, wait = false })
    local res = assert(c:wait_jobs{ service = "bms", jobs = { sent.jobs[1].job_id }, poll_interval = 0.05 })
    assert.is_true(res.ok)
    assert.equal(2, #res.stopped)
    sent = assert(c:start_bms{ ids = bms, wait = false })
    res = assert(c:wait_jobs{ service = "bms", action = "start", jobs = { sent.jobs[1].job_id },
                              poll_interval = 0.05 })
    c:close()
    assert.is_true(res.ok)
    assert.equal(2, #res.started)
    assert.is_nil(res.stopped)
    assert.equal("ACTIVE", fc:server(bms[1]).status)
  end)

  it("a job the cloud does not know: its error, ok false, no servers", function()
    local c = cloudenv.default_client(fc)
    local res = assert(c:wait_jobs{ service = "ecs", jobs = { "0123456789abcdef0123456789abcdef" },
                                    poll_interval = 0.05 })
    c:close()
    assert.is_false(res.ok)
    assert.equal(0, res.requested)
    assert.equal("Common.0011", res.jobs[1].error.code)
    assert.equal("UNKNOWN", res.jobs[1].status)
  end)

  it("checks its options before any call, naming the field", function()
    local c = cloudenv.default_client(fc)
    local before = calls()
    local cases = {
      { {}, "service" },
      { { service = "ecs" }, "jobs" },
      { { service = "ecs", jobs = {} }, "jobs" },
      { { service = "evs", jobs = { "a" } }, "service" },
      { { service = "ecs", jobs = { "a", ".." } }, "jobs[2]" },
      { { service = "ecs", jobs = { "a/b" } }, "jobs[1]" },
      { { service = "ecs", jobs = { 7 } }, "jobs[1]" },
      { { service = "ecs", jobs = { "a" }, action = "reboot" }, "action" },
      { { service = "ecs", jobs = { "a" }, wait_timeout = -1 }, "wait_timeout" },
      { { service = "ecs", jobs = { "a" }, ids = { "x" } }, "ids" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(c.wait_jobs, c, case[1])
      assert.is_false(ok)
      assert.equal("argument", err.kind)
      assert.equal(case[2], err.field)
    end
    assert.has_error(function() c.wait_jobs({ service = "ecs", jobs = { "a" } }) end)
    c:close()
    assert.equal(before, calls())
  end)

  it("reads a job's servers in every form: one object, an array of one, not all listed yet", function()
    local function sub(id, array)
      local e = { server_id = id }
      return { status = "SUCCESS", entities = array and { e } or e }
    end
    assert.same({ "a", "b" }, wait_jobs.servers_of{ status = "SUCCESS",
      entities = { sub_jobs_total = 2, sub_jobs = { sub("a"), sub("b", true) } } })
    -- Not ended: sub-jobs still to come are waited for.
    assert.is_nil(wait_jobs.servers_of{ status = "INIT", entities = { sub_jobs_total = 2, sub_jobs = {} } })
    assert.is_nil(wait_jobs.servers_of{ status = "RUNNING", entities = { sub_jobs_total = 3,
      sub_jobs = { sub("a"), sub("b") } } })
    assert.is_nil(wait_jobs.servers_of{ status = "INIT" })
    assert.same({ "a" }, wait_jobs.servers_of{ status = "RUNNING", entities = { sub_jobs = { sub("a") } } })
    -- Ended without sub-jobs: it names no server.
    assert.same({}, wait_jobs.servers_of{ status = "FAIL", entities = {} })
  end)
end)
