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
