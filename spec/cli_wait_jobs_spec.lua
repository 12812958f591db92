-- The operator's follow-up: cloud-stop ... --no-wait prints job ids; cloud-stop ecs
-- --wait-jobs ID,... waits on them as a waiting stop would (progress, result, --json, exit
-- status), and --output tsv writes a result for cut and awk. Processes against the
-- emulator, the project found through IAM (support.cloudenv's default_env).
local cjson = require "cjson"
local cli = require "spec.support.cli"
local cloudenv = require "spec.support.cloudenv"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"

local FLEET = {
  ecs = {
    { count = 6, name = "web-%d", tags = { "env=staging" } },                      -- 1..6
    { count = 2, name = "off-%d", tags = { "env=staging" }, status = "SHUTOFF" }, -- 7..8
  },
}
local START = { script = cli.root .. "/bin/cloud-start.lua" }

local function ecs(n) return ids.server_id("ecs", n) end

describe("cloud-stop --wait-jobs and --output tsv", function()
  local fc, env

  local function run(argv, how)
    local r = cli.run(argv, env, how)
    assert.is_nil(r.stdout:find(fc.sk, 1, true), "the SK was printed on stdout")
    assert.is_nil(r.stderr:find(fc.sk, 1, true), "the SK was printed on stderr")
    return r
  end
  local function at(...)
    local argv = { ... }
    for _, a in ipairs({ "--poll-interval", "0.05", "--wait-timeout", "120" }) do argv[#argv + 1] = a end
    return argv
  end
  local function status(n) return fc:server(ecs(n)).status end
  local function calls()
    local n = 0
    for _, c in pairs(fc:stats().calls) do n = n + c end
    return n
  end
  -- The job ids of a --no-wait run's text summary ("Jobs N:" then "  <id>  K servers").
  local function printed_jobs(text)
    local out = {}
    for id in text:gmatch("\n  (%S+)  %d+ servers") do out[#out + 1] = id end
    return out
  end

  setup(function()
    -- Jobs take long enough that the --no-wait run surely returns before they end.
    fc = assert(launcher.start{ config = { job_duration = 1, fleet = FLEET } })
    env = cloudenv.default_env(fc)
  end)
  teardown(function()
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 1 })
    assert(fc:reset())
  end)

  it("waits on the jobs --no-wait printed: servers reported stopped, exit 0", function()
    local r = run(at("ecs", ecs(1), ecs(2), ecs(3), "--no-wait"))
    assert.equal(0, r.code, r.stderr)
    local jobs = printed_jobs(r.stdout)
    assert.equal(1, #jobs, r.stdout)

    r = run(at("ecs", "--wait-jobs", table.concat(jobs, ","), "--json"))
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.is_true(doc.ok)
    assert.equal(3, doc.requested)
    table.sort(doc.stopped)
    local want = { ecs(1), ecs(2), ecs(3) }
    table.sort(want)
    assert.same(want, doc.stopped)
    assert.equal(jobs[1], doc.jobs[1].job_id)
    assert.equal("SUCCESS", doc.jobs[1].status)
    for n = 1, 3 do assert.equal("SHUTOFF", status(n)) end
    assert.equal(3, fc:stats().stop_requests.total) -- waiting sends no stop: each server asked once
    assert.equal(1, fc:stats().calls.action)
  end)

  it("runs under Lua 5.1 too, the CLI's oldest interpreter", function()
    local how = { interpreter = "lua5.1" }
    local r = run(at("ecs", ecs(1), "--no-wait"), how)
    assert.equal(0, r.code, r.stderr)
    r = run(at("ecs", "--wait-jobs", printed_jobs(r.stdout)[1], "--output", "tsv"), how)
    assert.equal(0, r.code, r.stderr)
    assert.equal("id\tname\tstatus\toutcome\tcode\tdetail\n" .. ecs(1) .. "\t\t\tstopped\t\t\n", r.stdout)
  end)

  it("reports as a waiting stop: text summary, progress on stderr, ids pasted blank-separated", function()
    local r = run(at("ecs", ecs(4), "--no-wait"))
    local a = printed_jobs(r.stdout)
    r = run(at("ecs", ecs(5), "--no-wait"))
    local b = printed_jobs(r.stdout)
    r = run(at("ecs", "--wait-jobs", a[1] .. " " .. b[1]))
    assert.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("^ECS: 2 of 2 stopped, 0 failed, 0 skipped"), r.stdout)
    assert.truthy(r.stderr:find("cloud-stop: ecs finished in", 1, true), r.stderr)
  end)

  it("skips a server its job found already SHUTOFF, as a waiting stop does", function()
    local r = run(at("ecs", ecs(6), ecs(7), "--no-wait", "--json"))
    assert.equal(0, r.code, r.stderr)
    local job = cjson.decode(r.stdout).jobs[1].job_id
    r = run(at("ecs", "--wait-jobs", job, "--json"))
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.same({ ecs(6) }, doc.stopped)
    assert.equal(1, #doc.skipped)
    assert.equal(ecs(7), doc.skipped[1].id)
    assert.equal("already SHUTOFF", doc.skipped[1].reason)
  end)

  it("cloud-start --wait-jobs follows a start's jobs", function()
    local r = run(at("ecs", ecs(7), ecs(8), "--no-wait", "--json"), START)
    assert.equal(0, r.code, r.stderr)
    local job = cjson.decode(r.stdout).jobs[1].job_id
    r = run(at("ecs", "--wait-jobs", job, "--json"), START)
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.equal(2, #doc.started)
    assert.equal("ACTIVE", status(7))
    -- A start's job is not a stop's: cloud-stop refuses to report it as one.
    r = run(at("ecs", "--wait-jobs", job, "--json"))
    assert.equal(1, r.code, r.stderr)
    assert.equal("cloud.job_type", cjson.decode(r.stdout).jobs[1].error.code)
  end)

  it("an unknown job id: listed with the cloud's code, exit 1", function()
    local r = run(at("ecs", "--wait-jobs", "ff00ff00ff00ff00ff00ff00ff00ff00"))
    assert.equal(1, r.code, r.stderr)
    assert.truthy(r.stdout:find("Jobs not read 1:", 1, true), r.stdout)
    assert.truthy(r.stdout:find("ff00ff00ff00ff00ff00ff00ff00ff00%s+Common%.0011"), r.stdout)
    r = run(at("ecs", "--wait-jobs", "ff00ff00ff00ff00ff00ff00ff00ff00", "--json"))
    assert.equal(1, r.code)
    local doc = cjson.decode(r.stdout)
    assert.is_false(doc.ok)
    assert.equal("Common.0011", doc.jobs[1].error.code)
    assert.equal(0, doc.requested)
  end)

  it("refuses a malformed job id, and --wait-jobs with a choice of servers, before any call (exit 2)", function()
    local before = calls()
    for _, argv in ipairs({
      { "ecs", "--wait-jobs", "../servers" },
      { "ecs", "--wait-jobs", "a%2fb" },
      { "ecs", "--wait-jobs", "," },
      { "ecs", "--wait-jobs", "abc", ecs(1) },
      { "ecs", "--wait-jobs", "abc", "--name", "^web" },
      { "ecs", "--wait-jobs", "abc", "--no-wait" },
      { "ecs", "--wait-jobs", "abc", "--region", "cn-north-4,cn-east-3" },
    }) do
      local r = run(argv)
      assert.equal(2, r.code, table.concat(argv, " ") .. ": " .. r.stderr)
      assert.truthy(r.stderr:find("--wait-jobs", 1, true), r.stderr)
    end
    assert.truthy(run({ "ecs", "--wait-jobs", "x/y" }).stderr:find("'x/y'", 1, true))
    assert.equal(before, calls())
  end)

  describe("--output tsv", function()
    local function rows(text)
      local out = {}
      for line in text:gmatch("([^\n]*)\n") do
        local f = {}
        for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
        out[#out + 1] = f
      end
      return out
    end

    it("one line a server under a header, six fields each, cut-able", function()
      local r = run(at("ecs", "--tag", "env=staging", "--yes", "--output", "tsv"))
      assert.equal(0, r.code, r.stderr)
      local t = rows(r.stdout)
      assert.same({ "id", "name", "status", "outcome", "code", "detail" }, t[1])
      assert.equal(9, #t)
      local by = {}
      for i = 2, #t do
        assert.equal(6, #t[i], r.stdout)
        by[t[i][1]] = t[i]
      end
      assert.same({ ecs(1), "web-1", "ACTIVE", "stopped", "", "" }, by[ecs(1)])
      assert.same({ ecs(7), "off-1", "SHUTOFF", "skipped", "", "already SHUTOFF" }, by[ecs(7)])
      -- What a shell pipeline does with it.
      local p = io.popen("printf '%s' " .. cli.quote(r.stdout) .. " | awk -F'\\t' '$4 == \"stopped\"' | wc -l")
      local n = tonumber(p:read("*a"))
      p:close()
      assert.equal(6, n)
    end)

    it("fails and dry runs as rows; --output json is --json; a bad format is refused", function()
      local r = run(at("ecs", ecs(1), "no-such-server", "--output", "tsv"))
      assert.equal(1, r.code, r.stderr)
      local t = rows(r.stdout)
      local failed
      for _, f in ipairs(t) do if f[1] == "no-such-server" then failed = f end end
      assert.equal("failed", failed[4])
      assert.truthy(#failed[5] > 0)

      r = run(at("ecs", "--name", "^web", "--dry-run", "--output", "tsv"))
      assert.equal(0, r.code, r.stderr)
      assert.equal(7, #rows(r.stdout))
      assert.equal("would-stop", rows(r.stdout)[2][4])

      r = run(at("ecs", ecs(2), "--output", "json"))
      assert.equal(0, r.code, r.stderr)
      assert.same({ ecs(2) }, cjson.decode(r.stdout).stopped)

      r = run(at("ecs", ecs(2), "--output", "csv"))
      assert.equal(2, r.code)
      assert.truthy(r.stderr:find("--output wants text, json or tsv", 1, true), r.stderr)
      r = run(at("ecs", ecs(2), "--output", "tsv", "--json"))
      assert.equal(2, r.code)
    end)

    it("escapes tabs, newlines and backslashes in values", function()
      local tsv = require "cloud.cli.tsv"
      assert.equal("a\\tb\\nc\\\\d\\re\\x01", tsv.field("a\tb\nc\\d\re\1"))
      assert.equal("", tsv.field(nil))
      local out = {}
      tsv.write({ write = function(_, ...) for _, s in ipairs({ ... }) do out[#out + 1] = s end end },
        { requested = 1, stopped = {}, failed = { { id = "x", code = "C.1", message = "line1\nline2\tend" } },
          skipped = {} })
      local text = table.concat(out)
      assert.equal("id\tname\tstatus\toutcome\tcode\tdetail\nx\t\t\tfailed\tC.1\tline1\\nline2\\tend\n", text)
    end)
  end)
end)
