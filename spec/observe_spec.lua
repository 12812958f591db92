-- on_request: one call of the caller's hook per HTTP attempt, with what metrics need and no
-- ids in the path (the nginx transport's case is in nginx_spec).
local env = require "support.cloudenv"

describe("on_request", function()
  local fc
  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = { ecs = { { count = 1500, name = "web-%04d" } } } }
  end)
  teardown(function() fc:stop() end)

  it("sees every HTTP attempt once, with its template, status, code, duration, attempt and request id", function()
    assert(fc:configure{ faults = { seed = 3, status = { [429] = 0.3 }, retry_after = 0 },
      fleet = { ecs = { { count = 1500, name = "web-%04d" } } } })
    assert(fc:reset())
    local seen = {}
    local client = env.client(fc, { retry = { attempts = 10, base = 0.01, cap = 0.02 },
      on_request = function(info) seen[#seen + 1] = info end })
    local res = assert(client:stop_ecs{ ids = env.ids("ecs", 1, 1500), poll_interval = 0.02 })
    client:close()
    assert.is_true(res.ok)
    local stats = fc:stats()
    assert.are.equal(stats.calls.total, #seen)
    local by, throttled, retried = {}, 0, 0
    for _, info in ipairs(seen) do
      assert.are.equal("ecs", info.service)
      assert.is_nil(info.path:find(fc.project_id, 1, true), info.path)
      assert.is_nil(info.path:find("%x%x%x%x%x%x%x%x%-"), info.path) -- no job or server id
      local key = info.method .. " " .. info.path
      by[key] = (by[key] or 0) + 1
      assert.is_true(info.duration >= 0 and info.duration < 30)
      assert.is_true(info.attempt >= 1)
      assert.are.equal("string", type(info.request_id))
      if info.status == 429 then
        throttled = throttled + 1
        assert.are.equal("APIGW.0308", info.code)
        assert.is_false(info.ok)
      else
        assert.are.equal(200, info.status)
        assert.is_true(info.ok)
      end
      if info.attempt > 1 then retried = retried + 1 end
    end
    assert.are.equal(stats.statuses["429"] or stats.statuses[429], throttled)
    assert.is_true(throttled > 0 and retried > 0)
    assert.is_true(by["POST /v1/{project_id}/cloudservers/action"] >= 2)
    assert.is_true(by["GET /v1/{project_id}/jobs/{job_id}"] >= 2)
    assert.is_true(by["GET /v1/{project_id}/cloudservers/detail"] >= 1) -- the protection-tag check
  end)

  it("a hook that raises is logged and changes nothing", function()
    assert(fc:configure{ faults = {}, fleet = { ecs = { { count = 1500, name = "web-%04d" } } } })
    assert(fc:reset())
    local lines = {}
    local client = env.client(fc, { logger = function(l) lines[#lines + 1] = l end,
      on_request = function() error("metrics backend down") end })
    local res = assert(client:stop_ecs{ ids = env.ids("ecs", 1, 3), poll_interval = 0.02 })
    client:close()
    assert.is_true(res.ok)
    assert.truthy(lines[1] and lines[1]:find("on_request raised: .*metrics backend down"), lines[1])
  end)

  it("is checked by cloud.new", function()
    assert.has_error(function() env.cloud.new{ on_request = "yes" } end)
  end)
end)
