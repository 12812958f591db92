-- Enterprise projects: a caller whose rights come through enterprise projects (EPS) sees
-- servers only in lists that name them. The client names `all_granted_eps` by default (as
-- the Terraform provider does), `false` names none, and a filter may name one. Both
-- readings of a list naming none (an empty list, or 403 Pdp.0001) are the emulator's.
-- Over real HTTP on 127.0.0.1; runs under lua5.4 and luajit.
package.path = "tools/?.lua;" .. package.path

local cloud = require "cloud"
local env = require "spec.support.cloudenv"
local cli = require "spec.support.cli"

local FLEET = {
  ecs = {
    { count = 6, name = "a-%d", tags = { "env=dev" }, enterprise_project_id = "eps-a" },         -- 1..6
    { count = 4, name = "b-%d", tags = { "env=dev" }, enterprise_project_id = "eps-b" },         -- 7..10
    { count = 3, name = "other-%d", tags = { "env=dev" } },                                      -- 11..13, EPS "0"
    { count = 2, name = "a-off-%d", tags = { "env=dev" }, status = "SHUTOFF", enterprise_project_id = "eps-a" },
    { count = 1, name = "a-keep", tags = { "env=dev", "stop-protect=true" }, enterprise_project_id = "eps-a" },
  },
  bms = { { count = 3, name = "bm-%d", enterprise_project_id = "eps-a" }, { count = 2, name = "bm-x-%d" } },
}
local GRANTED = { granted = { "eps-a", "eps-b" } }

