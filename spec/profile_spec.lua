-- Profiles: the [NAME] section of the credentials file, for operators who hold several
-- accounts in one file: `profile = "staging"` in cloud.new, HUAWEICLOUD_SDK_PROFILE, the
-- CLI's --profile, and a fleet whose targets name different profiles (so different
-- accounts). A section that is missing is an error naming the file and the section.
local env = require "support.cloudenv"
local cli = require "spec.support.cli"
local cloud = require "cloud"
local cjson = require "cjson"

local FLEET = { ecs = { { count = 3, name = "web-%d" } } }
-- The emulator knows only the staging account's keys; [basic] holds another account's.
local STAGING = { ak = "STAGINGAK", sk = "STAGINGSECRETSK0123456789" }
local PROD = { ak = "PRODAK", sk = "PRODSECRETSK0123456789" }

describe("profiles", function()
  local fc, prod, dir, file

  local function write(path, text)
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
  end

  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = FLEET, credentials = { STAGING } }
    prod = env.start{ job_duration = 0.02, fleet = FLEET, credentials = { PROD } }
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. cli.quote(dir)))
    file = dir .. "/credentials"
    write(file, ("[basic]\nak = BASICAK\nsk = BASICSECRETSK\n\n[staging]\nak = %s\nsk = %s\n\n"
      .. "[ prod ]\n; the prod account\nak = %s\nsk = %s\n"):format(STAGING.ak, STAGING.sk, PROD.ak, PROD.sk))
    assert(os.execute("chmod 600 " .. cli.quote(file)))
  end)
  teardown(function()
    os.remove(file)
    os.remove(dir)
    if fc then fc:stop() end
    if prod then prod:stop() end
  end)
  before_each(function()
    for _, e in ipairs({ fc, prod }) do
      assert(e:configure{ faults = {}, fleet = FLEET, job_duration = 0.02 })
      assert(e:reset())
    end
  end)

  local function new(vars, opts)
    return env.with_env(vars, function() return cloud.new(opts) end)
  end

  local function opts_for(e, over)
    local o = { region = "cn-north-4", endpoints = { ecs = e.url, bms = e.url, iam = e.url },
                retry = { attempts = 2, base = 0.01, cap = 0.02 }, metadata_fallback = false }
    for k, v in pairs(over or {}) do o[k] = v end
    return o
  end

  it("profile = \"staging\" reads [staging], whatever the environment holds; the default stays [basic]", function()
    local vars = { HUAWEICLOUD_SDK_CREDENTIALS_FILE = file, HUAWEICLOUD_SDK_AK = "ENVAK",
                   HUAWEICLOUD_SDK_SK = "ENVSECRETSK" }
    local c = assert(new(vars, opts_for(fc, { profile = "staging" })))
    assert.truthy(tostring(c):find("ak=STAG", 1, true), tostring(c))
    local res = assert(c:stop_ecs{ ids = env.ids("ecs", 1, 2), poll_interval = 0.02 })
    c:close()
    assert.is_true(res.ok, cjson.encode(res.failed))
    assert.are.equal("SHUTOFF", fc:server(env.id("ecs", 1)).status)
    -- A section whose name has spaces inside its brackets is the same section.
    c = assert(new(vars, opts_for(prod, { profile = "prod" })))
    assert.truthy(tostring(c):find("ak=PROD", 1, true), tostring(c))
    c:close()
    -- No profile: the environment's keys, then [basic], as before.
    c = assert(new(vars, opts_for(fc)))
    assert.truthy(tostring(c):find("ak=ENVA", 1, true), tostring(c))
    c:close()
    c = assert(new({ HUAWEICLOUD_SDK_CREDENTIALS_FILE = file }, opts_for(fc)))
    assert.truthy(tostring(c):find("ak=BASI", 1, true), tostring(c))
    c:close()
  end)

  it("HUAWEICLOUD_SDK_PROFILE names the section too; a missing one is an error naming file and section", function()
    local c = assert(new({ HUAWEICLOUD_SDK_CREDENTIALS_FILE = file, HUAWEICLOUD_SDK_PROFILE = "staging" },
      opts_for(fc)))
    assert.truthy(tostring(c):find("ak=STAG", 1, true), tostring(c))
    c:close()
    for _, case in ipairs({
      { { HUAWEICLOUD_SDK_CREDENTIALS_FILE = file }, { profile = "staging2" }, "profile 'staging2': " },
      { { HUAWEICLOUD_SDK_CREDENTIALS_FILE = file, HUAWEICLOUD_SDK_PROFILE = "qa" }, {},
        "profile 'qa' (from HUAWEICLOUD_SDK_PROFILE): " },
    }) do
      local none, err = new(case[1], opts_for(fc, case[2]))
      assert.is_nil(none)
      assert.are.same({ "cloud.no_credentials", "config" }, { err.code, err.kind })
      local section = case[2].profile or case[1].HUAWEICLOUD_SDK_PROFILE
      assert.are.equal(case[3] .. "credentials file " .. file .. " has no [" .. section .. "] section", err.message)
    end
    -- No file at all: named as such.
    local none, err = new({ HUAWEICLOUD_SDK_CREDENTIALS_FILE = dir .. "/absent" }, opts_for(fc, { profile = "x" }))
    assert.is_nil(none)
    assert.truthy(err.message:find("profile 'x': credentials file " .. dir .. "/absent not found", 1, true),
      err.message)
    -- A malformed name: raised for the option, returned for the environment.
    for _, bad in ipairs({ "", "a]b", "a\nb", " x", ("p"):rep(65) }) do
      local ok, e = pcall(cloud.new, opts_for(fc, { profile = bad }))
      assert.is_false(ok)
      assert.are.same({ "argument", "profile" }, { e.kind, e.field })
    end
    none, err = new({ HUAWEICLOUD_SDK_PROFILE = "a]b" }, opts_for(fc))
    assert.is_nil(none)
    assert.are.equal("cloud.bad_environment", err.code)
    assert.truthy(err.message:find("HUAWEICLOUD_SDK_PROFILE", 1, true), err.message)
    -- A profile names where the keys come from: not with keys passed.
    local ok, e = pcall(cloud.new, opts_for(fc, { profile = "staging", ak = "A", sk = "B" }))
    assert.is_false(ok)
    assert.are.same({ "argument", "profile" }, { e.kind, e.field })
  end)

  it("a fleet spans accounts: each target names its profile", function()
    local f = env.with_env({ HUAWEICLOUD_SDK_CREDENTIALS_FILE = file }, function()
      return cloud.fleet{ retry = { attempts = 2, base = 0.01, cap = 0.02 }, metadata_fallback = false,
        targets = { { region = "cn-north-4", endpoints = { ecs = fc.url, bms = fc.url }, profile = "staging",
                      project_id = fc.project_id },
                    { region = "cn-north-4", endpoints = { ecs = prod.url, bms = prod.url }, profile = "prod",
                      project_id = prod.project_id } } }
    end)
    local res = assert(f:stop_ecs{ filter = { all = true }, poll_interval = 0.02 })
    f:close()
    assert.is_true(res.ok, cjson.encode(res))
    for _, e in ipairs({ fc, prod }) do
      for n = 1, 3 do assert.are.equal("SHUTOFF", e:server(env.id("ecs", n)).status) end
    end
  end)

  describe("cloud-stop --profile", function()
    local function vars(e)
      local v = env.default_env(e)
      v.HUAWEICLOUD_SDK_AK, v.HUAWEICLOUD_SDK_SK = nil, nil
      v.HUAWEICLOUD_SDK_CREDENTIALS_FILE, v.CLOUD_METADATA_FALLBACK = file, "off"
      return v
    end

    it("--profile staging uses [staging]; without it [basic] is used and refused by the cloud", function()
      local r = cli.run({ "ecs", "--profile", "staging", "--poll-interval", "0.02", env.id("ecs", 1) }, vars(fc))
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("SHUTOFF", fc:server(env.id("ecs", 1)).status)
      r = cli.run({ "ecs", "--poll-interval", "0.02", "--retries", "0", env.id("ecs", 2) }, vars(fc))
      assert.are.equal(3, r.code, r.stderr)
      assert.truthy(r.stderr:find("APIGW.0301", 1, true), r.stderr)
      -- HUAWEICLOUD_SDK_PROFILE does the same.
      local v = vars(fc)
      v.HUAWEICLOUD_SDK_PROFILE = "staging"
      r = cli.run({ "ecs", "--poll-interval", "0.02", env.id("ecs", 2) }, v)
      assert.are.equal(0, r.code, r.stderr)
      for _, out in ipairs({ r.stdout, r.stderr }) do assert.is_nil(out:find(STAGING.sk, 1, true)) end
    end)

    it("--help documents --profile and --debug, each with an example", function()
      local r = cli.run({ "--help" }, {})
      assert.are.equal(0, r.code)
      for _, flag in ipairs({ "--profile", "--debug" }) do
        assert.truthy(r.stdout:find("\n  " .. flag, 1, true), flag .. " is not documented")
        assert.truthy(r.stdout:find("\n +cloud%-stop ecs [^\n]*" .. flag:gsub("%-", "%%-")), flag .. " has no example")
      end
    end)

    it("a missing section: exit 3, naming the file and the section; a bad name: exit 2", function()
      local r = cli.run({ "ecs", "--profile", "stagin", env.id("ecs", 1) }, vars(fc))
      assert.are.equal(3, r.code, r.stderr)
      assert.truthy(r.stderr:find("profile 'stagin': credentials file " .. file .. " has no [stagin] section",
        1, true), r.stderr)
      r = cli.run({ "ecs", "--profile", "a]b", env.id("ecs", 1) }, vars(fc))
      assert.are.equal(2, r.code, r.stderr)
      assert.truthy(r.stderr:find("--profile", 1, true), r.stderr)
      assert.are.equal(0, fc:stats().calls.total)
    end)
  end)
end)
