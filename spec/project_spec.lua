-- The project id looked up in IAM when none is configured: lazily (cloud.new makes no
-- call), signed like every call, exactly one match, kept per process by AK, region and
-- IAM endpoint. Run in fresh processes with nothing configured: HOME is an empty folder
-- and no HUAWEICLOUD_* variable is set.
local env = require "support.cloudenv"
local subprocess = require "support.subprocess"
local cjson = require "cjson"

local function empty_home()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  return dir
end

-- Runs `code` in a fresh interpreter: FC, IDS and the emulator's keys are given to it.
local function run(fc, code, extra_env)
  local prelude = ([[
    local cloud = require "cloud"
    local cjson = require "cjson"
    local FC = { url = %q, ak = %q, sk = %q }
    local function ids(from, to)
      local out = {}
      for n = from, to do out[#out + 1] = require("fakecloud.ids").server_id("ecs", n) end
      return out
    end
    local function new(over)
      local o = { region = "cn-north-4", ak = FC.ak, sk = FC.sk, endpoints = { ecs = FC.url, iam = FC.url },
                  retry = { attempts = 2, base = 0.01, cap = 0.02 } }
      for k, v in pairs(over or {}) do o[k] = v end
      return cloud.new(o)
    end
  ]]):format(fc.url, fc.ak, fc.sk)
  local vars = { HOME = empty_home() }
  for k, v in pairs(extra_env or {}) do vars[k] = v end
  local out, status = subprocess.run(prelude .. code, vars)
  os.execute("rm -rf " .. vars.HOME)
  return out, status
end

describe("project id discovery", function()
  local fc
  setup(function()
    fc = env.start{ job_duration = 0.02, project_id = "f00dcafe0000000000000000000000aa" }
  end)
  teardown(function() fc:stop() end)
  before_each(function()
    assert(fc:configure{ iam = { enabled = true }, faults = {} })
    assert(fc:reset())
  end)

  it("finds the project in IAM at the first call; two clients in one process ask once", function()
    local out = run(fc, [[
      local a = assert(new())
      local b = assert(new())
      print("after new", a.project_id == nil, b.project_id == nil)
      local r1 = assert(a:stop_ecs{ ids = ids(1, 3), poll_interval = 0.02 })
      local r2 = assert(b:stop_ecs{ ids = ids(4, 5), poll_interval = 0.02 })
      print("stopped", #r1.stopped, #r2.stopped, r1.ok and r2.ok, a.project_id)
      print("listed", #assert(b:list_ecs{}))
    ]])
    assert.truthy(out:find("after new\ttrue\ttrue", 1, true), out)
    assert.truthy(out:find("stopped\t3\t2\ttrue\tf00dcafe0000000000000000000000aa", 1, true), out)
    assert.truthy(out:find("listed\t10", 1, true), out)
    local st = fc:stats()
    assert.are.equal(1, st.calls.iam)
    assert.are.equal(0, st.signature_failures)
    assert.are.equal(0, st.statuses["403"] or 0) -- the emulator refuses any other project id
  end)

  it("makes no call in cloud.new, and none when nothing is to be sent", function()
    run(fc, [[
      local a = assert(new())
      assert(a:stop_ecs{ ids = {} })
    ]])
    assert.are.equal(0, fc:stats().calls.total)
  end)

  it("asks again for another AK, region or IAM endpoint", function()
    assert(fc:configure{ credentials = { { ak = fc.ak, sk = fc.sk }, { ak = "OTHERAK0000000000000", sk = "OTHERSK" } },
                         iam = { projects = { { id = "f00dcafe0000000000000000000000aa", name = "cn-north-4" },
                                              { id = "f00dcafe0000000000000000000000bb", name = "cn-east-3" } } } })
    local out = run(fc, [[
      local a = assert(new())
      local b = assert(new{ ak = "OTHERAK0000000000000", sk = "OTHERSK" })
      local c = assert(new{ region = "cn-east-3" })
      local d = assert(new{ endpoints = { ecs = FC.url, iam = FC.url .. "/" } })
      for _, x in ipairs({ a, b, c, d }) do x:stop_ecs{ ids = {}, dry_run = true } end
      assert(a:list_ecs{}) assert(b:list_ecs{}) assert(d:list_ecs{})
      print(c:list_ecs{})
      print(a.project_id, b.project_id, c.project_id)
    ]])
    assert.truthy(out:find("f00dcafe0000000000000000000000aa\tf00dcafe0000000000000000000000aa\t"
      .. "f00dcafe0000000000000000000000bb", 1, true), out)
    assert.are.equal(4, fc:stats().calls.iam)
  end)

  it("wants exactly one match: none or several is nil, err naming the region and what was found", function()
    assert(fc:configure{ iam = { projects = { { id = "aaaa", name = "cn-east-3" } } } })
    local out = run(fc, [[
      local a = assert(new())
      local res, err = a:stop_ecs{ ids = ids(1, 1) }
      print(res, err.code, err.kind, err.message)
    ]])
    assert.truthy(out:find("nil\tcloud.no_project_id\tconfig\t", 1, true), out)
    assert.truthy(out:find("no project named cn-north-4", 1, true), out)
    assert.truthy(out:find("options: not given; HUAWEICLOUD_SDK_PROJECT_ID: not set; credentials file ", 1, true), out)
    assert.truthy(out:find("/v3/projects?name=cn-north-4", 1, true), out)
    assert(fc:configure{ iam = { projects = { { id = "p1", name = "cn-north-4" },
                                              { id = "p2", name = "cn-north-4" } } } })
    out = run(fc, [[
      local res, err = assert(new()):list_ecs{}
      print(res, err.code, err.message)
    ]])
    assert.truthy(out:find("2 projects named cn-north-4 (p1, p2); pass project_id", 1, true), out)
    assert.are.equal(0, fc:stats().calls.action + fc:stats().calls.list)
  end)

  it("says why IAM did not answer, and tries again at the next call", function()
    assert(fc:configure{ iam = { enabled = false } })
    local out = run(fc, [[
      local a = assert(new())
      local res, err = a:stop_ecs{ ids = ids(1, 1) }
      print(err.code, err.status, err.message)
      print(a:stop_ecs{ ids = ids(1, 1) } == nil)
    ]])
    -- The answer's own code is the headline; where it came from follows.
    assert.truthy(out:find("APIGW.0101\t404\t", 1, true), out)
    assert.truthy(out:find("while looking up the project id in IAM, GET ", 1, true), out)
    assert.are.equal(2, fc:stats().calls.iam)
  end)

  it("reports a wrong secret key as the signature error, its request id once", function()
    local out = run(fc, [[
      local a = assert(new{ sk = "WRONGSECRET" .. ("9"):rep(28) })
      local res, err = a:stop_ecs{ ids = ids(1, 1) }
      print("err", res, err.code, err.kind, err.status, err.request_id)
      print("text", tostring(err))
    ]])
    local code, kind, status, rid = out:match("err\tnil\t(%S+)\t(%S+)\t(%S+)\t(%x+)")
    assert.are.equal("APIGW.0301", code, out)
    assert.are.equal("cloud", kind)
    assert.are.equal("401", status)
    local text = out:match("text\t([^\n]*)")
    assert.truthy(text:find("^APIGW%.0301: "), text)
    local _, n = text:gsub(rid, "")
    assert.are.equal(1, n, text)
    _, n = text:gsub("HTTP 401", "")
    assert.are.equal(1, n, text)
    assert.truthy(text:find("while looking up the project id in IAM", 1, true), text)
    assert.is_nil(text:find("WRONGSECRET", 1, true))
    assert.is_nil(text:find("cloud.no_project_id", 1, true))
    local st = fc:stats()
    assert.are.equal(1, st.calls.iam) -- a refused signature is never sent again
    assert.are.equal(0, st.calls.action + st.calls.list)
  end)

  it("retries IAM through throttling like any call", function()
    assert(fc:configure{ faults = { seed = 3, status = { [503] = 0.6 }, apply_to = { iam = true, action = false,
                                                                                    job = false, list = false } } })
    local out = run(fc, [[
      local a = assert(new{ retry = { attempts = 8, base = 0.01, cap = 0.02 } })
      local res = assert(a:stop_ecs{ ids = ids(1, 2), poll_interval = 0.02 })
      print("ok", res.ok)
    ]])
    assert.truthy(out:find("ok\ttrue", 1, true), out)
    local st = fc:stats()
    assert.truthy(st.calls.iam > 1, cjson.encode(st.calls))
  end)

  it("needs a region to look one up by", function()
    local out = run(fc, [[
      local c, err = cloud.new{ ak = FC.ak, sk = FC.sk, endpoints = { ecs = FC.url, iam = FC.url } }
      print(c, err.code, err.message)
    ]])
    assert.truthy(out:find("nil\tcloud.no_project_id\t", 1, true), out)
    assert.truthy(out:find("IAM: nothing to look up without a region", 1, true), out)
    assert.are.equal(0, fc:stats().calls.total)
  end)
end)
