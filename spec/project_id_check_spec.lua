-- A project id given (not found through IAM) must have IAM's form, 32 lowercase hex
-- digits: another is refused before any call, naming the field, where it used to be sent
-- and answered 404 much later. `project_id_check = false` (cloud-stop
-- --no-project-id-check) takes another form on purpose, for a cloud whose ids differ.
local cloud = require "cloud"
local cli = require "spec.support.cli"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"

local OTHER = "my-stack-project" -- a project id of another form, as a private cloud may have

describe("the project id's form", function()
  local fc

  setup(function()
    fc = assert(launcher.start{ config = { job_duration = 0.02, project_id = OTHER } })
  end)
  teardown(function() if fc then fc:stop() end end)
  before_each(function() assert(fc:reset()) end)

  local function opts(over)
    local o = { ak = fc.ak, sk = fc.sk, endpoints = { ecs = fc.url }, retry = { attempts = 1 } }
    for k, v in pairs(over) do o[k] = v end
    return o
  end

  it("is refused before any call unless it is IAM's, naming the field and the opt-out", function()
    for _, bad in ipairs({ "x", OTHER, ("A"):rep(32), ("0"):rep(31), ("0"):rep(33), ("g"):rep(32) }) do
      local ok, e = pcall(cloud.new, opts{ project_id = bad })
      assert.is_false(ok, bad)
      assert.are.equal("argument", e.kind)
      assert.are.equal("project_id", e.field)
      assert.truthy(e.problem:find("32 lowercase hex digits", 1, true), e.problem)
      assert.truthy(e.problem:find("project_id_check = false", 1, true), e.problem)
    end
    -- Characters no project id has stay refused, whatever the check says.
    local ok, e = pcall(cloud.new, opts{ project_id = "p/q", project_id_check = false })
    assert.is_false(ok)
    assert.are.equal("has characters a project id cannot have", e.problem)
    ok, e = pcall(cloud.new, opts{ project_id = ("0"):rep(32), project_id_check = "no" })
    assert.is_false(ok)
    assert.are.equal("project_id_check", e.field)
    assert(cloud.new(opts{ project_id = "0123456789abcdef0123456789abcdef" })):close()
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("of another form is used with project_id_check = false", function()
    local c = assert(cloud.new(opts{ project_id = OTHER, project_id_check = false }))
    finally(function() c:close() end)
    local res = assert(c:stop_ecs{ ids = { ids.server_id("ecs", 1) }, poll_interval = 0.02 })
    assert.is_true(res.ok)
    assert.are.equal(1, #res.stopped)
  end)

  it("from the environment is the setup's mistake: returned, naming the variable", function()
    local getenv = os.getenv
    local fake = { HUAWEICLOUD_SDK_PROJECT_ID = OTHER }
    os.getenv = function(k) if fake[k] ~= nil then return fake[k] end return getenv(k) end -- luacheck: ignore 122
    local ok, c, err = pcall(cloud.new, opts{})
    local ok2, c2 = pcall(cloud.new, opts{ project_id_check = false })
    os.getenv = getenv -- luacheck: ignore 122
    assert.is_true(ok, tostring(c))
    assert.is_nil(c)
    assert.are.equal("cloud.bad_environment", err.code)
    assert.truthy(err.message:find("HUAWEICLOUD_SDK_PROJECT_ID", 1, true), err.message)
    assert.truthy(err.message:find("32 lowercase hex digits", 1, true), err.message)
    assert.is_true(ok2, tostring(c2))
    assert.are.equal(OTHER, c2.project_id)
    c2:close()
  end)

  describe("in cloud-stop", function()
    local function run(...)
      return cli.run({ "ecs", ids.server_id("ecs", 2), "--endpoint", fc.url, "--poll-interval", "0.02", ... },
        { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk, CLOUD_METADATA_ENDPOINT = "http://127.0.0.1:1" })
    end

    it("--project-id of another form is a usage error (exit 2) naming the flag and its opt-out", function()
      local r = run("--project-id", "x")
      assert.are.equal(2, r.code, r.stderr)
      assert.truthy(r.stderr:find("--project-id must be 32 lowercase hex digits", 1, true), r.stderr)
      assert.truthy(r.stderr:find("--no-project-id-check", 1, true), r.stderr)
      assert.is_nil(r.stderr:find("project_id_check = false", 1, true), r.stderr)
      assert.are.equal(0, fc:stats().calls.total)
    end)

    it("--no-project-id-check takes it", function()
      local r = run("--project-id", OTHER, "--no-project-id-check")
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(1, fc:server(ids.server_id("ecs", 2)).stop_requests)
    end)

    it("--help documents the flag", function()
      local r = cli.run({ "--help" }, {})
      assert.are.equal(0, r.code)
      assert.truthy(r.stdout:find("--no-project-id-check", 1, true))
    end)
  end)
end)
