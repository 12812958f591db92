-- Regions: the catalogue of the official SDKs for ECS and BMS, an unknown region refused
-- with the nearest names suggested, a malformed one raised at the caller's line, and any
-- well-formed one accepted with an explicit endpoint (private clouds on the same APIs).
local cloud = require "cloud"
local errors = require "cloud.errors"
local regions = require "cloud.auth.regions"

local THIS_FILE = debug.getinfo(1, "S").short_src
local function here() return debug.getinfo(2, "l").currentline end

-- No variable of the environment may choose for these specs.
local function with_env(vars, fn)
  local getenv = os.getenv
  os.getenv = function(k) -- luacheck: ignore
    if vars[k] ~= nil then return vars[k] or nil end
    if k:match("^HUAWEICLOUD_") or k == "HOME" or k:match("^CLOUD_METADATA_") then return nil end
    return getenv(k)
  end
  local ok, a, b = pcall(fn)
  os.getenv = getenv -- luacheck: ignore
  if not ok then error(a, 0) end
  return a, b
end

local function new(opts)
  return with_env({}, function() return cloud.new(opts) end)
end

describe("regions", function()
  it("lists the SDKs' regions for ECS and for BMS", function()
    local ecs, bms = cloud.regions("ecs"), cloud.regions("bms")
    assert.are.equal(33, #ecs)
    assert.are.equal(28, #bms)
    local function has(list, r)
      for _, x in ipairs(list) do if x == r then return true end end
      return false
    end
    for _, r in ipairs({ "cn-north-4", "ap-southeast-1", "eu-west-101", "tr-west-1", "cn-north-11" }) do
      assert.is_true(has(ecs, r), r)
    end
    assert.is_false(has(bms, "eu-west-101"))
    assert.is_false(has(bms, "af-north-1"))
    assert.is_true(has(bms, "ru-northwest-2"))
    assert.is_false(has(ecs, "ru-northwest-2"))
    for i = 2, #ecs do assert.is_true(ecs[i - 1] < ecs[i]) end
    ecs[1] = "changed" -- a copy: the catalogue stays as it is
    assert.are_not.equal("changed", cloud.regions("ecs")[1])
    local ok, e = pcall(cloud.regions, "vpc")
    assert.is_false(ok)
    assert.are.equal("argument", errors.kind(e))
  end)

  it("refuses an unknown region with the nearest known names, before any request", function()
    local c, err = new{ region = "cn-nort-4", ak = "a", sk = "b" }
    assert.is_nil(c)
    assert.are.equal("cloud.unknown_region", err.code)
    assert.are.equal("config", err.kind)
    assert.truthy(err.message:find("did you mean cn-north-4?", 1, true), err.message)
    err = select(2, new{ region = "ap-southeast-l", ak = "a", sk = "b" })
    assert.truthy(err.message:find("ap-southeast-1", 1, true), err.message)
    -- Nothing near: no suggestion, still where to look.
    err = select(2, new{ region = "mars-1", ak = "a", sk = "b" })
    assert.are.equal("cloud.unknown_region", err.code)
    assert.is_nil(err.message:find("did you mean", 1, true))
    assert.truthy(err.message:find('cloud.regions("ecs")', 1, true))
    -- From the environment too.
    c, err = with_env({ HUAWEICLOUD_SDK_REGION = "cn-nort-4" }, function() return cloud.new{ ak = "a", sk = "b" } end)
    assert.is_nil(c)
    assert.are.equal("cloud.unknown_region", err.code)
  end)

  it("raises for a region that is not lower-case letters, digits and '-', at the caller's line", function()
    for _, r in ipairs({ "evil.example/x", "cn north 4", "cn-north-4\r\nX-Evil: 1", "cn-north-4\n", "CN-NORTH-4",
                         "localhost:18443", "-cn", "cn-" }) do
      local line = here() + 1
      local ok, e = pcall(cloud.new, { region = r, ak = "a", sk = "b", endpoints = { ecs = "https://127.0.0.1:9" } })
      assert.is_false(ok, r)
      assert.are.equal("argument", errors.kind(e), r)
      assert.are.equal("region", e.field)
      assert.are.equal(THIS_FILE .. ":" .. line .. ": ", tostring(e):sub(1, #THIS_FILE + #tostring(line) + 3))
    end
  end)

  it("accepts any well-formed region with an explicit endpoint, for that service only", function()
    local c = assert(new{ region = "my-private-1", ak = "a", sk = "b", project_id = "0123456789abcdef0123456789abcdef",
                          endpoints = { ecs = "https://127.0.0.1:9" } })
    assert.is_true(c:has_service("ecs"))
    assert.is_false(c:has_service("bms"))
    local res, err = c:stop_bms{ ids = { "x" } }
    assert.is_nil(res)
    assert.are.equal("cloud.no_endpoint", err.code)
    c:close()
    -- The SDKs' per-service variable counts as explicit too.
    c = assert(with_env({ HUAWEICLOUD_SDK_REGION_BMS_MY_PRIVATE_1 = "https://127.0.0.1:10" },
      function()
        return cloud.new{ region = "my-private-1", ak = "a", sk = "b", project_id = "0123456789abcdef0123456789abcdef" }
      end))
    assert.is_true(c:has_service("bms"))
    c:close()
  end)

  it("gives a service only the regions where the SDKs offer it", function()
    local c = assert(new{ region = "ru-northwest-2", ak = "a", sk = "b",
                          project_id = "0123456789abcdef0123456789abcdef" })
    assert.is_true(c:has_service("bms"))
    assert.is_false(c:has_service("ecs"))
    c:close()
    c = assert(new{ region = "eu-west-101", ak = "a", sk = "b", project_id = "0123456789abcdef0123456789abcdef" })
    assert.is_true(c:has_service("ecs"))
    assert.is_false(c:has_service("bms"))
    c:close()
  end)

  it("takes IAM from endpoints.iam, then HUAWEICLOUD_SDK_IAM_ENDPOINT, then the SDKs' table", function()
    assert.are.equal("https://iam.cn-north-4.myhuaweicloud.com", regions.iam_endpoint("cn-north-4"))
    -- An EU region has its own IAM host, under the EU domain, not the global one.
    local eu = regions.iam_endpoint("eu-west-101")
    assert.are_not.equal(regions.iam_endpoint("my-private-1"), eu)
    assert.truthy(eu:find(".eu-west-101.", 1, true) and eu:match("%.eu$"), eu)
    -- Regions outside the SDKs' IAM table, and private ones, use the global endpoint.
    assert.are.equal("https://iam.myhuaweicloud.com", regions.iam_endpoint("cn-north-11"))
    assert.are.equal("https://iam.myhuaweicloud.com", regions.iam_endpoint("my-private-1"))
    local function iam(vars, opts)
      local c = assert(with_env(vars, function() return cloud.new(opts) end))
      local url = c:describe("iam").endpoint
      c:close()
      return url
    end
    local base = { region = "eu-west-101", ak = "a", sk = "b" }
    assert.are.equal(eu, iam({}, base))
    assert.are.equal("https://127.0.0.1:11",
      iam({ HUAWEICLOUD_SDK_IAM_ENDPOINT = "https://127.0.0.1:11" }, base))
    assert.are.equal("https://127.0.0.1:12", iam({ HUAWEICLOUD_SDK_IAM_ENDPOINT = "https://127.0.0.1:11" },
      { region = "eu-west-101", ak = "a", sk = "b", endpoints = { iam = "https://127.0.0.1:12" } }))
    -- A bad one from the environment is the setup's: returned, naming the variable.
    local c, err = with_env({ HUAWEICLOUD_SDK_IAM_ENDPOINT = "iam.example" }, function() return cloud.new(base) end)
    assert.is_nil(c)
    assert.are.equal("cloud.bad_environment", err.code)
    assert.truthy(err.message:find("HUAWEICLOUD_SDK_IAM_ENDPOINT", 1, true), err.message)
  end)

  it("suggests by edit distance, only what is close", function()
    assert.are.equal(1, regions.distance("cn-nort-4", "cn-north-4"))
    assert.are.equal(0, regions.distance("", ""))
    assert.are.equal(3, regions.distance("abc", ""))
    assert.same({ "cn-north-4" }, regions.suggest("cn-nort-4"))
    assert.same({ "cn-north-4" }, regions.suggest("cn-north4"))
    assert.same({}, regions.suggest("x"))
  end)
end)
