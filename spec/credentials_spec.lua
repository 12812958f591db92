-- Credentials from options, environment and ~/.huaweicloud/credentials, and cloud.stop_ecs
-- with a client built from them (run in a fresh process with a known environment).
local credentials = require "cloud.auth.credentials"
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
    -- Nothing configured: the metadata service is the last resort, tried at the first call
    -- (here a closed port on loopback, never 169.254.169.254 from a test).
    local out = subprocess.run([[
      local cloud = require "cloud"
      local c = assert(cloud.new{ region = "cn-north-4" })
      local res, err = c:stop_ecs{ ids = { "x" } }
      print(res, err.code, tostring(err))
      local r, err3 = cloud.stop_ecs{ region = "cn-north-4", ids = { "x" } }
      print(r, err3.code)
    ]], { HOME = "/nonexistent", CLOUD_METADATA_ENDPOINT = "http://127.0.0.1:1" })
    assert.truthy(out:find("nil\tcloud.no_credentials\tcloud.no_credentials: no AK/SK; looked in: options: not given; "
      .. "environment: HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK not set; credentials file "
      .. "/nonexistent/.huaweicloud/credentials: none there; metadata service (http://127.0.0.1:1): no answer",
      1, true), out)
    assert.truthy(out:find("nil\tcloud.no_credentials\n", 1, true), out)
  end)

  it("raises for an AK without an SK (or the reverse) passed as options", function()
    local cloud = require "cloud"
    local ok, e = pcall(cloud.new, { region = "cn-north-4", ak = "A" })
    assert.is_false(ok)
    assert.are.equal("sk", e.field)
    e = select(2, pcall(cloud.new, { region = "cn-north-4", sk = "SECRETVALUE" }))
    assert.are.equal("ak", e.field)
    assert.is_nil(tostring(e):find("SECRETVALUE", 1, true))
  end)
end)

