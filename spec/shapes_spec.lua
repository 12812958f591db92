-- Shapes the reference documents and its examples do not show (docs/reference/ECS-BMS.md,
-- "Jobs" and "Errors"): a BMS sub-job's entities as an array of objects, and a service
-- error's details; the emulator sends each when configured.
local cjson = require "cjson"
local cloudenv = require "spec.support.cloudenv"

describe("documented shapes", function()
  local fc, c

  setup(function()
    fc = cloudenv.start { job_duration = 0.05, fleet = { ecs = { { count = 10 } }, bms = { { count = 6 } } } }
    c = cloudenv.default_client(fc)
  end)

  teardown(function()
    if c then c:close() end
    if fc then fc:stop() end
  end)

  before_each(function()
    assert(fc:configure { bms_sub_job_entities = cjson.null, error_details = cjson.null, refusals = {} })
    assert(fc:reset())
  end)

  -- Stops these BMS servers and waits; returns the result and the list calls it made.
  local function stop_bms(ids)
    local before = fc:stats().calls.list
    local res = assert(c:stop_bms { ids = ids, wait = true, poll_interval = 0.05, wait_timeout = 60 })
    return res, fc:stats().calls.list - before
  end

  describe("a BMS sub-job's entities", function()
    it("are answered as an array of objects when configured, and as one object otherwise", function()
      local fcc = require("fakecloud.client").for_emulator(fc)
      local id = cloudenv.id("bms", 1)
      for _, form in ipairs({ "array", "object" }) do
        assert(fc:configure { bms_sub_job_entities = form })
        local _, r = fcc:stop("bms", { id })
        local _, j = fcc:job(r.job_id)
        local e = j.entities.sub_jobs[1].entities
        if form == "array" then
          assert.are.equal(id, e[1].server_id)
          assert.is_nil(e.server_id)
        else
          assert.are.equal(id, e.server_id)
        end
        assert(fc:reset())
      end
      local ok, err = fc:configure { bms_sub_job_entities = "list" }
      assert.is_nil(ok)
      assert.truthy(tostring(err):find("bms_sub_job_entities", 1, true), err)
    end)

    it("in either form name each server's outcome: no lookup more for the array", function()
      local ids = cloudenv.ids("bms", 1, 4)
      local unknown = "00000000-dead-4000-a000-000000000000"
      local listed = {}
      for _, form in ipairs({ "object", "array" }) do
        assert(fc:reset())
        assert(fc:configure { bms_sub_job_entities = form })
        local all = { ids[1], ids[2], ids[3], ids[4], unknown }
        local res, lists = stop_bms(all)
        listed[form] = lists
        cloudenv.assert_ledger(res, all)
        local want = { ids[1], ids[2], ids[3], ids[4] }
        table.sort(want)
        table.sort(res.stopped)
        assert.are.same(want, res.stopped, form)
        assert.are.equal(1, #res.failed, form)
        assert.are.equal(unknown, res.failed[1].id)
        assert.are.equal("Ecs.0114", res.failed[1].code, form)
        -- The message of the array's element, as the object's.
        assert.matches("^Ecs%.0114: ", res.failed[1].errorcode_message, nil, form)
      end
      assert.are.equal(listed.object, listed.array)
    end)
  end)

  describe("a service error's details", function()
    it("are kept on the error and in res.failed", function()
      local details = { { code = "Ecs.0005.1", message = "servers[0].id is not a server id" },
                        { code = "Ecs.0005.2", message = "second" } }
      assert(fc:configure { error_details = details, refusals = { ["Ecs.0005"] = 1, limit = 1 } })
      local ids = cloudenv.ids("ecs", 1, 3)
      local res = assert(c:stop_ecs { ids = ids, wait = true, poll_interval = 0.05, wait_timeout = 60 })
      assert.are.equal(3, #res.failed)
      for _, f in ipairs(res.failed) do
        assert.are.equal("Ecs.0005", f.code)
        assert.are.same(details, f.details)
      end
      assert.is_false(res.ok)
    end)

    it("are absent when the answer has none, and bounded when it has many", function()
      assert(fc:configure { refusals = { ["Ecs.0005"] = 1, limit = 1 } })
      local res = assert(c:stop_ecs { ids = cloudenv.ids("ecs", 1, 1), wait = false })
      assert.are.equal("Ecs.0005", res.failed[1].code)
      assert.is_nil(res.failed[1].details)
      local many = {}
      for i = 1, 50 do many[i] = { code = "Ecs.0005." .. i, message = ("m"):rep(2000) } end
      assert(fc:configure { error_details = many, refusals = { ["Ecs.0005"] = 1, limit = 1 } })
      res = assert(c:stop_ecs { ids = cloudenv.ids("ecs", 2, 2), wait = false })
      local d = res.failed[1].details
      assert.are.equal(20, #d)
      assert.are.equal("Ecs.0005.1", d[1].code)
      assert.is_true(#d[1].message <= 500)
    end)
  end)
end)
