-- cloud-stop and cloud-start over two regions (two emulators), with --region a,b and one
-- --project-id per region, or --all-projects (IAM's list of the account's projects), a
-- fleet's record, and the restore of it.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"

local FLEET_A = { ecs = { { count = 6, name = "web-a-%d", tags = { "env=dev" } } } }                      -- 1..6
local FLEET_B = { ecs = { { count = 6, name = "db-%d", tags = { "env=prod" } },
                          { count = 4, name = "web-b-%d", tags = { "env=dev" } } } }                     -- 7..10
local PROJECT_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
local START = { script = cli.root .. "/bin/cloud-start.lua" }

describe("cloud-stop over regions and projects", function()
  local a, b, env
  local files = {}

  setup(function()
    a = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET_A } })
    b = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET_B, project_id = PROJECT_B } })
    env = { HUAWEICLOUD_SDK_AK = a.ak, HUAWEICLOUD_SDK_SK = a.sk,
            HUAWEICLOUD_SDK_REGION_ECS_REGION_A = a.url, HUAWEICLOUD_SDK_REGION_ECS_REGION_B = b.url }
  end)
  teardown(function()
    for _, p in ipairs(files) do os.remove(p) end
    if a then a:stop() end
    if b then b:stop() end
  end)
  before_each(function()
    assert(a:configure{ faults = {}, iam = { projects = {
      { id = a.project_id, name = "region-a" }, { id = PROJECT_B, name = "region-b" },
      { id = "m0000000000000000000000000000000", name = "MOS" },
      { id = "c0000000000000000000000000000000", name = "region-c_dev", enabled = false } } } })
    assert(a:reset())
    assert(b:reset())
  end)

  local function run(argv, how, extra)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra or {}) do e[k] = v end
    argv[#argv + 1] = "--poll-interval"
    argv[#argv + 1] = "0.05"
    local r = cli.run(argv, e, how)
    assert.is_nil(r.stdout:find(a.sk, 1, true))
    assert.is_nil(r.stderr:find(a.sk, 1, true))
    return r
  end
  local function new_file()
    local p = os.tmpname()
    os.remove(p)
    files[#files + 1] = p
    return p
  end

  it("--region a,a --project-id P,P is refused before any call (exit 2): nothing is stopped twice", function()
    local r = run({ "ecs", "--region", "region-a,region-a", "--project-id", a.project_id .. "," .. a.project_id,
      "--tag", "env=dev", "--yes" })
    assert.are.equal(2, r.code, r.stderr)
    assert.truthy(r.stderr:find("same target", 1, true), r.stderr)
    assert.are.equal(0, a:stats().calls.total)
  end)

  it("--region a,b with a project each: both stopped, one record; cloud-start --from-record restores both", function()
    local rec = new_file()
    local r = run({ "ecs", "--region", "region-a,region-b", "--project-id", a.project_id .. "," .. PROJECT_B,
      "--tag", "env=dev", "--yes", "--json", "--record", rec })
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.is_true(doc.ok)
    assert.equal(10, #doc.stopped)
    assert.same({ "region-a", a.project_id }, { doc.targets[1].region, doc.targets[1].project_id })
    assert.same(ids.server_id("ecs", 1), doc.targets[1].result.stopped[1])
    assert.same({ "region-b", PROJECT_B }, { doc.targets[2].region, doc.targets[2].project_id })
    assert.equal(6, a:stats().stop_requests.total)
    assert.equal(4, b:stats().stop_requests.total)
    local s = run({ "--from-record", rec, "--yes" }, START)
    assert.equal(0, s.code, s.stderr)
    assert.truthy(s.stdout:find("ECS in 2 of 2 regions/projects: 10 of 10 started, 0 failed, 0 skipped", 1, true),
      s.stdout)
    assert.truthy(s.stdout:find("region%-b +" .. PROJECT_B .. " +4 of 4 started"), s.stdout)
    assert.same({ ACTIVE = 6 }, a:stats().servers.ecs)
    assert.same({ ACTIVE = 10 }, b:stats().servers.ecs)
    assert.equal(0, a:stats().start_requests.sent_more_than_once)
  end)

  it("--all-projects: the account's enabled projects of real regions, from IAM", function()
    local r = run({ "ecs", "--all-projects", "--tag", "env=dev", "--dry-run", "--json" }, nil,
      { HUAWEICLOUD_SDK_IAM_ENDPOINT = a.url })
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.equal(2, #doc.targets)
    assert.equal(10, #doc.selected)
    assert.equal(1, a:stats().calls.projects)
    assert.equal(0, a:stats().calls.action + b:stats().calls.action)
    -- Limited to the regions given.
    local only = run({ "ecs", "--all-projects", "--region", "region-b", "--tag", "env=dev", "--yes", "--json" }, nil,
      { HUAWEICLOUD_SDK_IAM_ENDPOINT = a.url })
    assert.equal(0, only.code, only.stderr)
    local d2 = cjson.decode(only.stdout)
    assert.equal(1, #d2.targets)
    assert.equal(PROJECT_B, d2.targets[1].project_id)
    assert.equal(0, a:stats().stop_requests.total)
    assert.equal(4, b:stats().stop_requests.total)
  end)

  it("a project the cloud does not know: the others go on, and the run exits 1", function()
    local r = run({ "ecs", "--region", "region-a,region-b", "--project-id",
      "ffffffffffffffffffffffffffffffff," .. PROJECT_B,
      "--tag", "env=dev", "--yes" })
    assert.equal(1, r.code, r.stderr)
    assert.truthy(r.stdout:find("ECS in 1 of 2 regions/projects: 4 of 4 stopped", 1, true), r.stdout)
    assert.truthy(r.stdout:find("not reached: Ecs.0403", 1, true), r.stdout)
    assert.equal(4, b:stats().stop_requests.total)
    assert.equal(0, a:stats().stop_requests.total)
  end)

  it("refuses what a fleet cannot do: no --yes, --endpoint, ids, mismatched project ids (exit 2)", function()
    local cases = {
      { { "ecs", "--region", "region-a,region-b", "--project-id", a.project_id .. "," .. PROJECT_B, "--tag",
        "env=dev" },
        "asks no questions" },
      { { "ecs", "--region", "region-a,region-b", "--project-id", a.project_id .. "," .. PROJECT_B, "--tag", "env=dev",
          "--yes", "--endpoint", a.url }, "--endpoint names one endpoint" },
      { { "ecs", "--region", "region-a,region-b", "--project-id", a.project_id .. "," .. PROJECT_B,
        ids.server_id("ecs", 1),
          "--yes" }, "server ids belong to one project" },
      { { "ecs", "--region", "region-a,region-b", "--project-id", a.project_id, "--tag", "env=dev", "--yes" },
        "give one --project-id per region" },
    }
    for _, c in ipairs(cases) do
      local r = run(c[1])
      assert.equal(2, r.code, r.stderr)
      assert.truthy(r.stderr:find(c[2], 1, true), r.stderr)
    end
    assert.equal(0, a:stats().calls.total + b:stats().calls.total)
  end)
  it("on Ctrl-C reaches every region: exit 130, each target's accepted jobs in the partial --json", function()
    local socket = require "socket"
    for _, fc in ipairs({ a, b }) do assert(fc:configure{ job_duration = 60 }) end
    finally(function() for _, fc in ipairs({ a, b }) do fc:configure{ job_duration = 0.02 } end end)
    local base = os.tmpname()
    local cmd = cli.command({ "ecs", "--region", "region-a,region-b", "--project-id", a.project_id .. "," .. PROJECT_B,
      "--tag", "env=dev", "--yes", "--json", "--poll-interval", "0.05" }, env)
    os.execute(("(cd %s && %s </dev/null >%s 2>%s & echo $! >%s; wait $!; echo $? >%s) >/dev/null 2>&1 &"):format(
      cli.quote(cli.root), cmd, cli.quote(base .. ".out"), cli.quote(base .. ".err"), cli.quote(base .. ".pid"),
      cli.quote(base .. ".rc")))
    local deadline = socket.gettime() + 20
    while (a:stats().stop_requests.total < 6 or b:stats().stop_requests.total < 4) and socket.gettime() < deadline do
      socket.sleep(0.05)
    end
    socket.sleep(0.5) -- the job ids reach the client, which then polls the jobs
    os.execute("kill -INT " .. cli.slurp(base .. ".pid"):match("%d+"))
    local rc
    repeat
      rc = tonumber(cli.slurp(base .. ".rc"):match("%d+") or "")
      if not rc then socket.sleep(0.05) end
    until rc or socket.gettime() > deadline
    local out, err = cli.slurp(base .. ".out"), cli.slurp(base .. ".err")
    for _, ext in ipairs({ "", ".out", ".err", ".pid", ".rc" }) do os.remove(base .. ext) end
    assert.equal(130, rc, err)
    assert.truthy(err:find("interrupted", 1, true), err)
    local doc = cjson.decode(out)
    assert.is_false(doc.ok)
    assert.equal(2, #doc.targets)
    assert.equal(1, #doc.targets[1].result.jobs)
    assert.equal(1, #doc.targets[2].result.jobs)
    assert.equal(2, #doc.jobs)
    assert.equal(10, #doc.failed + #doc.stopped)
  end)
end)
