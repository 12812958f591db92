-- A whole project answered 404 (a restore against another cloud or region: the list, the
-- jobs, every call of the project) is not a server deleted since the stop: the lookup
-- failed, and says the project is not found there.
local cloud = require "cloud"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local cjson = require "cjson"

describe("a project the cloud does not know", function()
  local a, b, record

  setup(function()
    a = assert(launcher.start{ config = { job_duration = 0.02 } })
    b = assert(launcher.start{ config = { job_duration = 0.02, project_id = ("b"):rep(32) } })
  end)
  teardown(function()
    if a then a:stop() end
    if b then b:stop() end
  end)

  before_each(function()
    assert(a:reset())
    assert(b:reset())
    record = os.tmpname()
    os.remove(record)
  end)
  after_each(function() os.remove(record) end)

  local function client(fc, project_id)
    return assert(cloud.new{ project_id = project_id, ak = fc.ak, sk = fc.sk, endpoints = { ecs = fc.url },
                             retry = { attempts = 2, base = 0.01, cap = 0.02 } })
  end

  for _, code in ipairs({ "Ecs.0114", "APIGW.0101" }) do
    it(("answered 404 %s: the list call fails naming the project, never finding nothing"):format(code), function()
      assert(b:configure{ unknown_project = { status = 404, code = code } })
      local c = client(b, a.project_id)
      finally(function() c:close() end)
      local list, err = c:list_ecs{}
      assert.is_nil(list)
      assert.are.equal(code, err.code)
      assert.are.equal(404, err.status)
      assert.is_true(err.project_not_found)
      assert.truthy(tostring(err):find("project " .. a.project_id .. " has no ECS server list at this endpoint",
        1, true), tostring(err))
    end)

    it(("a restore against it (404 %s) reports no server as deleted"):format(code), function()
      local ca = client(a, a.project_id)
      local stopped = { ids.server_id("ecs", 1), ids.server_id("ecs", 2) }
      local res = assert(ca:stop_ecs{ ids = stopped, record = record, poll_interval = 0.02 })
      ca:close()
      assert.are.equal(2, #res.stopped)
      assert(b:configure{ unknown_project = { status = 404, code = code } })
      local cb = client(b, a.project_id)
      finally(function() cb:close() end)
      local r = assert(cb:restore{ record = record, poll_interval = 0.02, wait_timeout = 30 })
      assert.is_false(r.ok)
      assert.are.equal(0, #r.started)
      local seen = 0
      for _, s in ipairs(r.skipped) do
        seen = seen + 1
        assert.is_nil(s.reason:find("deleted", 1, true), s.reason)
        assert.truthy(s.reason:find("the record's project is not found here", 1, true), s.reason)
        assert.is_table(s.error)
      end
      assert.are.equal(2, seen, cjson.encode(r.skipped))
      assert.are.equal(0, b:stats().calls.action)
    end)
  end

  it("unknown_project is checked when configured", function()
    local ok, err = b:configure{ unknown_project = { status = 200, code = "x" } }
    assert.is_nil(ok)
    assert.truthy(tostring(err):find("unknown_project must be", 1, true), err)
    assert(b:configure{ unknown_project = cjson.null })
  end)
end)