describe("where we looked", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/home/.huaweicloud"))
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  local function resolve(e)
    e.HOME = e.HOME or (dir .. "/home")
    return credentials.resolve({}, getenv_from(e))
  end
  local function said(r)
    return table.concat(r.tried.keys, "; ") .. " | " .. table.concat(r.tried.project_id, "; ")
      .. " | " .. table.concat(r.warnings, "; ")
  end

  it("names each source and why it did not serve", function()
    local r = resolve{ HUAWEICLOUD_SDK_AK = "AK" }
    assert.is_nil(r.ak)
    local text = said(r)
    assert.truthy(text:find("options: not given", 1, true), text)
    assert.truthy(text:find("environment: HUAWEICLOUD_SDK_AK set, HUAWEICLOUD_SDK_SK missing", 1, true), text)
    assert.truthy(text:find("credentials file " .. dir .. "/home/.huaweicloud/credentials: none there", 1, true), text)
    assert.truthy(text:find("HUAWEICLOUD_SDK_PROJECT_ID: not set", 1, true), text)
    r = resolve{ HUAWEICLOUD_SDK_SK = "SK" }
    assert.truthy(said(r):find("HUAWEICLOUD_SDK_SK set, HUAWEICLOUD_SDK_AK missing", 1, true))
  end)

  it("says what is wrong with the file at HUAWEICLOUD_SDK_CREDENTIALS_FILE, and warns", function()
    local function file_reason(path)
      local r = resolve{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = path }
      assert.is_nil(r.ak)
      return said(r)
    end
    local text = file_reason(dir .. "/missing")
    assert.truthy(text:find("credentials file " .. dir .. "/missing: not found (the path "
      .. "HUAWEICLOUD_SDK_CREDENTIALS_FILE gives)", 1, true), text)
    assert.truthy(text:find("HUAWEICLOUD_SDK_CREDENTIALS_FILE names " .. dir .. "/missing, which does not exist",
      1, true), text)
    text = file_reason(dir)
    assert.truthy(text:find(dir .. ": is a directory", 1, true), text)
    -- /dev/zero never ends: at most 64 KiB + 1 bytes are read.
    text = file_reason("/dev/zero")
    assert.truthy(text:find("/dev/zero: is larger than 64 KiB", 1, true), text)
    local big = dir .. "/big"
    local f = assert(io.open(big, "w"))
    f:write("[basic]\nak = A\nsk = S\n", ("#"):rep(70000))
    f:close()
    text = file_reason(big)
    assert.truthy(text:find(big .. ": is larger than 64 KiB", 1, true), text)
    local none = dir .. "/nobasic"
    f = assert(io.open(none, "w"))
    f:write("[other]\nak = A\nsk = S\n")
    f:close()
    assert.truthy(file_reason(none):find("has no [basic] section", 1, true))
    f = assert(io.open(none, "w"))
    f:write("[basic]\nak = A\n")
    f:close()
    assert.truthy(file_reason(none):find("[basic] has ak but no sk", 1, true))
    -- Opened but not readable (the process's own memory at address 0); and, when the
    -- specs do not run as root (who reads anything), a file without read permission.
    text = file_reason("/proc/self/mem")
    assert.truthy(text:find("/proc/self/mem: not readable (Input/output error)", 1, true), text)
    local locked = dir .. "/locked"
    f = assert(io.open(locked, "w"))
    f:write("[basic]\nak = A\nsk = S\n")
    f:close()
    os.execute("chmod 000 " .. locked)
    if not io.open(locked, "r") then
      text = file_reason(locked)
      assert.truthy(text:find(locked .. ": not readable (Permission denied)", 1, true), text)
    end
  end)

  it("warns when the credentials file may be read by group or others, as ssh does for keys", function()
    local path = dir .. "/home/.huaweicloud/credentials"
    local f = assert(io.open(path, "w"))
    f:write("[basic]\nak = FILEAK\nsk = FILESK\n")
    f:close()
    os.execute("chmod 644 " .. path)
    local r = resolve{}
    assert.are.equal("FILEAK", r.ak)
    assert.are.equal(1, #r.warnings)
    assert.truthy(r.warnings[1]:find(path .. " is readable by group or others (mode 644)", 1, true), r.warnings[1])
    os.execute("chmod 640 " .. path)
    assert.are.equal(1, #resolve{}.warnings)
    os.execute("chmod 600 " .. path)
    assert.are.equal(0, #resolve{}.warnings)
    -- The warning reaches the logger, as a warning.
    os.execute("chmod 604 " .. path)
    local seen = {}
    local getenv = os.getenv
    os.getenv = function(k) if k == "HOME" then return dir .. "/home" end if k:match("^HUAWEICLOUD_") then return nil end return getenv(k) end -- luacheck: ignore
    local ok, c = pcall(require("cloud").new, { region = "cn-north-4", project_id = "0123456789abcdef0123456789abcdef",
      logger = function(line, level) seen[#seen + 1] = level .. ": " .. line end })
    os.getenv = getenv -- luacheck: ignore
    assert(ok, c)
    c:close()
    assert.are.equal(1, #seen)
    assert.truthy(seen[1]:find("^warning: credentials: " .. path:gsub("%p", "%%%0") .. " is readable"), seen[1])
  end)

  it("a half-set environment does not stop the file from serving, with a warning", function()
    local path = dir .. "/home/.huaweicloud/credentials"
    local f = assert(io.open(path, "w"))
    f:write("[basic]\nak = FILEAK\nsk = FILESK\n")
    f:close()
    os.execute("chmod 600 " .. path)
    local r = resolve{ HUAWEICLOUD_SDK_AK = "ENVAK" }
    assert.are.equal("FILEAK", r.ak)
    assert.are.equal("FILESK", r.sk)
    assert.truthy(table.concat(r.warnings):find(
      "HUAWEICLOUD_SDK_AK set, HUAWEICLOUD_SDK_SK missing; using the keys of the file", 1, true))
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

-- Off an ECS instance the metadata fallback is a request to 169.254.169.254 that nobody
-- answers; metadata_fallback = false (or CLOUD_METADATA_FALLBACK=off) turns it off.
describe("the metadata fallback turned off", function()
  local fc
  setup(function() fc = env.start{ job_duration = 0.02, metadata = {} } end)
  teardown(function() fc:stop() end)
  before_each(function() assert(fc:reset()) end)

  -- In a fresh process with nothing configured but the region and a metadata service
  -- that would answer (the emulator's): prints what cloud.new and a stop returned.
  local function attempt(opts_text, vars)
    local e = { HOME = "/nonexistent", CLOUD_METADATA_ENDPOINT = fc.url,
                HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4 = fc.url, HUAWEICLOUD_SDK_IAM_ENDPOINT = fc.url }
    for k, v in pairs(vars or {}) do e[k] = v end
    return subprocess.run(([[
      local cloud = require "cloud"
      local c, err = cloud.new{ region = "cn-north-4", %s }
      print("new", c ~= nil, err and err.code, err and tostring(err))
      if c then
        local res, serr = c:stop_ecs{ ids = { %q }, poll_interval = 0.02 }
        print("stop", res and res.ok, serr and serr.code)
      end
    ]]):format(opts_text, env.id("ecs", 1)), e, 60)
  end

  local function asked(st) return st.metadata.token_calls + st.metadata.key_calls end

  it("cloud.new says no credentials at once, naming the switch, and asks nothing", function()
    for _, case in ipairs({
      { "metadata_fallback = false", {}, "metadata_fallback = false" },
      { "", { CLOUD_METADATA_FALLBACK = "off" }, "CLOUD_METADATA_FALLBACK=off" },
      { "", { CLOUD_METADATA_FALLBACK = "0" }, "CLOUD_METADATA_FALLBACK=0" },
      -- The option wins over the variable.
      { "metadata_fallback = false", { CLOUD_METADATA_FALLBACK = "on" }, "metadata_fallback = false" },
    }) do
      local out = attempt(case[1], case[2])
      assert.truthy(out:find("new\tfalse\tcloud.no_credentials\tcloud.no_credentials: no AK/SK; looked in: "
        .. "options: not given; environment: HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK not set; credentials "
        .. "file /nonexistent/.huaweicloud/credentials: none there; metadata service: not asked ("
        .. case[3] .. ")\n", 1, true), out)
      assert.are.equal(0, asked(fc:stats()), case[3])
    end
  end)

  it("left on (the default, or said so), the same set-up gets its keys from the metadata service", function()
    for _, case in ipairs({ { "", {} }, { "", { CLOUD_METADATA_FALLBACK = "on" } },
                            { "metadata_fallback = true", { CLOUD_METADATA_FALLBACK = "off" } } }) do
      assert(fc:reset())
      local out = attempt(case[1], case[2])
      assert.truthy(out:find("new\ttrue\tnil\tnil\nstop\ttrue\tnil\n", 1, true), out)
      assert.truthy(asked(fc:stats()) > 0)
    end
  end)

  it("credentials = \"metadata\" asks for it by name, whatever the variable says", function()
    local out = attempt('credentials = "metadata"', { CLOUD_METADATA_FALLBACK = "off" })
    assert.truthy(out:find("new\ttrue\tnil\tnil\nstop\ttrue\tnil\n", 1, true), out)
    assert.truthy(asked(fc:stats()) > 0)
  end)

  it("a variable that is neither on nor off is a setup error naming it; a bad option raises", function()
    local out = attempt("", { CLOUD_METADATA_FALLBACK = "maybe" })
    assert.truthy(out:find("new\tfalse\tcloud.bad_environment\tcloud.bad_environment: "
      .. "CLOUD_METADATA_FALLBACK is 'maybe'; give on or off\n", 1, true), out)
    assert.are.equal(0, asked(fc:stats()))
    local ok, e = pcall(require("cloud").new, { region = "cn-north-4", ak = "a", sk = "b", metadata_fallback = "no" })
    assert.is_false(ok)
    assert.are.equal("metadata_fallback", e.field)
  end)
end)
