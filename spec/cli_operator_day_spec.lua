-- Issue 26, "The operator's day": what a new user met running cloud-stop end to end, each
-- against the emulator set up as the README's user is (keys and a region, the project from
-- IAM). A key alone (--tag env), --all-projects with --iam-endpoint, --region a,b without
-- project ids, the progress line's counts, the --max-servers refusal's words.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local cloudenv = require "support.cloudenv"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"

local FLEET = {
  ecs = {
    { count = 3, name = "web-%d", tags = { "env=staging" } },                   -- 1..3
    { count = 1, name = "off-%d", tags = { "env=staging" }, status = "SHUTOFF" }, -- 4
    { count = 2, name = "plain-%d", tags = { "team=ops" } },                    -- 5..6
    { count = 1, name = "keep-%d", tags = { "env=staging", "stop-protect=true" } }, -- 7
  },
}

describe("cloud-stop, the operator's day (issue 26)", function()
  local fc

  setup(function()
    fc = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET } })
  end)
  teardown(function()
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 0.02, tag_match = cjson.null, iam = cjson.null })
    assert(fc:reset())
  end)

  local function run(argv, extra)
    local e = cloudenv.default_env(fc)
    for k, v in pairs(extra or {}) do e[k] = v or nil end
    argv[#argv + 1] = "--poll-interval"
    argv[#argv + 1] = "0.05"
    local r = cli.run(argv, e)
    assert.is_nil(r.stdout:find(fc.sk, 1, true), "the SK was printed on stdout")
    assert.is_nil(r.stderr:find(fc.sk, 1, true), "the SK was printed on stderr")
    return r
  end

  local function ids_of(list)
    local out = {}
    for i, s in ipairs(list) do out[i] = type(s) == "table" and s.id or s end
    table.sort(out)
    return out
  end

  local function ecs(...)
    local out = {}
    for i, n in ipairs({ ... }) do out[i] = ids.server_id("ecs", n) end
    table.sort(out)
    return out
  end

  describe("--tag KEY (a key alone)", function()
    -- Every reading of the list's `tags` filter: a bare key as any value of the key, as the
    -- key with the empty value ("whole": the reading that selected nothing), or loosely.
    for _, mode in ipairs({ "exact", "whole", "key", "contains" }) do
      it("selects every server carrying the key, whatever its value (tag_match " .. mode .. ")", function()
        assert(fc:configure{ tag_match = mode ~= "exact" and mode or cjson.null })
        local r = run({ "ecs", "--tag", "env", "--dry-run", "--json" })
        assert.equal(0, r.code, r.stderr)
        local doc = cjson.decode(r.stdout)
        assert.same(ecs(1, 2, 3), ids_of(doc.selected))
        local skipped = {}
        for _, s in ipairs(doc.skipped) do skipped[s.id] = s.reason end
        assert.equal("protected", skipped[ids.server_id("ecs", 7)])
        assert.truthy(skipped[ids.server_id("ecs", 4)], "the server already off is not listed as skipped")
        assert.equal(0, fc:stats().calls.action)
      end)
    end

    it("stops them, with a key=value tag beside it still sent to the cloud", function()
      assert(fc:configure{ tag_match = "whole" })
      local r = run({ "ecs", "--tag", "env", "--tag", "team=ops", "--dry-run", "--json" })
      assert.equal(0, r.code, r.stderr)
      assert.same({}, ids_of(cjson.decode(r.stdout).selected)) -- no server has both
      local s = run({ "ecs", "--tag", "env", "--yes", "--json" })
      assert.equal(0, s.code, s.stderr)
      assert.same(ecs(1, 2, 3), ids_of(cjson.decode(s.stdout).stopped))
      assert.equal(3, fc:stats().stop_requests.total)
    end)
  end)

  it("the progress line counts as the result does: a server already off is skipped, not stopped", function()
    local r = run({ "ecs", ids.server_id("ecs", 1), ids.server_id("ecs", 4), "--yes" })
    assert.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("ECS: 1 of 2 stopped, 0 failed, 1 skipped", 1, true), r.stdout)
    -- Without a terminal, the last line of the wait phase carries its final counts.
    assert.truthy(r.stderr:find("waiting: submitted 2/2, stopped 1, failed 0, skipped 1", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("stopped 2", 1, true), r.stderr)
  end)

  it("the progress line on a terminal ends with the result's counts", function()
    local progress = require "cloud.cli.progress"
    local out = { text = "" }
    function out:write(...) self.text = self.text .. table.concat({ ... }) end
    function out.flush() end
    local bar = progress.new{ out = out, tty = true, service = "ecs", clock = function() return 0 end, width = 200 }
    bar:event{ phase = "submit", done = 2, total = 2, failed = 0 }
    bar:event{ phase = "wait", done = 2, total = 2, failed = 0, skipped = 1 }
    assert.truthy(bar:line():find("stopped 1, failed 0, skipped 1", 1, true), bar:line())
    bar:finish{ stopped = { "a" }, failed = {}, skipped = { { id = "b", reason = "already SHUTOFF" } }, requested = 2 }
    assert.truthy(bar:line():find("done: submitted 2/2, stopped 1, failed 0, skipped 1", 1, true), bar:line())
  end)

  it("--max-servers refuses in the CLI's own words, naming the flag (exit 2, nothing sent)", function()
    local r = run({ "ecs", "--tag", "env=staging", "--max-servers", "2", "--yes" })
    assert.equal(2, r.code, r.stderr)
    assert.truthy(r.stderr:find("refusing to stop 3 servers, more than --max-servers 2; nothing was sent", 1, true),
      r.stderr)
    assert.is_nil(r.stderr:find("max_servers =", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("client:stop_ecs", 1, true), r.stderr)
    assert.equal(0, fc:stats().calls.action)
  end)

  describe("the library's filter", function()
    it("tags = { env = true } and { \"env\" } choose by key alone, and a non-string value is refused", function()
      assert(fc:configure{ tag_match = "whole" })
      local c = cloudenv.default_client(fc)
      for _, tags in ipairs({ { env = true }, { "env" } }) do
        local res = assert(c:stop_ecs{ filter = { tags = tags }, dry_run = true })
        assert.same(ecs(1, 2, 3), ids_of(res.selected))
      end
      local ok, err = pcall(c.stop_ecs, c, { filter = { tags = { env = 1 } }, dry_run = true })
      assert.is_false(ok)
      assert.equal("filter.tags", err.field)
      -- The record's header says what chose the servers: the key alone.
      local path = os.tmpname()
      os.remove(path)
      local res = assert(c:stop_ecs{ filter = { tags = { env = true } }, poll_interval = 0.02, record = path })
      assert.same(ecs(1, 2, 3), ids_of(res.stopped))
      local f = assert(io.open(path))
      local header = cjson.decode(f:read("*l"))
      f:close()
      os.remove(path)
      assert.same({ tags = { "env" } }, header.filter)
      c:close()
    end)
  end)
end)

describe("cloud-stop over regions, the operator's day (issue 26)", function()
  local FLEET_A = { ecs = { { count = 3, name = "web-a-%d", tags = { "env=dev" } } } }
  local FLEET_B = { ecs = { { count = 2, name = "web-b-%d", tags = { "env=dev" } } } }
  local PROJECT_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
  local a, b, env

  setup(function()
    a = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET_A } })
    b = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET_B, project_id = PROJECT_B } })
    -- IAM is a's; b's IAM knows other projects, so an answer from it would show.
    env = { HUAWEICLOUD_SDK_AK = a.ak, HUAWEICLOUD_SDK_SK = a.sk,
            HUAWEICLOUD_SDK_REGION_ECS_REGION_A = a.url, HUAWEICLOUD_SDK_REGION_ECS_REGION_B = b.url }
  end)
  teardown(function()
    if a then a:stop() end
    if b then b:stop() end
  end)
  before_each(function()
    assert(a:configure{ iam = { projects = { { id = a.project_id, name = "region-a" },
                                             { id = PROJECT_B, name = "region-b" } } } })
    assert(b:configure{ iam = { projects = { { id = "cccccccccccccccccccccccccccccccc", name = "region-c" } } } })
    assert(a:reset())
    assert(b:reset())
  end)

  local function run(argv, extra)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra or {}) do e[k] = v end
    argv[#argv + 1] = "--poll-interval"
    argv[#argv + 1] = "0.05"
    local r = cli.run(argv, e)
    assert.is_nil(r.stdout:find(a.sk, 1, true))
    assert.is_nil(r.stderr:find(a.sk, 1, true))
    return r
  end
  local function iam_calls(fc) return fc:stats().calls.projects + fc:stats().calls.iam end

  it("--all-projects asks the IAM of --iam-endpoint only, over HUAWEICLOUD_SDK_IAM_ENDPOINT", function()
    local r = run({ "ecs", "--all-projects", "--iam-endpoint", a.url, "--tag", "env=dev", "--dry-run", "--json" },
      { HUAWEICLOUD_SDK_IAM_ENDPOINT = b.url })
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.equal(2, #doc.targets)
    assert.equal(5, #doc.selected)
    assert.equal(1, a:stats().calls.projects)
    assert.equal(0, iam_calls(b))
  end)

  it("--all-projects goes through --proxy as the run's other calls do", function()
    -- No retries: the dead proxy's refusals would otherwise back off for about 20 s.
    local r = run({ "ecs", "--all-projects", "--iam-endpoint", a.url, "--proxy", "http://127.0.0.1:1",
      "--retries", "0", "--tag", "env=dev", "--dry-run" }, { HUAWEICLOUD_SDK_IAM_ENDPOINT = b.url })
    assert.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find("proxy http://127.0.0.1:1", 1, true), r.stderr)
    assert.equal(0, a:stats().calls.total + b:stats().calls.total)
  end)

  it("--region a,b without --project-id: each region's project from IAM, then both stopped", function()
    local r = run({ "ecs", "--region", "region-a,region-b", "--iam-endpoint", a.url, "--tag", "env=dev",
      "--yes", "--json" })
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.is_true(doc.ok)
    assert.same({ "region-a", a.project_id }, { doc.targets[1].region, doc.targets[1].project_id })
    assert.same({ "region-b", PROJECT_B }, { doc.targets[2].region, doc.targets[2].project_id })
    assert.equal(3, a:stats().stop_requests.total)
    assert.equal(2, b:stats().stop_requests.total)
    assert.equal(2, a:stats().calls.iam) -- GET /v3/projects?name=<region>, once per region
    assert.equal(0, iam_calls(b))
  end)

  it("--region a,b without --project-id but HUAWEICLOUD_SDK_PROJECT_ID set: refused, it is one region's", function()
    local r = run({ "ecs", "--region", "region-a,region-b", "--iam-endpoint", a.url, "--tag", "env=dev", "--yes" },
      { HUAWEICLOUD_SDK_PROJECT_ID = a.project_id })
    assert.equal(2, r.code, r.stderr)
    assert.truthy(r.stderr:find("HUAWEICLOUD_SDK_PROJECT_ID names one project, of one region", 1, true), r.stderr)
    assert.equal(0, a:stats().calls.total + b:stats().calls.total)
  end)

  it("--region a,b with one project id is still refused before any call (exit 2)", function()
    local r = run({ "ecs", "--region", "region-a,region-b", "--project-id", a.project_id, "--iam-endpoint", a.url,
      "--tag", "env=dev", "--yes" })
    assert.equal(2, r.code, r.stderr)
    assert.truthy(r.stderr:find("give one --project-id per region", 1, true), r.stderr)
    assert.equal(0, a:stats().calls.total + b:stats().calls.total)
  end)
end)