describe("enterprise projects", function()
  local fc

  setup(function() fc = env.start{ fleet = FLEET, job_duration = 0.05 } end)
  teardown(function() if fc then fc:stop() end end)

  local function scoped(unnamed)
    assert(fc:configure{ fleet = FLEET, enterprise_projects = { granted = GRANTED.granted, unnamed = unnamed } })
    assert(fc:reset())
  end

  local function dev_dry_run(c, filter)
    filter = filter or {}
    filter.tags = { env = "dev" }
    return c:stop_ecs{ filter = filter, dry_run = true }
  end

  local function names(list)
    local out = {}
    for _, s in ipairs(list) do out[#out + 1] = s.name end
    table.sort(out)
    return out
  end

  for _, unnamed in ipairs({ "empty", "forbidden" }) do
    describe("a user scoped to two EPSs, a list naming none " .. unnamed, function()
      before_each(function() scoped(unnamed) end)

      it("finds the servers of the granted EPSs by default (all_granted_eps)", function()
        local c = env.default_client(fc)
        local res = assert(dev_dry_run(c))
        -- eps-a's and eps-b's active servers; the SHUTOFF and the protected one skipped.
        assert.are.equal(10, #res.selected)
        for _, s in ipairs(res.selected) do assert.truthy(s.name:match("^[ab]%-%d$"), s.name) end
        assert.are.same({ "a-keep", "a-off-1", "a-off-2" }, names(res.skipped))
        assert.are.same({ "bm-1", "bm-2", "bm-3" }, names(assert(c:list_bms())))
        c:close()
      end)

      it("a filter's enterprise_project_id lists that EPS only; another EPS is refused", function()
        local c = env.default_client(fc)
        local res = assert(dev_dry_run(c, { enterprise_project_id = "eps-b" }))
        assert.are.same({ "b-1", "b-2", "b-3", "b-4" }, names(res.selected))
        local none, err = dev_dry_run(c, { enterprise_project_id = "0" })
        assert.is_nil(none)
        assert.are.equal("Pdp.0001", err.code)
        c:close()
      end)

      it("with enterprise_project_id = false, finds none and says why", function()
        local c = env.default_client(fc, { enterprise_project_id = false })
        local res, err = dev_dry_run(c)
        if unnamed == "empty" then
          assert(res, err)
          assert.are.same({}, res.selected)
          assert.truthy(res.hint:find("enterprise project", 1, true), res.hint)
        else
          assert.is_nil(res)
          assert.are.equal("Pdp.0001", err.code)
        end
        c:close()
      end)

      it("stops by id whatever the option, protected and already-off servers told apart", function()
        local c = env.default_client(fc)
        local ids = { env.id("ecs", 1), env.id("ecs", 14), env.id("ecs", 16), env.id("ecs", 11) }
        local res = c:stop_ecs{ ids = ids, poll_interval = 0.05, wait_timeout = 60 }
        assert.are.same({}, res.failed)
        table.sort(res.stopped)
        local want = { env.id("ecs", 1), env.id("ecs", 11) }
        table.sort(want)
        assert.are.same(want, res.stopped)
        local reasons = {}
        for _, s in ipairs(res.skipped) do reasons[s.id] = s.reason end
        assert.are.equal("protected", reasons[env.id("ecs", 16)])
        assert.are.equal("already SHUTOFF", reasons[env.id("ecs", 14)])
        assert.are.equal(2, #res.skipped)
        c:close()
      end)

      it("bare-metal lookups see the granted EPSs' servers", function()
        local c = env.default_client(fc)
        local bm = env.ids("bms", 1, 2)
        assert.are.same({}, c:stop_bms{ ids = bm, poll_interval = 0.05, wait_timeout = 60 }.failed)
        local again = c:stop_bms{ ids = bm, poll_interval = 0.05, wait_timeout = 60 }
        assert.are.same({}, again.failed)
        assert.are.equal(2, #again.skipped)
        c:close()
      end)
    end)
  end

  describe("a user with rights on the whole project", function()
    before_each(function()
      assert(fc:configure{ fleet = FLEET, enterprise_projects = require("cjson").null })
      assert(fc:reset())
    end)

    it("sees every server with the default, and with false", function()
      for _, eps in ipairs({ "all_granted_eps", false }) do
        local c = env.default_client(fc, { enterprise_project_id = eps })
        assert.are.equal(13, #assert(dev_dry_run(c)).selected)
        c:close()
      end
    end)
  end)

  describe("bad values", function()
    it("raise naming the field, before any request", function()
      local before = fc:stats().calls.total
      for _, bad in ipairs({ true, 5, "", "a b", "eps/1", ("x"):rep(65), {} }) do
        local ok, e = pcall(cloud.new, { region = "cn-north-4", ak = fc.ak, sk = fc.sk,
          endpoints = { ecs = fc.url, iam = fc.url }, enterprise_project_id = bad })
        assert.is_false(ok)
        assert.are.equal("enterprise_project_id", e.field)
        local c = env.default_client(fc)
        ok, e = pcall(dev_dry_run, c, { enterprise_project_id = bad })
        assert.is_false(ok)
        assert.are.equal("filter.enterprise_project_id", e.field)
        c:close()
      end
      assert.are.equal(before, fc:stats().calls.total)
    end)

    it("an EPS alone chooses nothing: a filter still needs a choice", function()
      local c = env.default_client(fc)
      local ok, e = pcall(c.stop_ecs, c, { filter = { enterprise_project_id = "eps-a" } })
      assert.is_false(ok)
      assert.are.equal("filter", e.field)
      c:close()
    end)
  end)

  describe("cloud-stop --enterprise-project-id", function()
    before_each(function() scoped("empty") end)

    local function run(...)
      local r = cli.run({ "ecs", "--tag", "env=dev", "--dry-run", ... }, env.default_env(fc))
      assert.is_nil((r.stdout .. r.stderr):find(fc.sk, 1, true), "the SK was printed")
      return r
    end

    it("lists every granted EPS by default, one EPS when named, none with 'none'", function()
      local r = run()
      assert.are.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find("b-4", 1, true), r.stdout)
      r = run("--enterprise-project-id", "eps-a")
      assert.are.equal(0, r.code, r.stderr)
      assert.is_nil(r.stdout:find("b-4", 1, true), r.stdout)
      assert.truthy(r.stdout:find("a-6", 1, true), r.stdout)
      r = run("--enterprise-project-id", "none")
      assert.are.equal(0, r.code, r.stderr)
      assert.truthy(r.stderr:find("--enterprise-project-id none", 1, true), r.stderr)
    end)

    it("a malformed value is a usage error naming the flag, nothing sent", function()
      local before = fc:stats().calls.total
      local r = run("--enterprise-project-id", "a b")
      assert.are.equal(2, r.code)
      assert.truthy(r.stderr:find("--enterprise-project-id must be", 1, true), r.stderr)
      assert.are.equal(before, fc:stats().calls.total)
    end)
  end)
end)
