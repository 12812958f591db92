-- Credentials from options, environment and ~/.huaweicloud/credentials, and cloud.stop_ecs
-- with a client built from them (run in a fresh process with a known environment).
local credentials = require "cloud.credentials"
local subprocess = require "support.subprocess"
local env = require "support.cloudenv"
local cjson = require "cjson"

local function getenv_from(t) return function(k) return t[k] end end

local function write_file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("credential lookup", function()
  it("prefers explicit options, then the environment, then the file", function()
    local file = write_file("[other]\nak = NO\n[basic]\nak = FILEAK\nsk = FILESK\nproject_id = fileproj\n")
    local e = { HUAWEICLOUD_SDK_CREDENTIALS_FILE = file }
    local r = credentials.resolve({}, getenv_from(e))
    assert.are.same({ "FILEAK", "FILESK", "fileproj" }, { r.ak, r.sk, r.project_id })
    e.HUAWEICLOUD_SDK_AK, e.HUAWEICLOUD_SDK_SK = "ENVAK", "ENVSK"
    e.HUAWEICLOUD_SDK_PROJECT_ID, e.HUAWEICLOUD_SDK_REGION = "envproj", "cn-north-4"
    r = credentials.resolve({}, getenv_from(e))
    assert.are.same({ "ENVAK", "ENVSK", "envproj", "cn-north-4" }, { r.ak, r.sk, r.project_id, r.region })
    r = credentials.resolve({ ak = "OPTAK", sk = "OPTSK", project_id = "optproj" }, getenv_from(e))
    assert.are.same({ "OPTAK", "OPTSK", "optproj" }, { r.ak, r.sk, r.project_id })
    os.remove(file)
  end)

  it("never mixes an explicit AK with a secret key from elsewhere", function()
    local r = credentials.resolve({ ak = "OPTAK" }, getenv_from{ HUAWEICLOUD_SDK_SK = "ENVSK" })
    assert.is_nil(r.sk)
  end)

  it("gives nil, err (with a readable tostring) when there is nothing to use", function()
    local out = subprocess.run([[
      local cloud = require "cloud"
      local c, err = cloud.new{ region = "cn-north-4" }
      print(c, err.code, tostring(err))
      local c2, err2 = cloud.new{ region = "cn-north-4", ak = "A", sk = "SECRETVALUE" }
      print(c2, err2.code, tostring(err2))
      local r, err3 = cloud.stop_ecs{ ids = { "x" } }
      print(r, err3.code)
    ]], { HOME = "/nonexistent" })
    assert.truthy(out:find("nil\tcloud.no_credentials\tcloud.no_credentials: no AK/SK", 1, true), out)
    assert.truthy(out:find("nil\tcloud.no_project_id", 1, true), out)
    assert.truthy(out:find("nil\tcloud.no_credentials\n", 1, true), out)
    assert.is_nil(out:find("SECRETVALUE", 1, true))
  end)
end)

describe("cloud.stop_ecs from the environment", function()
  local fc
  setup(function() fc = env.start{ job_duration = 0.02 } end)
  teardown(function() fc:stop() end)

  local code = [[
    local cloud = require "cloud"
    local res, err = cloud.stop_ecs{ region = "cn-north-4", ids = { ID }, poll_interval = 0.02 }
    assert(res, tostring(err))
    print(require("cjson").encode(res))
  ]]

  it("reads AK, SK, project id and the endpoint override from HUAWEICLOUD_SDK_*", function()
    local out = subprocess.run(code:gsub("ID", ("%q"):format(env.id("ecs", 1))), {
      HOME = "/nonexistent",
      HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk, HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id,
      HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4 = fc.url,
    })
    local res = cjson.decode(out:match("{.*}") or error(out))
    assert.is_true(res.ok)
    assert.are.same({ env.id("ecs", 1) }, res.stopped)
  end)

  it("reads them from the credentials file", function()
    local file = write_file(("[basic]\nak = %s\nsk = %s\nproject_id = %s\n"):format(fc.ak, fc.sk, fc.project_id))
    local out = subprocess.run(code:gsub("ID", ("%q"):format(env.id("ecs", 2))), {
      HOME = "/nonexistent", HUAWEICLOUD_SDK_CREDENTIALS_FILE = file,
      HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4 = fc.url,
    })
    os.remove(file)
    local res = cjson.decode(out:match("{.*}") or error(out))
    assert.is_true(res.ok)
    assert.is_nil(out:find(fc.sk, 1, true))
  end)
end)
